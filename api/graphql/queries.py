"""Root query fields. Each takes `waitFor` (a notificationId) to read the caller's own writes."""

from __future__ import annotations

from enum import Enum
from functools import partial
from typing import Annotated
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.feedback import FeedbackItem, feedback_connection
from api.graphql.objects import Account, Case, case_connection
from api.graphql.types import (
    CaseStatus,
    Channel,
    Connection,
    Edge,
    FeedbackStatus,
    PageInfo,
    Priority,
    QueueSummary,
)
from domain.errors import NotFoundError
from projections.case_queues import CaseFilter
from projections.feedback_board import FeedbackFilter

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
