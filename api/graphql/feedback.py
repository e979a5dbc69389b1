"""The FeedbackItem type of the feedback board, built from `feedback_board` rows."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import strawberry

from api.graphql.context import Info
from api.graphql.objects import Account
from api.graphql.types import Connection, Edge, FeedbackStatus, Money, PageInfo
from domain import feedback
from projections.feedback_board import FeedbackFilter


@strawberry.type
class FeedbackRequest:
    """One account asking for the feedback, and where it asked."""

    account_id: UUID
    case_id: UUID | None
    interaction_id: UUID | None
    note: str | None
    joined_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> FeedbackRequest:
        return cls(account_id=UUID(r["account_id"]),
                   case_id=UUID(r["case_id"]) if r["case_id"] else None,
                   interaction_id=UUID(r["interaction_id"]) if r["interaction_id"] else None,
                   note=r["note"], joined_at=r["joined_at"])

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        row = await info.context.accounts.load(str(self.account_id))
        return None if row is None else Account.from_row(
            row, info.context.services.settings.currency)


@strawberry.type
class FeedbackItem:
    id: UUID
    product_area: str
    title: str
    text: str
    status: FeedbackStatus
    merged_into: UUID | None
    accounts_count: int
    jira_key: str | None
    jira_status_name: str | None = strawberry.field(
        description="Jira's display name of the status, for people; `status` is the meaning.")
    sync_pending: bool = strawberry.field(
        description="Jira does not show this item as it is yet (no issue, or changes queued).")
    sync_error: str | None
    create_attempted_at: datetime | None
    last_comment: str | None
    last_comment_author: str | None
    last_comment_at: datetime | None
    submitted_at: datetime
    updated_at: datetime
    version: int
    notification_id: int
    arr_cents: strawberry.Private[int]
    red_arr_cents: strawberry.Private[int]
    currency: strawberry.Private[str]

    @classmethod
    def from_row(cls, r: dict[str, Any], currency: str) -> FeedbackItem:
        return cls(
            id=UUID(r["id"]), product_area=r["product_area"], title=r["title"], text=r["text"],
            status=feedback.FeedbackStatus(r["status"]),
            merged_into=UUID(r["merged_into"]) if r["merged_into"] else None,
            accounts_count=r["accounts_count"], jira_key=r["jira_key"],
            jira_status_name=r["jira_status_name"],
            sync_pending=(r["jira_key"] is None and r["merged_into"] is None)
            or r["jira_revision"] < r["revision"],
            sync_error=r["sync_error"], create_attempted_at=r["create_attempted_at"],
            last_comment=r["last_comment"], last_comment_author=r["last_comment_author"],
            last_comment_at=r["last_comment_at"], submitted_at=r["submitted_at"],
            updated_at=r["updated_at"], version=r["version"], notification_id=r["position"],
            arr_cents=int(r["arr_cents"]), red_arr_cents=int(r["red_arr_cents"]),
            currency=currency)

    @strawberry.field(description="Summed reporting ARR of the requesting accounts.")
    def arr(self) -> Money:
        return Money.of(self.arr_cents, self.currency)

    @strawberry.field(description="The part of `arr` from accounts whose health is red.")
    def red_arr(self) -> Money:
        return Money.of(self.red_arr_cents, self.currency)

    @strawberry.field(description="The requesting accounts, in the order they joined.")
    async def requests(self, info: Info) -> list[FeedbackRequest]:
        services = info.context.services
        rows = await services.read(services.feedback.requests, str(self.id))
        return [FeedbackRequest.from_row(r) for r in rows]


async def feedback_connection(info: Info, where: FeedbackFilter, first: int, after: str | None,
                              order: str) -> Connection[FeedbackItem]:
    services = info.context.services
    currency = services.settings.currency
    page = await services.read(services.feedback.page, where, first, after, order)
    edges = [Edge(node=FeedbackItem.from_row(r, currency),
                  cursor_of=partial(services.feedback.cursor, r, order)) for r in page.rows]
    return Connection(edges=edges, page_info=PageInfo(
        has_next_page=page.has_next, end_cursor=edges[-1].cursor() if edges else None))
