"""GraphQL types of health alerts and KPI goals."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import strawberry

from api.graphql.health import HealthBand, HealthDriver
from domain.alert import AlertKind, AlertStatus
from domain.goal import LOWER_IS_BETTER, GoalMetric
from projections.portfolio import Kpis

# The domain's enumerations are the GraphQL enums (registered in place, named as in Python).
strawberry.enum(AlertKind)
strawberry.enum(AlertStatus)


@strawberry.type(description="A key account's health fell; its manager acknowledges and "
                             "resolves it.")
class HealthAlert:
    id: UUID
    account_id: UUID
    manager: str
    kind: AlertKind
    day: date
    score_before: int | None
    score_after: int
    band_before: HealthBand
    band_after: HealthBand
    drivers: list[HealthDriver]
    model_version: int
    status: AlertStatus
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> HealthAlert:
        return cls(
            id=UUID(r["id"]), account_id=UUID(r["account_id"]), manager=r["manager"],
            kind=AlertKind(r["kind"]), day=date.fromisoformat(r["day"]),
            score_before=r["score_before"], score_after=r["score_after"],
            band_before=HealthBand(r["band_before"]), band_after=HealthBand(r["band_after"]),
            drivers=[HealthDriver(**d) for d in json.loads(r["drivers"])],
            model_version=r["model_version"], status=AlertStatus(r["status"]),
            raised_at=r["raised_at"], acknowledged_at=r["acknowledged_at"],
            acknowledged_by=r["acknowledged_by"], resolved_at=r["resolved_at"],
            resolved_by=r["resolved_by"], note=r["note"])


def metric_value(metric: str, kpis: Kpis) -> Decimal | None:
    """The current value of a goal's metric, in the goal's units."""
    match GoalMetric(metric):
        case GoalMetric.GRR:
            return kpis.retention.grr
        case GoalMetric.NRR:
            return kpis.retention.nrr
        case GoalMetric.GREEN_ARR_SHARE:
            return (kpis.share_by_band or {}).get("green")
        case GoalMetric.REVENUE_AT_RISK_180:
            return kpis.at_risk.by_horizon[180]
        case GoalMetric.REVENUE_WEIGHTED_HEALTH:
            return kpis.weighted_health.value
        case GoalMetric.REVENUE_WEIGHTED_CSAT:
            return kpis.weighted_csat.value
        case GoalMetric.REVENUE_WEIGHTED_SLA:
            return kpis.weighted_sla.value


@strawberry.type(description="A target for one KPI with a deadline, and how far it has come.")
class Goal:
    id: UUID
    title: str
    metric: GoalMetric
    target: Decimal
    deadline: date
    owner: str
    status: str
    set_at: datetime
    set_by: str
    current: Decimal | None = strawberry.field(description="The metric now.")
    progress: float | None = strawberry.field(
        description="Share of the target reached (1 = met); for revenue at risk, target / now.")
    on_track: bool | None = strawberry.field(
        description="Progress is at least the share of the time to the deadline gone by.")

    @classmethod
    def from_row(cls, r: dict[str, Any], kpis: Kpis, today: date) -> Goal:
        target = Decimal(r["target"])
        current = metric_value(r["metric"], kpis)
        progress = _progress(r["metric"], current, target)
        deadline = date.fromisoformat(r["deadline"])
        set_day = r["set_at"].date()
        span = max((deadline - set_day).days, 1)
        elapsed = min(max((today - set_day).days / span, 0.0), 1.0)
        return cls(id=UUID(r["id"]), title=r["title"], metric=GoalMetric(r["metric"]),
                   target=target, deadline=deadline, owner=r["owner"], status=r["status"],
                   set_at=r["set_at"], set_by=r["set_by"], current=current,
                   progress=progress, on_track=None if progress is None else (
                       progress >= 1 or progress >= elapsed))


def _progress(metric: str, current: Decimal | None, target: Decimal) -> float | None:
    if current is None:
        return None
    if GoalMetric(metric) in LOWER_IS_BETTER:
        return 1.0 if current <= target else float(target / current)
    if target == 0:
        return 1.0
    return min(float(current / target), 1.0)
