"""GraphQL object types, each built from a view row by `from_row`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

import strawberry

from domain import feedback, values
from projections.money import from_cents

# The domain's enumerations are the GraphQL enums (registered in place, named as in Python).
for _enum in (values.Channel, values.Direction, values.Tier, values.Priority,
              values.CaseStatus, values.ContactRole, feedback.FeedbackStatus):
    strawberry.enum(_enum)
Channel = values.Channel
Direction = values.Direction
Tier = values.Tier
Priority = values.Priority
CaseStatus = values.CaseStatus
ContactRole = values.ContactRole
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
    feedback_id: UUID | None = None
