"""Announcements over GraphQL: maintenance and incidents, what was sent to whom, linked cases.

Every read goes through an `Audience` built from the viewer: a client sees only the current
announcements that affect its account, only its own account among those named, only its own
deliveries, and only its own cases among the linked ones.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.knowledge import WaitFor
from api.graphql.mutations import _run
from api.graphql.objects import Case
from api.graphql.types import Channel, CommandResult, Connection, Edge, PageInfo, Tier
from domain import announcement as announcements
from domain.errors import NotFoundError
from projections.announcements import Audience, accounts_of, services_of
from projections.knowledge_base import plans_of

strawberry.enum(announcements.AnnouncementKind)
strawberry.enum(announcements.AnnouncementStatus)
AnnouncementKind = announcements.AnnouncementKind
AnnouncementStatus = announcements.AnnouncementStatus


@strawberry.type(description="What one recipient was sent for one revision; the message's own "
                             "delivery (Telegram, email) is followed on the message itself.")
class AnnouncementDelivery:
    revision: int
    account_id: UUID
    channel: Channel
    recipient: str = strawberry.field(description="The account (room), chat id or address.")
    interaction_id: UUID | None
    state: str = strawberry.field(description="`failed` when nothing could be sent; for a room "
                                              "post `delivered`; for Telegram and email the "
                                              "message's own delivery: pending, sending, "
                                              "delivered, retrying or failed.")
    error: str | None
    recorded_at: datetime

    @classmethod
    def from_row(cls, r: dict[str, Any], message: dict[str, Any] | None) -> AnnouncementDelivery:
        state, error = "delivered", r["error"]
        if error is not None:
            state = "failed"
        elif r["channel"] != Channel.ROOM.value:
            state = (message or {}).get("delivery") or "pending"
            error = (message or {}).get("delivery_error")
        return cls(revision=r["revision"], account_id=UUID(r["account_id"]),
                   channel=Channel(r["channel"]), recipient=r["recipient"],
                   interaction_id=UUID(r["interaction_id"]) if r["interaction_id"] else None,
                   state=state, error=error, recorded_at=r["recorded_at"])


@strawberry.type
class Announcement:
    id: UUID
    kind: AnnouncementKind
    title: str
    text: str
    services: list[str]
    plans: list[Tier]
    account_ids: list[UUID] = strawberry.field(
        description="The accounts named (a client sees only its own).")
    starts_at: datetime
    ends_at: datetime | None
    status: AnnouncementStatus
    revision: int = strawberry.field(
        description="Each message clients hear (publication, update, resolution) is one.")
    fanned_out: int = strawberry.field(description="The last revision every recipient got.")
    recipients: int = strawberry.field(description="Accounts the last fan-out reached.")
    published_at: datetime
    resolved_at: datetime | None
    updated_at: datetime
    version: int = strawberry.field(description="Pass as expectedVersion to act on this state.")
    notification_id: int

    @classmethod
    def from_row(cls, r: dict[str, Any], own: UUID | None) -> Announcement:
        named = [UUID(a) for a in accounts_of(r)]
        return cls(
            id=UUID(r["id"]), kind=AnnouncementKind(r["kind"]), title=r["title"],
            text=r["text"], services=services_of(r), plans=[Tier(p) for p in plans_of(r)],
            account_ids=named if own is None else [a for a in named if a == own],
            starts_at=r["starts_at"], ends_at=r["ends_at"],
            status=AnnouncementStatus(r["status"]), revision=r["revision"],
            fanned_out=r["fanned_out"], recipients=r["recipients"] if own is None else 0,
            published_at=r["published_at"], resolved_at=r["resolved_at"],
            updated_at=r["updated_at"], version=r["version"], notification_id=r["position"])

    @strawberry.field(description="What was sent to each recipient, revision by revision.")
    async def deliveries(self, info: Info) -> list[AnnouncementDelivery]:
        services = info.context.services
        own = info.context.viewer.account_id
        rows = [r for r in await services.read(services.announcements.deliveries, str(self.id))
                if own is None or r["account_id"] == str(own)]
        messages = await services.read(services.rooms.get_many, sorted(
            {r["interaction_id"] for r in rows if r["interaction_id"]}))
        return [AnnouncementDelivery.from_row(r, messages.get(r["interaction_id"] or ""))
                for r in rows]

    @strawberry.field(description="Cases opened about it (affected accounts, in the window).")
    async def linked_cases(self, info: Info) -> list[Case]:
        services = info.context.services
        rows = await services.read(services.announcements.linked_cases, str(self.id))
        found = [await info.context.cases.load(r["case_id"]) for r in rows]
        return [Case.from_row(c) for c in found if c is not None]


async def audience(info: Info) -> Audience:
    """Staff see all; a client, the current announcements affecting its account."""
    viewer = info.context.viewer
    if viewer.account_id is None:
        return Audience()
    row = await info.context.accounts.load(str(viewer.account_id))
    return Audience(str(viewer.account_id), str(row["tier"]) if row is not None else "")


@strawberry.type
class AnnouncementQuery:
    @strawberry.field(description="Announcements, the latest window first; with `caseId`, "
                                  "those the case is linked to. A client sees the current "
                                  "ones that affect its account.")
    async def announcements(self, info: Info, status: AnnouncementStatus | None = None,
                            case_id: UUID | None = None, first: int = 20,
                            after: str | None = None,
                            wait_for: WaitFor = None) -> Connection[Announcement]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        await services.wait_for(wait_for)
        if case_id is not None and await info.context.cases.load(str(case_id)) is None:
            raise NotFoundError(f"case {case_id} not found")
        view = services.announcements
        page = await services.read(view.page, await audience(info),
                                   status.value if status else None, first, after,
                                   str(case_id) if case_id else None)
        edges = [Edge(node=Announcement.from_row(r, viewer.account_id),
                      cursor_of=partial(view.cursor, r)) for r in page.rows]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor() if edges else None))

    @strawberry.field
    async def announcement(self, info: Info, id: UUID, wait_for: WaitFor = None) -> Announcement:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        await services.wait_for(wait_for)
        row = await services.read(services.announcements.get, await audience(info), str(id))
        if row is None:
            raise NotFoundError(f"announcement {id} not found")
        return Announcement.from_row(row, viewer.account_id)


@strawberry.input
class AnnouncementInput:
    title: str
    text: str
    starts_at: datetime
    ends_at: datetime | None = None
    services: list[str] | None = None
    plans: list[Tier] | None = strawberry.field(
        default=None, description="The plans whose clients it affects.")
    account_ids: list[UUID] | None = strawberry.field(
        default=None, description="The accounts it affects; with no plans either: everyone.")


@strawberry.type
class AnnouncementMutation:
    @strawberry.mutation(description="Announce maintenance or an incident: every affected "
                                     "client hears of it in its room, chats and mail.")
    async def publish_announcement(self, info: Info, kind: AnnouncementKind,
                                   input: AnnouncementInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.ANNOUNCE, None, desk.publish_announcement,
                          kind=kind.value, **_fields(input))

    @strawberry.mutation(description="Change what an announcement says or whom it affects; "
                                     "the affected clients hear the update.")
    async def update_announcement(self, info: Info, announcement_id: UUID,
                                  input: AnnouncementInput,
                                  expected_version: int | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.ANNOUNCE, None, desk.update_announcement,
                          announcement_id=announcement_id, expected_version=expected_version,
                          **_fields(input))

    @strawberry.mutation
    async def resolve_announcement(self, info: Info, announcement_id: UUID,
                                   text: str = "") -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.ANNOUNCE, None, desk.resolve_announcement,
                          announcement_id=announcement_id, text=text)

    @strawberry.mutation(description="Reply once to every open case linked to the "
                                     "announcement; sending the same text again is a no-op.")
    async def answer_linked_cases(self, info: Info, announcement_id: UUID,
                                  text: str) -> CommandResult:
        desk = info.context.services.desk
        viewer = info.context.viewer
        return await _run(info, Action.WORK_CASES, None, desk.answer_linked_cases,
                          announcement_id=announcement_id, text=text, agent=viewer.subject)


def _fields(input: AnnouncementInput) -> dict[str, Any]:
    return {"title": input.title, "text": input.text, "starts_at": input.starts_at,
            "ends_at": input.ends_at, "services": list(input.services or ()),
            "plans": [p.value for p in input.plans or ()],
            "accounts": list(input.account_ids or ())}
