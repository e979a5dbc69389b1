"""GraphQL object types, each built from a view row by `from_row`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

import strawberry

from domain import feedback, values
from projections.money import from_cents

# The domain's enumerations are the GraphQL enums (registered in place, named as in Python).
for _enum in (values.Channel, values.Direction, values.Tier, values.Priority,
              values.CaseStatus, values.ContactRole, values.TouchpointKind, values.RenewalRisk,
              values.RenewalLikelihood, values.Sentiment, feedback.FeedbackStatus):
    strawberry.enum(_enum)
Channel = values.Channel
Direction = values.Direction
Tier = values.Tier
Priority = values.Priority
CaseStatus = values.CaseStatus
ContactRole = values.ContactRole
TouchpointKind = values.TouchpointKind
RenewalRisk = values.RenewalRisk
RenewalLikelihood = values.RenewalLikelihood
Sentiment = values.Sentiment
FeedbackStatus = feedback.FeedbackStatus

N = TypeVar("N")


@strawberry.type
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, cents: int, currency: str) -> Money:
        return cls(amount=from_cents(cents), currency=currency)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor_of: strawberry.Private[Callable[[], str]]

    @strawberry.field(description="Pass as `after` to get the items that follow this one.")
    def cursor(self) -> str:
        return self.cursor_of()


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[N]:
        return [e.node for e in self.edges]


@strawberry.type
class Contact:
    id: UUID
    name: str
    email: str
    phone: str | None
    role: ContactRole
    active: bool
    added_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Contact:
        return cls(id=UUID(r["contact_id"]), name=r["name"], email=r["email"], phone=r["phone"],
                   role=values.ContactRole(r["role"]), active=r["active"], added_at=r["added_at"])


@strawberry.type
class RevenuePoint:
    period: str
    mrr: Money


@strawberry.type
class Interaction:
    id: UUID
    case_id: UUID | None
    channel: Channel
    direction: Direction
    sender: str
    text: str
    channel_allowed: bool
    occurred_at: datetime
    notification_id: int

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Interaction:
        return cls(
            id=UUID(r["id"]), case_id=UUID(r["case_id"]) if r["case_id"] else None,
            channel=values.Channel(r["channel"]), direction=values.Direction(r["direction"]),
            sender=r["sender"], text=r["text"], channel_allowed=r["channel_allowed"],
            occurred_at=r["occurred_at"], notification_id=r["position"])


@strawberry.type
class QueueSummary:
    line: int
    open_count: int
    unassigned: int
    escalated: int
    oldest_opened_at: datetime | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> QueueSummary:
        return cls(line=r["line"], open_count=r["open_count"], unassigned=r["unassigned"] or 0,
                   escalated=r["escalated"] or 0, oldest_opened_at=r["oldest_opened_at"])


@strawberry.type
class CommandResult:
    """What a mutation made: its ids and the log position of its last event.

    Pass `notificationId` as `waitFor` to a query to read your own write.
    """

    notification_id: int
    version: int | None
    duplicate: bool
    account_id: UUID | None = None
    case_id: UUID | None = None
    interaction_id: UUID | None = None
    contact_id: UUID | None = None
    invoice_id: UUID | None = None
    alert_id: UUID | None = None
    goal_id: UUID | None = None
    model_version: int | None = strawberry.field(
        default=None, description="The health model version a publication made.")
    survey_response_id: UUID | None = None
    feedback_id: UUID | None = None
    article_id: UUID | None = None
    announcement_id: UUID | None = None
    answered: int | None = strawberry.field(
        default=None, description="How many linked cases an answer to them went to.")


@strawberry.enum
class MetricDimension(Enum):
    CHANNEL = "channel"
    AGENT = "agent"
    LINE = "line"
    ACCOUNT = "account"
    PRIORITY = "priority"
    TOPIC = "topic"


@strawberry.enum
class PeriodGrain(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@strawberry.type(description="Support metrics of one group in one period. Dimensions the report "
                             "is not grouped by are null; ratios without data are null.")
class SupportMetricRow:
    channel: Channel | None
    agent: str | None
    line: int | None
    account_id: UUID | None
    priority: Priority | None
    topic: str | None
    period_start: date | None = strawberry.field(
        description="First day (UTC) of the day, ISO week or month; null without a period.")
    opened: int
    resolved: int = strawberry.field(description="Cases first resolved in the period.")
    first_responses: int
    first_response_median_seconds: float | None
    first_response_mean_seconds: float | None
    first_response_p90_seconds: float | None
    resolution_median_seconds: float | None = strawberry.field(
        description="Opening to first resolution (the question answered, not the case closed).")
    resolution_mean_seconds: float | None
    resolution_p90_seconds: float | None
    first_response_business_median_seconds: float | None = strawberry.field(
        description="In the opening hours of the case's calendar (the one its SLA targets "
                    "count in): what the client's plan promises.")
    first_response_business_mean_seconds: float | None
    first_response_business_p90_seconds: float | None
    resolution_business_median_seconds: float | None
    resolution_business_mean_seconds: float | None
    resolution_business_p90_seconds: float | None
    replies_to_resolution_mean: float | None = strawberry.field(
        description="Agent replies before the first resolution, per resolved case.")
    reopen_rate: float | None = strawberry.field(
        description="Of the cases resolved in the period, the share reopened since.")
    csat: float | None = strawberry.field(
        description="Share of ratings of 4 or 5 (each case's latest rating counts).")
    csat_responses: int
    nps: float | None = strawberry.field(
        description="Promoters minus detractors in percent, each contact's latest answer in the "
                    "period; only for reports grouped and filtered by account at most.")
    nps_responses: int
    sla_attainment: float | None = strawberry.field(
        description="Met over decided SLA targets, weighted 4/3/2/1 for urgent/high/normal/low.")
    sla_targets: int
    sla_targets_met: int

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> SupportMetricRow:
        d = r["dimensions"]
        channel, priority, account = d.get("channel"), d.get("priority"), d.get("account")
        return cls(
            channel=values.Channel(channel) if channel else None, agent=d.get("agent"),
            line=d.get("line"), account_id=UUID(account) if account else None,
            priority=values.Priority(priority) if priority else None, topic=d.get("topic"),
            period_start=r["period_start"], opened=r["opened"], resolved=r["resolved"],
            first_responses=r["first_responses"],
            first_response_median_seconds=r["first_response_median"],
            first_response_mean_seconds=r["first_response_mean"],
            first_response_p90_seconds=r["first_response_p90"],
            resolution_median_seconds=r["resolution_median"],
            resolution_mean_seconds=r["resolution_mean"],
            resolution_p90_seconds=r["resolution_p90"],
            first_response_business_median_seconds=r["first_response_business_median"],
            first_response_business_mean_seconds=r["first_response_business_mean"],
            first_response_business_p90_seconds=r["first_response_business_p90"],
            resolution_business_median_seconds=r["resolution_business_median"],
            resolution_business_mean_seconds=r["resolution_business_mean"],
            resolution_business_p90_seconds=r["resolution_business_p90"],
            replies_to_resolution_mean=r["replies_to_resolution_mean"],
            reopen_rate=r["reopen_rate"], csat=r["csat"], csat_responses=r["csat_responses"],
            nps=r["nps"], nps_responses=r["nps_responses"], sla_attainment=r["sla_attainment"],
            sla_targets=r["sla_targets"], sla_targets_met=r["sla_targets_met"])


@strawberry.type
class TopicCount:
    topic: str
    opened: int
