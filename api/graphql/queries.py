"""Root query fields. Each takes `waitFor` (a notificationId) to read the caller's own writes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry

from api.auth import Action, ForbiddenError, authorize
from api.graphql.context import Info
from api.graphql.objects import Account, Case, case_connection
from api.graphql.types import (
    CaseStatus,
    Channel,
    Connection,
    Edge,
    PageInfo,
    Priority,
    QueueSummary,
    SupportMetricRow,
    TopicCount,
)
from domain.errors import NotFoundError
from projections.case_queues import CaseFilter
from projections.support_metrics import MetricFilter, MetricQuery

WaitFor = Annotated[int | None, strawberry.argument(
    description="A notificationId from a mutation: wait until the views include it.")]


@strawberry.enum
class AccountOrder(Enum):
    ARR_DESC = "ARR_DESC"
    NAME_ASC = "NAME_ASC"


@strawberry.enum
class CaseOrder(Enum):
    OPENED_DESC = "OPENED_DESC"
    OPENED_ASC = "OPENED_ASC"


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

    @strawberry.field
    async def account(self, info: Info, id: UUID,
                      wait_for: WaitFor = None) -> Account | None:
        authorize(info.context.viewer, Action.READ_ACCOUNTS, id)
        await info.context.services.wait_for(wait_for)
        row = await info.context.accounts.load(str(id))
        if row is None:
            raise NotFoundError(f"account {id} not found")
        return Account.from_row(row, info.context.services.settings.currency)

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
        await info.context.services.wait_for(wait_for)
        row = await info.context.cases.load(str(id))
        if row is None:
            raise NotFoundError(f"case {id} not found")
        authorize(info.context.viewer, Action.READ_CASES, row["account_id"])
        return Case.from_row(row)

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
