"""The Account and Case types: fields that need more data load it through the context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.health import AccountHealth, AccountKpis
from api.graphql.types import (
    CaseStatus,
    Channel,
    Connection,
    Contact,
    Edge,
    Interaction,
    Money,
    PageInfo,
    PeriodGrain,
    Priority,
    RevenuePoint,
    SupportMetricRow,
    Tier,
)
from api.services import Views
from domain import values
from projections.case_queues import CaseFilter
from projections.support_metrics import MetricFilter, MetricQuery


@strawberry.type
class Account:
    id: UUID
    name: str
    tier: Tier
    manager: str
    currency: str
    revenue_period: str | None
    rank: int | None = strawberry.field(
        description="Position by reporting ARR among accounts that have not churned.")
    is_key_account: bool
    churned: bool
    churned_at: datetime | None
    opened_at: datetime
    contacts_count: int
    version: int
    notification_id: int
    # Amounts stay integer cents until asked for: building Money for every row of a long
    # list costs more than the query itself.
    mrr_cents: strawberry.Private[int]
    arr_cents: strawberry.Private[int]
    arr_reporting_cents: strawberry.Private[int]
    reporting_currency: strawberry.Private[str]
    source: strawberry.Private[Views | None] = None
    """Replayed views when the account was asked for as of a past moment."""

    @classmethod
    def from_row(cls, r: dict[str, Any], reporting_currency: str,
                 source: Views | None = None) -> Account:
        return cls(source=source,
            id=UUID(r["id"]), name=r["name"], tier=values.Tier(r["tier"]), manager=r["manager"],
            currency=r["currency"], mrr_cents=r["mrr_cents"], arr_cents=r["arr_cents"],
            arr_reporting_cents=r["arr_reporting_cents"], reporting_currency=reporting_currency,
            revenue_period=r["revenue_period"], rank=r["rank"],
            is_key_account=r["is_key_account"], churned=r["churned"],
            churned_at=r["churned_at"], opened_at=r["opened_at"],
            contacts_count=r["contacts_count"], version=r["version"],
            notification_id=r["position"])

    @strawberry.field(description="Monthly recurring revenue of the latest period on record.")
    def mrr(self) -> Money:
        return Money.of(self.mrr_cents, self.currency)

    @strawberry.field(description="Twelve times the MRR; 0 once the account has churned.")
    def arr(self) -> Money:
        return Money.of(self.arr_cents, self.currency)

    @strawberry.field(
        description="ARR converted into the reporting currency at the fixed budget rate.")
    def arr_reporting(self) -> Money:
        return Money.of(self.arr_reporting_cents, self.reporting_currency)

    def _views(self, info: Info) -> Views:
        return self.source or info.context.services.live

    @strawberry.field
    async def contacts(self, info: Info, include_former: bool = False) -> list[Contact]:
        views = self._views(info)
        rows = await views.read(views.accounts.contacts, str(self.id))
        return [Contact.from_row(r) for r in rows if include_former or r["active"]]

    @strawberry.field
    async def revenue(self, info: Info) -> list[RevenuePoint]:
        views = self._views(info)
        rows = await views.read(views.accounts.revenue, str(self.id))
        return [RevenuePoint(period=r["period"], mrr=Money.of(r["mrr_cents"], r["currency"]))
                for r in rows]

    @strawberry.field
    async def cases(self, info: Info, first: int = 20, after: str | None = None,
                    status: list[CaseStatus] | None = None) -> Connection[Case]:
        authorize(info.context.viewer, Action.READ_CASES, self.id)
        where = CaseFilter(account_id=str(self.id),
                           statuses=tuple(s.value for s in status or ()))
        return await case_connection(info, where, first, after, "OPENED_DESC",
                                     self._views(info))

    @strawberry.field(description="Key-account health (KAH-1) with its explanation.")
    async def health(self, info: Info) -> AccountHealth | None:
        if self.source is None:
            row = await info.context.health.load(str(self.id))
        else:
            found = await self.source.read(self.source.health.get_many, [str(self.id)])
            row = found.get(str(self.id))
        return AccountHealth.from_row(row, self._views(info)) if row else None

    @strawberry.field(description="This account's support metrics by period, over the year to "
                                  "the time asked about (or the range given).")
    async def metrics(self, info: Info, period: PeriodGrain = PeriodGrain.MONTH,
                      from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
                      to: datetime | None = None) -> list[SupportMetricRow]:
        authorize(info.context.viewer, Action.READ_CASES, self.id)
        views = self._views(info)
        if to is None:
            if views.as_of is None:
                info.context.uses_clock = True
            to = views.as_of or datetime.now(UTC)
        query = MetricQuery(grain=period.value, start=from_ or to - timedelta(days=365),
                            end=to, where=MetricFilter(account_id=str(self.id)))
        rows = await views.read(views.support.report, query)
        return [SupportMetricRow.from_row(r) for r in rows]

    @strawberry.field(description="This account's revenue figures over the 12 months to the "
                                  "time asked about.")
    async def kpis(self, info: Info) -> AccountKpis | None:
        views = self._views(info)
        end = (views.as_of or datetime.now(UTC)).date()
        if views.as_of is None:
            info.context.uses_clock = True
        figures = await views.read(views.portfolio.account_kpis, str(self.id), end)
        if figures is None:
            return None
        return AccountKpis.of(figures, self.reporting_currency)


@strawberry.type
class Case:
    id: UUID
    account_id: UUID
    channel: Channel
    subject: str
    topic: str | None
    priority: Priority
    line: int
    department: str | None
    status: CaseStatus
    assignee: str | None
    escalated: bool
    escalation_reason: str | None
    contact_id: UUID | None
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    first_response_seconds: int | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened_count: int
    reply_count: int
    csat: int | None
    csat_comment: str | None
    last_activity_at: datetime
    version: int = strawberry.field(description="Pass as expectedVersion to act on this state.")
    notification_id: int

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Case:
        return cls(
            id=UUID(r["id"]), account_id=UUID(r["account_id"]),
            channel=values.Channel(r["channel"]), subject=r["subject"], topic=r["topic"],
            priority=values.Priority(r["priority"]), line=r["line"], department=r["department"],
            status=values.CaseStatus(r["status"]), assignee=r["assignee"],
            escalated=r["escalated"], escalation_reason=r["escalation_reason"],
            contact_id=UUID(r["contact_id"]) if r["contact_id"] else None,
            opened_at=r["opened_at"], first_response_due=r["first_response_due"],
            resolution_due=r["resolution_due"], first_response_at=r["first_response_at"],
            first_response_seconds=r["first_response_seconds"], resolved_at=r["resolved_at"],
            closed_at=r["closed_at"], reopened_count=r["reopened_count"],
            reply_count=r["reply_count"], csat=r["csat"], csat_comment=r["csat_comment"],
            last_activity_at=r["last_activity_at"], version=r["version"],
            notification_id=r["position"])

    @strawberry.field(description="First response came after its due time, or is overdue now.")
    def first_response_breached(self, info: Info) -> bool:
        info.context.uses_clock = True
        answered = self.first_response_at or datetime.now(UTC)
        return answered > self.first_response_due

    @strawberry.field(description="Resolution came after its due time, or is overdue now.")
    def resolution_breached(self, info: Info) -> bool:
        info.context.uses_clock = True
        resolved = self.resolved_at or self.closed_at or datetime.now(UTC)
        return resolved > self.resolution_due

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        row = await info.context.accounts.load(str(self.account_id))
        if row is None:
            return None
        return Account.from_row(row, info.context.services.settings.currency)

    @strawberry.field(description="The whole thread of the case across channels, in log order.")
    async def interactions(self, info: Info) -> list[Interaction]:
        services = info.context.services
        rows = await services.read(services.cases.interactions, str(self.id))
        return [Interaction.from_row(r) for r in rows]


async def case_connection(info: Info, where: CaseFilter, first: int, after: str | None,
                          order: str, views: Views | None = None) -> Connection[Case]:
    views = views or info.context.services.live
    page = await views.read(views.cases.page, where, first, after, order)
    edges = [Edge(node=Case.from_row(r), cursor_of=partial(views.cases.cursor, r, order))
             for r in page.rows]
    return Connection(edges=edges, page_info=PageInfo(
        has_next_page=page.has_next, end_cursor=edges[-1].cursor() if edges else None))
