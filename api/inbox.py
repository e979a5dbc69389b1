"""Where every channel's client messages enter Carelog: find the account, then route or hold.

A Telegram chat is known by its link to a room; mail, web forms and calls by the sender's
address or number in the `directory` view (a contact's address, else the company's mail
domain). A message nobody can be found for is held as a stray message for a person to route:
nothing is lost. A message on a channel the client's plan lacks is recorded and answered with
the channels the client may use (never for auto-replies, which are never answered).

Messages delivered at the same moment from concurrent requests are received together: one
transaction for all of them (`GroupCommit` over `CareDesk.receive_messages`), each request
answered with its own outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from uuid import UUID

from api.group_commit import GroupCommit
from domain.application import Arrival, CareDesk, CommandResult, RefusedChannelError
from domain.ports import InboundMessage
from domain.values import Channel
from integrations.email.case_tags import PREFIX as TAG_PREFIX
from projections.case_queues import CaseQueuesView
from projections.directory import DirectoryView, Match


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one inbound message."""

    status: str
    """`routed`, `duplicate`, `refused` (recorded, answered with the allowed channels) or
    `held` (no account found: waits as a stray message)."""
    ids: dict[str, UUID] = field(default_factory=dict)
    notification_id: int = 0
    allowed_channels: list[str] = field(default_factory=list)
    reason: str | None = None


class Inbox:
    def __init__(self, desk: CareDesk, directory: DirectoryView,
                 cases: CaseQueuesView | None = None) -> None:
        self.desk = desk
        self.directory = directory
        self.cases = cases
        """Resolves short case tags (`CL-1A2B3C4D`) to cases; without it tags are ignored."""
        self.receiving: GroupCommit[Arrival, CommandResult] = GroupCommit(
            desk.receive_messages)

    def find(self, message: InboundMessage) -> tuple[Match | None, str | None]:
        """The account (and contact) a message comes from, or why none could be found."""
        if message.channel == Channel.TELEGRAM.value:
            chat = self.desk.conversation(message.channel, message.conversation)
            if chat is None:
                return None, "the Telegram chat is not linked to an account"
            return Match(chat.account_id, chat.contact_id), None
        if message.channel == Channel.PHONE.value:
            matches = self.directory.find_phone(message.sender)
        else:
            matches = self.directory.find_email(message.sender)
        accounts = {m.account_id for m in matches}
        if not accounts:
            return None, f"no account knows {message.sender}"
        if len(accounts) > 1:
            return None, f"{message.sender} belongs to {len(accounts)} accounts"
        return matches[0], None

    def deliver(self, message: InboundMessage, actor: str,
                priority: str = "normal", topic: str | None = None) -> Delivery:
        match, reason = self.find(message)
        if match is None:
            held = self.desk.hold_stray_message(message=message, reason=reason or "unknown",
                                                actor=actor)
            return Delivery("duplicate" if held.duplicate else "held", dict(held.ids),
                            held.notification_id, reason=reason)
        message = self._resolve_tag(message, match.account_id)
        try:
            result = self.receiving.submit(Arrival(
                message=message, account_id=match.account_id, contact_id=match.contact_id,
                priority=priority, topic=topic, actor=actor))
        except RefusedChannelError as refused:
            if not message.automated:
                self.desk.send_notice(
                    account_id=match.account_id, channel=message.channel,
                    conversation=message.conversation, text=str(refused),
                    reply_to=message.external_id, actor=actor)
            return Delivery("refused", dict(refused.result.ids),
                            refused.result.notification_id, refused.allowed, str(refused))
        return _delivery(result)

    def _resolve_tag(self, message: InboundMessage, account_id: UUID) -> InboundMessage:
        """A short case tag names a case of this account, or nothing (never another's)."""
        ref = message.case_ref
        if ref is None or not ref.upper().startswith(TAG_PREFIX):
            return message
        found = (self.cases.by_reference(str(account_id), ref[len(TAG_PREFIX):])
                 if self.cases is not None else [])
        return replace(message, case_ref=found[0] if len(found) == 1 else None)


def _delivery(result: CommandResult) -> Delivery:
    return Delivery("duplicate" if result.duplicate else "routed", dict(result.ids),
                    result.notification_id)
