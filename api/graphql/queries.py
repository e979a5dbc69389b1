"""Root query fields. Each takes `waitFor` (a notificationId) to read the caller's own writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import strawberry

from api.auth import Action, ForbiddenError, authorize
from api.graphql.alerts_goals import Goal, HealthAlert
from api.graphql.context import Info
from api.graphql.feedback import FeedbackItem, feedback_connection
from api.graphql.health import BandDay, HealthBand, KpiReport, PortfolioEntry, PortfolioHealthDay
from api.graphql.objects import Account, Case, case_connection
from api.graphql.types import (
    CaseStatus,
    Channel,
    Connection,
    Edge,
    FeedbackStatus,
    MetricDimension,
    Money,
    PageInfo,
    PeriodGrain,
    Priority,
    QueueSummary,
    SupportMetricRow,
    TopicCount,
)
from domain.alert import AlertStatus
from domain.errors import InvalidInputError, NotFoundError
from projections.case_queues import CaseFilter
from projections.feedback_board import FeedbackFilter
from projections.support_metrics import MetricFilter, MetricQuery

WaitFor = Annotated[int | None, strawberry.argument(
    description="A notificationId from a mutation: wait until the views include it.")]
MAX_EVENTS = 100


@strawberry.type(description="One event of the log.")
class LoggedEvent:
    position: int
    topic: str
    aggregate_id: UUID
    version: int
    occurred_at: datetime
    actor: str


AsOf = Annotated[datetime | None, strawberry.argument(
    description="Answer as of this moment in business time, by replaying the log up to it.")]


def _day_of(info: Info, as_of: datetime | None, rows: list[dict[str, Any]]) -> date:
    """The day revenue at risk counts renewals from: the moment asked about, else the moment
    the health view has reached (so the answer depends on the views only, not on the clock)."""
    if as_of is not None:
        return as_of.date()
    reached: list[datetime] = [r["as_of"] for r in rows if r["as_of"] is not None]
    if reached:
        return max(reached).date()
    info.context.uses_clock = True
    return datetime.now(UTC).date()


@strawberry.enum
class AccountOrder(Enum):
    ARR_DESC = "ARR_DESC"
    NAME_ASC = "NAME_ASC"


@strawberry.enum
class CaseOrder(Enum):
    OPENED_DESC = "OPENED_DESC"
    OPENED_ASC = "OPENED_ASC"


@strawberry.enum
class FeedbackOrder(Enum):
    ARR_DESC = "ARR_DESC"
    SUBMITTED_DESC = "SUBMITTED_DESC"


@strawberry.input
class FeedbackFilterInput:
    status: list[FeedbackStatus] | None = None
    product_area: str | None = None
    account_id: UUID | None = None
    include_merged: bool = False


@strawberry.input
class CaseFilterInput:
    account_id: UUID | None = None
    status: list[CaseStatus] | None = None
    line: int | None = None
    assignee: str | None = None
    unassigned: bool = False
    priority: Priority | None = None
    channel: Channel | None = None
    escalated: bool | None = None


@strawberry.input(name="MetricFilter")
class MetricFilterInput:
    account_id: UUID | None = None
    channel: Channel | None = None
    agent: str | None = None
    line: int | None = None
    priority: Priority | None = None


From = Annotated[datetime | None, strawberry.argument(
    name="from", description="Start of the range (inclusive).")]
To = Annotated[datetime | None, strawberry.argument(description="End of the range (exclusive).")]


@strawberry.type
class Query:
    @strawberry.field(description="Accounts, by default ordered by ARR, largest first.")
    async def accounts(
        self, info: Info, first: int = 50, after: str | None = None,
        order_by: AccountOrder = AccountOrder.ARR_DESC, key_accounts_only: bool = False,
        wait_for: WaitFor = None,
    ) -> Connection[Account]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_ACCOUNTS)
        services = info.context.services
        await services.wait_for(wait_for)
        page = await services.read(services.accounts.page, first, after, order_by.value,
                                   key_accounts_only)
        rows = [r for r in page.rows if viewer.account_id is None or r["id"] == str(
            viewer.account_id)]
        currency = services.settings.currency
        order = order_by.value
        edges = [Edge(node=Account.from_row(r, currency),
                      cursor_of=partial(services.accounts.cursor, r, order)) for r in rows]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor() if edges else None))

    @strawberry.field(description="An account; with asOf, as it stood at that moment (the log "
                                  "replayed up to it in business time).")
    async def account(self, info: Info, id: UUID, as_of: AsOf = None,
                      wait_for: WaitFor = None) -> Account | None:
        authorize(info.context.viewer, Action.READ_ACCOUNTS, id)
        services = info.context.services
        await services.wait_for(wait_for)
        if as_of is None:
            row = await info.context.accounts.load(str(id))
            views = None
        else:
            views = await services.views_at(as_of)
            row = (await views.read(views.accounts.get_many, [str(id)])).get(str(id))
        if row is None:
            raise NotFoundError(f"account {id} not found")
        return Account.from_row(row, services.settings.currency, views)

    @strawberry.field(description="The top accounts by ARR with health, trend, owner and "
                                  "revenue at risk; with asOf, as they stood at that moment.")
    async def portfolio(self, info: Info, top: int = 200, as_of: AsOf = None,
                        wait_for: WaitFor = None) -> list[PortfolioEntry]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_PORTFOLIO)
        services = info.context.services
        await services.wait_for(wait_for)
        views = await services.views_at(as_of)
        rows = await views.read(views.portfolio.top, top)
        day = _day_of(info, as_of, rows)
        currency = services.settings.currency
        return [PortfolioEntry.from_row(r, currency, day) for r in rows]

    @strawberry.field(description="The health of today's top accounts over the last `days` "
                                  "closed days: per day, how many were in each confirmed band "
                                  "and their ARR that day.")
    async def portfolio_health_history(self, info: Info, top: int = 200, days: int = 90,
                                       wait_for: WaitFor = None) -> list[PortfolioHealthDay]:
        authorize(info.context.viewer, Action.READ_PORTFOLIO)
        services = info.context.services
        await services.wait_for(wait_for)
        history = await services.read(services.portfolio.band_history, top, days)
        currency = services.settings.currency
        return [PortfolioHealthDay(day=day, bands=[
            BandDay(band=HealthBand(band), accounts=count,
                      arr=Money(amount=arr.quantize(Decimal("0.01")), currency=currency))
            for band, (count, arr) in sorted(bands.items())]) for day, bands in history]

    @strawberry.field(description="Revenue-based Care KPIs over the key accounts: GRR and NRR "
                                  "for the period, and the portfolio at its end.")
    async def kpis(self, info: Info, from_: Annotated[date | None, strawberry.argument(
                       name="from")] = None, to: date | None = None, as_of: AsOf = None,
                   wait_for: WaitFor = None) -> KpiReport:
        authorize(info.context.viewer, Action.READ_PORTFOLIO)
        services = info.context.services
        await services.wait_for(wait_for)
        views = await services.views_at(as_of)
        if to is None:
            if as_of is None:
                info.context.uses_clock = True
            to = (as_of or datetime.now(UTC)).date()
        start = from_ or to - timedelta(days=365)
        report = await views.read(views.portfolio.kpis, start, to)
        return KpiReport.of(report, services.settings.currency)

    @strawberry.field(description="The events at these log positions: the evidence a health "
                                  "explanation names, with who caused each and when.")
    async def events(self, info: Info, positions: list[int]) -> list[LoggedEvent]:
        authorize(info.context.viewer, Action.READ_PORTFOLIO)
        if len(positions) > MAX_EVENTS:
            raise InvalidInputError(f"ask for at most {MAX_EVENTS} positions at a time")
        services = info.context.services
        rows = await asyncio.to_thread(services.logged_events, positions)
        return [LoggedEvent(**r) for r in rows]

    @strawberry.field(description="Health alerts, newest first.")
    async def alerts(self, info: Info, status: list[AlertStatus] | None = None,
                     account_id: UUID | None = None, first: int = 50,
                     after: str | None = None,
                     wait_for: WaitFor = None) -> Connection[HealthAlert]:
        authorize(info.context.viewer, Action.HANDLE_ALERTS, account_id)
        services = info.context.services
        await services.wait_for(wait_for)
        statuses = tuple(s.value for s in status or ())
        page = await services.read(services.alerts.alerts, statuses,
                                   str(account_id) if account_id else None, first, after)
        edges = [Edge(node=HealthAlert.from_row(r),
                      cursor_of=partial(services.alerts.alert_cursor, r)) for r in page.rows]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor() if edges else None))

    @strawberry.field(description="The team's KPI goals with their progress now.")
    async def goals(self, info: Info, include_cancelled: bool = False,
                    wait_for: WaitFor = None) -> list[Goal]:
        authorize(info.context.viewer, Action.READ_PORTFOLIO)
        services = info.context.services
        await services.wait_for(wait_for)
        info.context.uses_clock = True
        rows = await services.read(services.alerts.goals, include_cancelled)
        if not rows:
            return []
        today = datetime.now(UTC).date()
        kpis = await services.read(services.portfolio.kpis, today - timedelta(days=365), today)
        return [Goal.from_row(r, kpis, today) for r in rows]

    @strawberry.field(description="Cases matching the filter, newest first by default.")
    async def cases(
        self, info: Info, filter: CaseFilterInput | None = None,
        first: int = 50, after: str | None = None, order_by: CaseOrder = CaseOrder.OPENED_DESC,
        wait_for: WaitFor = None,
    ) -> Connection[Case]:
        viewer = info.context.viewer
        f = filter or CaseFilterInput()
        account_id = viewer.account_id or f.account_id
        authorize(viewer, Action.READ_CASES, account_id)
        await info.context.services.wait_for(wait_for)
        where = CaseFilter(
            account_id=str(account_id) if account_id else None,
            statuses=tuple(s.value for s in f.status or ()), line=f.line, assignee=f.assignee,
            unassigned=f.unassigned, priority=f.priority.value if f.priority else None,
            channel=f.channel.value if f.channel else None, escalated=f.escalated)
        return await case_connection(info, where, first, after, order_by.value)

    @strawberry.field(name="case")
    async def case_(self, info: Info, id: UUID,
                    wait_for: WaitFor = None) -> Case | None:
        authorize(info.context.viewer, Action.READ_CASES)  # the role, before any read
        await info.context.services.wait_for(wait_for)
        row = await info.context.cases.load(str(id))
        if row is None:
            raise NotFoundError(f"case {id} not found")
        authorize(info.context.viewer, Action.READ_CASES, row["account_id"])
        return Case.from_row(row)

    @strawberry.field(description="Product feedback, by default the most ARR asking first.")
    async def feedback_board(
        self, info: Info, filter: FeedbackFilterInput | None = None, first: int = 50,
        after: str | None = None, order_by: FeedbackOrder = FeedbackOrder.ARR_DESC,
        wait_for: WaitFor = None,
    ) -> Connection[FeedbackItem]:
        authorize(info.context.viewer, Action.READ_FEEDBACK)
        await info.context.services.wait_for(wait_for)
        f = filter or FeedbackFilterInput()
        where = FeedbackFilter(statuses=tuple(s.value for s in f.status or ()),
                               product_area=f.product_area,
                               account_id=str(f.account_id) if f.account_id else None,
                               include_merged=f.include_merged)
        return await feedback_connection(info, where, first, after, order_by.value)

    @strawberry.field
    async def feedback(self, info: Info, id: UUID,
                       wait_for: WaitFor = None) -> FeedbackItem | None:
        authorize(info.context.viewer, Action.READ_FEEDBACK)
        services = info.context.services
        await services.wait_for(wait_for)
        row = (await services.read(services.feedback.get_many, [str(id)])).get(str(id))
        if row is None:
            raise NotFoundError(f"feedback {id} not found")
        return FeedbackItem.from_row(row, services.settings.currency)

    @strawberry.field(description="Open cases per support line.")
    async def queues(self, info: Info, wait_for: WaitFor = None) -> list[QueueSummary]:
        authorize(info.context.viewer, Action.WORK_CASES)
        services = info.context.services
        await services.wait_for(wait_for)
        rows = await services.read(services.cases.queue_summary)
        return [QueueSummary.from_row(r) for r in rows]

    @strawberry.field(description="Support metrics by the business time of the events, grouped "
                                  "by dimensions and periods (UTC). Whole weeks or months "
                                  "without filters are read from rollups.")
    async def support_metrics(
        self, info: Info, group_by: list[MetricDimension] | None = None,
        period: PeriodGrain | None = None, from_: From = None, to: To = None,
        filter: MetricFilterInput | None = None, wait_for: WaitFor = None,
    ) -> list[SupportMetricRow]:
        viewer = info.context.viewer
        f = filter or MetricFilterInput()
        account_id = viewer.account_id or f.account_id
        authorize(viewer, Action.READ_CASES, account_id)
        services = info.context.services
        await services.wait_for(wait_for)
        query = MetricQuery(
            group_by=tuple(d.value for d in group_by or ()),
            grain=period.value if period else None, start=from_, end=to,
            where=MetricFilter(account_id=str(account_id) if account_id else None,
                               channel=f.channel.value if f.channel else None, agent=f.agent,
                               line=f.line, priority=f.priority.value if f.priority else None))
        rows = await services.read(services.support.report, query)
        return [SupportMetricRow.from_row(r) for r in rows]

    @strawberry.field(description="The topics of the most cases opened in the range.")
    async def top_topics(self, info: Info, from_: From = None, to: To = None, first: int = 10,
                         wait_for: WaitFor = None) -> list[TopicCount]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_CASES)
        if viewer.account_id is not None:
            raise ForbiddenError("topics across all clients are for staff only")
        services = info.context.services
        await services.wait_for(wait_for)
        counted = await services.read(services.support.top_topics, from_, to, first)
        return [TopicCount(topic=topic, opened=opened) for topic, opened in counted]
