"""The Goal aggregate: a target for one of the team's KPIs, with a deadline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.errors import InvalidInputError, InvalidStateError


class GoalMetric(StrEnum):
    """KPIs a goal can target; `LOWER_IS_BETTER` says which way progress runs."""

    GRR = "grr"
    NRR = "nrr"
    GREEN_ARR_SHARE = "green_arr_share"
    REVENUE_AT_RISK_180 = "revenue_at_risk_180"
    REVENUE_WEIGHTED_HEALTH = "revenue_weighted_health"
    REVENUE_WEIGHTED_CSAT = "revenue_weighted_csat"
    REVENUE_WEIGHTED_SLA = "revenue_weighted_sla"


LOWER_IS_BETTER = frozenset({GoalMetric.REVENUE_AT_RISK_180})
RATIO_METRICS = frozenset(GoalMetric) - {GoalMetric.REVENUE_AT_RISK_180,
                                         GoalMetric.REVENUE_WEIGHTED_HEALTH}


class Goal(Aggregate):
    TOPIC = "carelog:Goal"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Goal.Created"

    @event("Set", topic="carelog:Goal.Set")
    def __init__(self, id: UUID, title: str, metric: str, target: Decimal, deadline: date,
                 owner: str, occurred_at: datetime, actor: str) -> None:
        self.metric = metric
        self.target = target
        self.deadline = deadline
        self.cancelled = False

    @staticmethod
    def check(metric: str, target: Decimal, deadline: date, at: datetime) -> None:
        if not target.is_finite():
            raise InvalidInputError("a goal's target must be a finite number")
        if GoalMetric(metric) in RATIO_METRICS and not 0 <= target <= 2:
            raise InvalidInputError(f"{metric} is a ratio: give the target as 0.95, not 95")
        if GoalMetric(metric) == GoalMetric.REVENUE_WEIGHTED_HEALTH and not 0 <= target <= 100:
            raise InvalidInputError("a health target is between 0 and 100")
        if target < 0:
            raise InvalidInputError("a goal's target must not be negative")
        if deadline <= at.date():
            raise InvalidInputError("a goal's deadline must be in the future")

    def revise(self, target: Decimal, deadline: date, occurred_at: datetime, actor: str) -> None:
        self._check_open()
        self.check(self.metric, target, deadline, occurred_at)
        self._revise(target, deadline, occurred_at, actor)

    def cancel(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self._check_open()
        self._cancel(clean_name(reason, "reason", 2000), occurred_at, actor)

    def _check_open(self) -> None:
        if self.cancelled:
            raise InvalidStateError("the goal has been cancelled")

    @event("Revised", topic="carelog:Goal.Revised")
    def _revise(self, target: Decimal, deadline: date, occurred_at: datetime, actor: str) -> None:
        self.target = target
        self.deadline = deadline

    @event("Cancelled", topic="carelog:Goal.Cancelled")
    def _cancel(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.cancelled = True
