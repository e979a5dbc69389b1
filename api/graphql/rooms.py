"""Rooms: one chat room per account with every channel's messages, its queries and commands.

`rooms` lists the rooms by how long the client has waited, with the viewer's unread count;
`room(accountId) { messages(first, before) }` pages back through a room's history; `postToRoom`
writes to it (and to every chat bound to it), `markRoomRead` moves the viewer's read marker,
`issueLinkCode` binds a client's Telegram group, `sendChatMessage` is a client's web chat or
portal message, and `logCall` records a phone call.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import strawberry

from api.auth import Action, authorize
from api.graphql.context import Info
from api.graphql.mutations import _run
from api.graphql.objects import Account
from api.graphql.types import Channel, CommandResult, Connection, Edge, PageInfo
from domain.errors import InvalidInputError, NotFoundError
from domain.ports import InboundMessage
from domain.values import Channel as Channels
from projections.rooms import RoomFilter

CLIENT_CHAT_CHANNELS = (Channels.WEB_CHAT, Channels.PORTAL)


@strawberry.type(description="A file that came with a message (its content is not kept).")
class MessageAttachment:
    filename: str
    content_type: str
    size: int


@strawberry.type(description="One entry of a room: a message on any channel, or a note.")
class RoomMessage:
    id: UUID
    kind: str = strawberry.field(description="`message`, or `note` (for the manager only).")
    occurred_at: datetime
    notification_id: int
    case_id: UUID | None
    channel: Channel
    direction: str = strawberry.field(description="`inbound`, `outbound` or `note`.")
    author: str
    contact_id: UUID | None
    text: str = strawberry.field(description="As received: render it as text, never as HTML.")
    subject: str | None
    edited: bool
    attachments: list[MessageAttachment]
    automated: bool = strawberry.field(description="An auto-reply: recorded, never answered.")
    flagged: str | None = strawberry.field(description="Why a person must look at it first.")
    channel_allowed: bool
    delivery: str | None = strawberry.field(
        description="Our messages on sent channels: pending, sending, delivered, retrying, "
                    "failed.")
    delivery_error: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> RoomMessage:
        return cls(
            id=UUID(r["id"]), kind=r["kind"], occurred_at=r["occurred_at"],
            notification_id=r["position"], case_id=UUID(r["case_id"]) if r["case_id"] else None,
            channel=Channels(r["channel"]), direction=r["direction"], author=r["author"],
            contact_id=UUID(r["contact_id"]) if r["contact_id"] else None, text=r["text"],
            subject=r["subject"], edited=bool(r["edited"]),
            attachments=[MessageAttachment(**a) for a in r["attachments"]],
            automated=bool(r["automated"]), flagged=r["flagged"],
            channel_allowed=bool(r["channel_allowed"]), delivery=r["delivery"],
            delivery_error=r["delivery_error"])


@strawberry.type(description="An older page of a room: `hasPreviousPage` says more lie before.")
class RoomMessages:
    edges: list[Edge[RoomMessage]]
    has_previous_page: bool
    start_cursor: str | None = strawberry.field(description="Pass as `before` for older ones.")


@strawberry.type(description="An account's chat room.")
class Room:
    account_id: UUID
    message_count: int
    last_activity_at: datetime | None
    last_message: str | None
    waiting_since: datetime | None = strawberry.field(
        description="Since when the client's oldest unanswered message waits; null if none.")
    unread: int = strawberry.field(description="Client messages and notes the viewer has not "
                                                "marked read.")
    last_notification_id: int

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Room:
        return cls(account_id=UUID(r["account_id"]), message_count=r["message_count"],
                   last_activity_at=r["last_activity_at"], last_message=r["last_message"],
                   waiting_since=r["waiting_since"], unread=int(r["unread"]),
                   last_notification_id=r["last_position"])

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        row = await info.context.accounts.load(str(self.account_id))
        return Account.from_row(row, info.context.services.settings.currency) if row else None

    @strawberry.field(description="The newest `first` messages before `before`, oldest first.")
    async def messages(self, info: Info, first: int = 50,
                       before: str | None = None) -> RoomMessages:
        services = info.context.services
        staff = info.context.viewer.account_id is None
        page = await services.read(services.rooms.messages, str(self.account_id), first, before,
                                   staff)
        edges = [Edge(node=RoomMessage.from_row(r), cursor_of=partial(str, r["cursor"]))
                 for r in page.rows]
        return RoomMessages(edges=edges, has_previous_page=page.has_next,
                            start_cursor=page.rows[0]["cursor"] if page.rows else None)


@strawberry.type(description="A client message no account could be found for, held for a "
                               "person to route to an account or dismiss.")
class StrayMessage:
    id: UUID
    channel: Channel
    sender: str
    sender_name: str
    subject: str | None
    text: str = strawberry.field(description="As received: render it as text, never as HTML.")
    occurred_at: datetime
    reason: str
    status: str
    account_id: UUID | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> StrayMessage:
        return cls(id=UUID(r["id"]), channel=Channels(r["channel"]), sender=r["sender"],
                   sender_name=r["sender_name"], subject=r["subject"], text=r["text"],
                   occurred_at=r["occurred_at"], reason=r["reason"], status=r["status"],
                   account_id=UUID(r["account_id"]) if r["account_id"] else None)


@strawberry.enum
class StrayStatus(Enum):
    HELD = "held"
    ROUTED = "routed"
    DISMISSED = "dismissed"


@strawberry.enum
class RoomOrder(Enum):
    WAITING = "WAITING"
    ACTIVITY = "ACTIVITY"


@strawberry.input
class RoomsFilter:
    manager: str | None = None
    waiting_only: bool = False


@strawberry.type
class RoomQuery:
    @strawberry.field(description="Rooms, longest-waiting client first (or latest activity).")
    async def rooms(self, info: Info, filter: RoomsFilter | None = None, first: int = 50,
                    after: str | None = None, order_by: RoomOrder = RoomOrder.WAITING,
                    wait_for: int | None = None) -> Connection[Room]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_CASES)
        services = info.context.services
        await services.wait_for(wait_for)
        where = RoomFilter(
            manager=filter.manager if filter else None,
            waiting_only=filter.waiting_only if filter else False,
            account_ids=None if viewer.account_id is None else (str(viewer.account_id),))
        page = await services.read(services.rooms.rooms, viewer.subject, where, first, after,
                                   order_by.value)
        edges = [Edge(node=Room.from_row(r), cursor_of=partial(str, r["cursor"]))
                 for r in page.rows]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=page.rows[-1]["cursor"] if page.rows
            else None))

    @strawberry.field(description="An account's room; null-free: an account without messages "
                                  "has an empty room.")
    async def room(self, info: Info, account_id: UUID, wait_for: int | None = None) -> Room:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_CASES, account_id)
        services = info.context.services
        await services.wait_for(wait_for)
        if await info.context.accounts.load(str(account_id)) is None:
            raise NotFoundError(f"account {account_id} not found")
        row = await services.read(services.rooms.room, str(account_id), viewer.subject)
        return Room.from_row(row) if row else Room(
            account_id=account_id, message_count=0, last_activity_at=None, last_message=None,
            waiting_since=None, unread=0, last_notification_id=0)


    @strawberry.field(description="Messages from senders no account could be found for.")
    async def stray_messages(self, info: Info, status: StrayStatus = StrayStatus.HELD,
                             first: int = 50, wait_for: int | None = None) -> list[StrayMessage]:
        authorize(info.context.viewer, Action.WORK_CASES)
        services = info.context.services
        await services.wait_for(wait_for)
        rows = await services.read(services.rooms.strays, status.value, first)
        return [StrayMessage.from_row(r) for r in rows]


@strawberry.type(description="A one-time code: type `/link CODE` in the client's chat.")
class LinkCodeResult:
    code: str
    expires_at: datetime
    notification_id: int


@strawberry.input
class LogCallInput:
    account_id: UUID
    direction: str = strawberry.field(description="`inbound` (the client called) or "
                                                  "`outbound`.")
    number: str
    duration_seconds: int
    outcome: str = strawberry.field(description="answered, missed, voicemail, callback ...")
    notes: str
    ivr_choice: str | None = None
    contact_id: UUID | None = None
    call_id: str | None = strawberry.field(
        default=None, description="The telephony system's call id: a repeat is a duplicate.")
    case_id: UUID | None = None
    occurred_at: datetime | None = None


@strawberry.type
class RoomMutation:
    @strawberry.mutation(description="A staff message in the room, sent on to bound chats.")
    async def post_to_room(self, info: Info, account_id: UUID, text: str,
                           case_id: UUID | None = None,
                           client_message_id: str | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, account_id, desk.post_to_room,
                          account_id=account_id, text=text, case_id=case_id,
                          author=info.context.viewer.subject,
                          external_message_id=client_message_id)

    @strawberry.mutation(description="The viewer has read the room up to this notificationId "
                                      "(its newest message when omitted).")
    async def mark_room_read(self, info: Info, account_id: UUID,
                             up_to: int | None = None) -> CommandResult:
        services = info.context.services
        viewer = info.context.viewer
        authorize(viewer, Action.READ_CASES, account_id)
        if up_to is None:
            row = await services.read(services.rooms.room, str(account_id), viewer.subject)
            up_to = row["last_position"] if row else 0
        return await _run(info, Action.READ_CASES, account_id, services.desk.mark_room_read,
                          account_id=account_id, reader=viewer.subject, position=up_to)

    @strawberry.mutation(description="A one-time code that links a client's Telegram group "
                                      "(or one contact's private chat) to the account's room.")
    async def issue_link_code(self, info: Info, account_id: UUID,
                              contact_id: UUID | None = None) -> LinkCodeResult:
        viewer = info.context.viewer
        authorize(viewer, Action.MANAGE_ACCOUNTS, account_id)
        result = await info.context.services.command(
            info.context.services.desk.issue_link_code, account_id=account_id,
            contact_id=contact_id, actor=viewer.actor)
        return LinkCodeResult(code=result.extra["code"], expires_at=result.extra["expiresAt"],
                              notification_id=result.notification_id)

    @strawberry.mutation(description="The company's mail domains: mail from an unknown address "
                                      "there reaches this account.")
    async def set_email_domains(self, info: Info, account_id: UUID,
                                domains: list[str]) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.set_email_domains,
                          account_id=account_id, domains=domains)

    @strawberry.mutation(description="The account's contacts get the client portal whatever "
                                      "the plan; with `selfRegistration`, anyone at its email "
                                      "domains may sign up by mail.")
    async def grant_portal_access(self, info: Info, account_id: UUID,
                                  self_registration: bool = False) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.grant_portal_access,
                          account_id=account_id, self_registration=self_registration)

    @strawberry.mutation(description="No client portal for the account's contacts, whatever "
                                      "the plan: their sessions and tokens are refused.")
    async def revoke_portal_access(self, info: Info, account_id: UUID,
                                   reason: str) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.MANAGE_ACCOUNTS, account_id, desk.revoke_portal_access,
                          account_id=account_id, reason=reason)

    @strawberry.mutation(description="A client's message in the web chat or the portal.")
    async def send_chat_message(self, info: Info, account_id: UUID, text: str,
                                channel: Channel = Channels.WEB_CHAT,
                                contact_id: UUID | None = None,
                                client_message_id: str | None = None,
                                occurred_at: datetime | None = None) -> CommandResult:
        authorize(info.context.viewer, Action.SUBMIT_REQUESTS, account_id)
        if channel not in CLIENT_CHAT_CHANNELS:
            raise InvalidInputError("chat messages come from web_chat or portal")
        viewer = info.context.viewer
        contact = UUID(viewer.subject) if viewer.account_id is not None else contact_id
        services = info.context.services
        conversation = str(contact or account_id)
        message = InboundMessage(
            channel=channel.value, external_id=client_message_id or str(uuid4()),
            conversation=conversation, sender=viewer.subject, sender_name=viewer.subject,
            text=text, occurred_at=occurred_at or services.desk.clock.now())
        return await _run(info, Action.SUBMIT_REQUESTS, account_id,
                          services.desk.receive_message, message=message,
                          account_id=account_id, contact_id=contact)

    @strawberry.mutation(description="Receive a held message at this account, as if it had "
                                      "just arrived there.")
    async def route_stray_message(self, info: Info, stray_message_id: UUID, account_id: UUID,
                                  contact_id: UUID | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, account_id, desk.route_stray_message,
                          stray_message_id=stray_message_id, account_id=account_id,
                          contact_id=contact_id)

    @strawberry.mutation(description="Drop a held message (spam, wrong address).")
    async def dismiss_stray_message(self, info: Info, stray_message_id: UUID,
                                    reason: str) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, None, desk.dismiss_stray_message,
                          stray_message_id=stray_message_id, reason=reason)

    @strawberry.mutation(description="A phone call, logged by an agent or a telephony system.")
    async def log_call(self, info: Info, input: LogCallInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WORK_CASES, input.account_id, desk.log_call,
                          account_id=input.account_id, direction=input.direction,
                          number=input.number, duration_seconds=input.duration_seconds,
                          outcome=input.outcome, notes=input.notes,
                          ivr_choice=input.ivr_choice, contact_id=input.contact_id,
                          call_id=input.call_id, case_id=input.case_id,
                          occurred_at=input.occurred_at)
