"""GraphQL types of key-account health, the portfolio and the revenue KPIs.

Health explanations are stored as JSON by the `account_health` projection and turned into
types only for the fields a query asks for.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry

from api.graphql.types import Money, RenewalLikelihood, RenewalRisk, Sentiment, Tier
from domain import values
from projections.portfolio import AccountFigures, Kpis
from projections.revenue_math import Flows, Weighted


@strawberry.enum
class HealthBand(Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


@strawberry.enum
class Trend(Enum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"


def _band(value: str | None) -> HealthBand | None:
    return None if value is None else HealthBand(value)


@strawberry.type(description="One measured input of a component; evidence = log positions.")
class SubMetric:
    key: str
    name: str
    raw: float | None
    window: str
    score: float | None
    evidence: list[str]


@strawberry.type
class HealthComponent:
    key: str
    name: str
    weight: float
    effective_weight: float = strawberry.field(
        description="Percent of the weight of the components that have data.")
    score: float | None
    contribution: float
    points_lost: float
    sub_metrics: list[SubMetric]

    @classmethod
    def of(cls, c: dict[str, Any]) -> HealthComponent:
        return cls(key=c["key"], name=c["name"], weight=c["weight"],
                   effective_weight=c["effective_weight"], score=c["score"],
                   contribution=c["contribution"], points_lost=c["points_lost"],
                   sub_metrics=[SubMetric(**m) for m in c["sub_metrics"]])


@strawberry.type(description="What costs the account most points, with the events behind it.")
class HealthDriver:
    key: str
    name: str
    points_lost: float
    evidence: list[str]


@strawberry.type(description="An active cap on the score and the event that raised it.")
class HealthGate:
    key: str
    cap: float
    reason: str
    evidence: str
    since: datetime
    actor: str | None
    binding: bool


@strawberry.type
class ComponentChange:
    key: str
    name: str
    score_effect: float
    renormalisation_effect: float


@strawberry.type(description="Exact decomposition: component effects + gate effect = value "
                             "delta; + rounding effect = score delta.")
class HealthChange:
    value_delta: float
    score_delta: int
    components: list[ComponentChange]
    gate_effect: float
    rounding_effect: float


@strawberry.type
class HealthClose:
    day: date
    score: int
    band: HealthBand
    confirmed_band: HealthBand
    gated: bool
    model_version: int


@strawberry.type
class AccountHealth:
    score: int
    band: HealthBand = strawberry.field(description="The band of today's score.")
    confirmed_band: HealthBand = strawberry.field(
        description="The band after hysteresis: a change holds two daily closes, unless a gate "
                    "or a drop of 10 points makes it at once.")
    coverage: float
    provisional: bool = strawberry.field(
        description="Too little data (coverage below the model's floor): the band is grey.")
    profile: str
    model_version: int
    as_of: datetime
    delta7: int | None
    delta30: int | None
    trend: Trend
    sentiment: Sentiment | None = strawberry.field(
        description="The manager's own reading, shown beside the score, never blended in.")
    disagreement: bool = strawberry.field(
        description="The manager's reading and the confirmed band are two levels apart.")
    renewal_on: date | None
    renewal_risk: RenewalRisk
    renewal_likelihood: RenewalLikelihood | None
    account_id: strawberry.Private[str]
    explanation: strawberry.Private[dict[str, Any]]
    change: strawberry.Private[dict[str, Any]]
    source: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: dict[str, Any], source: Any) -> AccountHealth:
        explanation = json.loads(row["explanation"])
        return cls(
            score=row["score"], band=HealthBand(row["band"]),
            confirmed_band=HealthBand(row["confirmed_band"]),
            coverage=float(row["coverage"]), provisional=row["band"] == "grey",
            profile=explanation["profile"], model_version=row["model_version"],
            as_of=row["as_of"], delta7=row["delta7"], delta30=row["delta30"],
            trend=Trend(row["arrow"]),
            sentiment=values.Sentiment(row["sentiment"]) if row["sentiment"] else None,
            disagreement=bool(row["disagreement"]),
            renewal_on=date.fromisoformat(row["renewal_on"]) if row["renewal_on"] else None,
            renewal_risk=values.RenewalRisk(row["renewal_risk"]),
            renewal_likelihood=(values.RenewalLikelihood(row["renewal_likelihood"])
                                if row["renewal_likelihood"] else None),
            account_id=row["account_id"], explanation=explanation,
            change=json.loads(row["change7"]), source=source)

    @strawberry.field(description="The six components with contributions and points lost.")
    def components(self) -> list[HealthComponent]:
        return [HealthComponent.of(c) for c in self.explanation["components"]]

    @strawberry.field(description="The three components losing the most points.")
    def drivers(self) -> list[HealthDriver]:
        return [HealthDriver(**d) for d in self.explanation["top_drivers"]]

    @strawberry.field
    def gates(self) -> list[HealthGate]:
        return [HealthGate(**{**g, "since": datetime.fromisoformat(g["since"])})
                for g in self.explanation["gates"]]

    @strawberry.field(description="What changed since the close a week before, exactly.")
    def change_since_week_ago(self) -> HealthChange:
        c = self.change
        return HealthChange(
            value_delta=c["value_delta"], score_delta=c["score_delta"],
            components=[ComponentChange(**x) for x in c["components"]],
            gate_effect=c["gate_effect"], rounding_effect=c["rounding_effect"])

    @strawberry.field(description="Daily closes, oldest first.")
    async def history(self, days: int = 90) -> list[HealthClose]:
        rows = await self.source.read(self.source.health.closes, self.account_id, days)
        return [HealthClose(day=date.fromisoformat(r["day"]), score=r["score"],
                            band=HealthBand(r["band"]),
                            confirmed_band=HealthBand(r["confirmed_band"]),
                            gated=bool(r["gated"]), model_version=r["model_version"])
                for r in rows]


@strawberry.type
class PortfolioEntry:
    rank: int
    account_id: UUID
    name: str
    owner: str = strawberry.field(description="The account's manager.")
    tier: Tier
    score: int | None
    band: HealthBand | None
    confirmed_band: HealthBand | None
    delta7: int | None
    delta30: int | None
    trend: Trend | None
    renewal_on: date | None
    renewal_risk: RenewalRisk | None
    disagreement: bool
    arr: Money = strawberry.field(description="ARR in the reporting currency.")
    revenue_at_risk: Money = strawberry.field(
        description="The ARR if the confirmed band is red and the renewal is within 180 days "
                    "(or has no date on record), else 0.")

    @classmethod
    def from_row(cls, r: dict[str, Any], currency: str, as_of: date) -> PortfolioEntry:
        renewal = date.fromisoformat(r["renewal_on"]) if r["renewal_on"] else None
        red = r["confirmed_band"] == "red"
        soon = renewal is None or (renewal - as_of).days <= 180
        arr = Money.of(r["arr_reporting_cents"], currency)
        return cls(
            rank=r["rank"], account_id=UUID(r["id"]), name=r["name"], owner=r["manager"],
            tier=values.Tier(r["tier"]), score=r["score"], band=_band(r["band"]),
            confirmed_band=_band(r["confirmed_band"]), delta7=r["delta7"],
            delta30=r["delta30"], trend=Trend(r["arrow"]) if r["arrow"] else None,
            renewal_on=renewal,
            renewal_risk=values.RenewalRisk(r["renewal_risk"]) if r["renewal_risk"] else None,
            disagreement=bool(r["disagreement"]), arr=arr,
            revenue_at_risk=arr if red and soon else Money.of(0, currency))


def _ratio(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@strawberry.type
class ArrFlows:
    new: Money
    resurrection: Money
    expansion: Money
    contraction: Money
    churn: Money

    @classmethod
    def of(cls, flows: Flows, currency: str) -> ArrFlows:
        return cls(**{f: Money(amount=getattr(flows, f), currency=currency)
                      for f in ("new", "resurrection", "expansion", "contraction", "churn")})


@strawberry.type
class WaterfallStep:
    period: str
    opening: Money
    flows: ArrFlows
    closing: Money


@strawberry.type(description="A revenue-weighted mean and the share of ARR it covers.")
class RevenueWeighted:
    value: float | None
    accounts: int
    coverage: float | None

    @classmethod
    def of(cls, w: Weighted) -> RevenueWeighted:
        return cls(value=_ratio(w.value), accounts=w.accounts, coverage=_ratio(w.coverage))


@strawberry.type
class BandShare:
    band: HealthBand
    share: float


@strawberry.type(description="Accounts of one confirmed band on one day, and their ARR then.")
class BandDay:
    band: HealthBand
    accounts: int
    arr: Money


@strawberry.type
class PortfolioHealthDay:
    day: date
    bands: list[BandDay]


@strawberry.type(description="Revenue-based Care KPIs over the key accounts for a period.")
class KpiReport:
    start: date
    end: date
    key_accounts: int
    arr: Money
    starting_arr: Money
    grr: float | None = strawberry.field(
        description="(start - contraction - churn) / start for the start cohort, capped at 1.")
    nrr: float | None = strawberry.field(
        description="The start cohort's ARR at the end / its ARR at the start.")
    logo_churn: float | None
    movements: ArrFlows = strawberry.field(
        description="Period-end comparison per account (new logos outside the ratios).")
    waterfall: list[WaterfallStep] = strawberry.field(
        description="Month-to-month gross flows.")
    revenue_at_risk_90: Money
    revenue_at_risk_180: Money
    red_arr: Money
    red_arr_without_renewal_date: Money
    watch_arr: Money = strawberry.field(description="Yellow ARR.")
    share_of_arr_by_band: list[BandShare]
    revenue_weighted_health: RevenueWeighted
    revenue_weighted_csat: RevenueWeighted
    revenue_weighted_sla_attainment: RevenueWeighted
    tickets_per_100k_arr: float | None = strawberry.field(
        description="Tickets opened in the last 90 days per 100k of ARR.")
    cost_to_serve: Money = strawberry.field(
        description="Proxy: tickets of the last 90 days x cost per ticket by priority and "
                    "channel.")
    cost_to_serve_ratio: float | None

    @classmethod
    def of(cls, k: Kpis, currency: str) -> KpiReport:
        def money(amount: Decimal) -> Money:
            return Money(amount=amount, currency=currency)

        r, risk = k.retention, k.at_risk
        return cls(
            start=k.start, end=k.end, key_accounts=k.key_accounts, arr=money(k.arr),
            starting_arr=money(r.starting_arr), grr=_ratio(r.grr), nrr=_ratio(r.nrr),
            logo_churn=_ratio(r.logo_churn), movements=ArrFlows.of(r.flows, currency),
            waterfall=[WaterfallStep(period=s.period, opening=money(s.opening),
                                     flows=ArrFlows.of(s.flows, currency),
                                     closing=money(s.closing)) for s in k.waterfall.steps],
            revenue_at_risk_90=money(risk.by_horizon[90]),
            revenue_at_risk_180=money(risk.by_horizon[180]),
            red_arr=money(risk.all_red), red_arr_without_renewal_date=money(
                risk.no_renewal_date), watch_arr=money(risk.watch),
            share_of_arr_by_band=[BandShare(band=HealthBand(b), share=float(v))
                                  for b, v in (k.share_by_band or {}).items()],
            revenue_weighted_health=RevenueWeighted.of(k.weighted_health),
            revenue_weighted_csat=RevenueWeighted.of(k.weighted_csat),
            revenue_weighted_sla_attainment=RevenueWeighted.of(k.weighted_sla),
            tickets_per_100k_arr=_ratio(k.ticket_intensity),
            cost_to_serve=money(k.cost_to_serve), cost_to_serve_ratio=_ratio(k.cost_ratio))



@strawberry.type(description="One account's revenue figures over the 12 months to the time asked.")
class AccountKpis:
    arr: Money
    arr_year_ago: Money
    movement: str = strawberry.field(
        description="new, expansion, contraction, churn, resurrection, flat or none.")
    tickets_90d: int
    tickets_per_100k_arr: float | None
    csat: float | None = strawberry.field(description="Share of 4-5 ratings, last 90 days.")
    csat_responses: int
    sla_attainment: float | None = strawberry.field(
        description="1 - priority-weighted breach rate over 90 days.")
    cost_to_serve: Money
    cost_to_serve_ratio: float | None

    @classmethod
    def of(cls, f: AccountFigures, currency: str) -> AccountKpis:
        return cls(
            arr=Money(amount=f.arr, currency=currency),
            arr_year_ago=Money(amount=f.arr_year_ago, currency=currency),
            movement=str(f.movement), tickets_90d=f.tickets_90d,
            tickets_per_100k_arr=_ratio(f.tickets_per_100k_arr), csat=_ratio(f.csat),
            csat_responses=f.csat_responses, sla_attainment=_ratio(f.sla_attainment),
            cost_to_serve=Money(amount=f.cost_to_serve, currency=currency),
            cost_to_serve_ratio=_ratio(f.cost_ratio))
