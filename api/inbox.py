"""Where every channel's client messages enter Carelog: find the account, then route or hold.

A Telegram chat is known by its link to a room; mail, web forms and calls by the sender's
address or number in the `directory` view (a contact's address, else the company's mail
domain). A message nobody can be found for is held as a stray message for a person to route:
nothing is lost. A message on a channel the client's plan lacks is recorded and answered with
the channels the client may use (never for auto-replies, which are never answered).

Messages delivered at the same moment from concurrent requests are delivered together
(`GroupCommit`): their chats read at once, then one `CareDesk.receive_messages`, one
transaction for all of them; each request gets its own outcome. One message is a batch of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from uuid import UUID

from eventsourcing.domain import Aggregate

from api.group_commit import GroupCommit
from domain.application import Arrival, CareDesk, CommandResult, RefusedChannelError
from domain.conversation import Conversation
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

    @classmethod
    def of(cls, result: CommandResult, status: str = "routed",
           reason: str | None = None) -> Delivery:
        """What a command made: `status`, or `duplicate` when it was there already."""
        return cls("duplicate" if result.duplicate else status, dict(result.ids),
                   result.notification_id, reason=reason)

    @classmethod
    def refused(cls, refusal: RefusedChannelError) -> Delivery:
        """Recorded all the same, and to be answered with the channels the plan allows."""
        return cls("refused", dict(refusal.result.ids), refusal.result.notification_id,
                   refusal.allowed, str(refusal))


@dataclass(frozen=True, slots=True)
class _Posted:
    """One message handed to `Inbox.deliver`, waiting for its batch."""

    message: InboundMessage
    actor: str
    priority: str
    topic: str | None


class Inbox:
    def __init__(self, desk: CareDesk, directory: DirectoryView,
                 cases: CaseQueuesView | None = None) -> None:
        self.desk = desk
        self.directory = directory
        self.cases = cases
        """Resolves short case tags (`CL-1A2B3C4D`) to cases; without it tags are ignored."""
        self.delivering: GroupCommit[_Posted, Delivery] = GroupCommit(self._deliver_together)

    def find(self, message: InboundMessage,
             chats: Mapping[UUID, Aggregate | None] | None = None,
             ) -> tuple[Match | None, str | None]:
        """The account (and contact) a message comes from, or why none could be found.
        `chats`: the conversations already read (`CareDesk.conversations`)."""
        if message.channel == Channel.TELEGRAM.value:
            if chats is None:
                chat = self.desk.conversation(message.channel, message.conversation)
            else:
                found = chats.get(Conversation.id_for(message.channel, message.conversation))
                chat = found if isinstance(found, Conversation) and not found.unbound else None
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
        """Route or hold one message, together with those delivered at the same moment."""
        return self.delivering.submit(_Posted(message, actor, priority, topic))

    def _deliver_together(self, batch: Sequence[_Posted]) -> list[Delivery | Exception]:
        outcomes: dict[int, Delivery | Exception] = {}
        chats = self.desk.conversations(
            (p.message.channel, p.message.conversation) for p in batch
            if p.message.channel == Channel.TELEGRAM.value)
        arrivals: dict[int, Arrival] = {}
        for i, posted in enumerate(batch):
            try:
                match, reason = self.find(posted.message, chats)
                if match is None:
                    outcomes[i] = self._hold(posted, reason or "unknown")
                    continue
                arrivals[i] = Arrival(
                    message=self._resolve_tag(posted.message, match.account_id),
                    account_id=match.account_id, contact_id=match.contact_id,
                    priority=posted.priority, topic=posted.topic, actor=posted.actor)
            except Exception as error:  # its own caller's
                outcomes[i] = error
        received = (self.desk.receive_messages(list(arrivals.values()), known=chats)
                    if arrivals else [])
        for (i, arrival), outcome in zip(arrivals.items(), received, strict=True):
            try:
                outcomes[i] = self._answer(arrival, outcome)
            except Exception as error:
                outcomes[i] = error
        return [outcomes[i] for i in range(len(batch))]

    def _hold(self, posted: _Posted, reason: str) -> Delivery:
        held = self.desk.hold_stray_message(message=posted.message, reason=reason,
                                            actor=posted.actor)
        return Delivery.of(held, "held", reason)

    def _answer(self, arrival: Arrival, outcome: CommandResult | Exception) -> Delivery:
        """What became of a received message; a refused one is answered in its channel."""
        if isinstance(outcome, RefusedChannelError):
            message = arrival.message
            if not message.automated:
                self.desk.send_notice(
                    account_id=arrival.account_id, channel=message.channel,
                    conversation=message.conversation, text=str(outcome),
                    reply_to=message.external_id, actor=arrival.actor)
            return Delivery.refused(outcome)
        if isinstance(outcome, Exception):
            raise outcome
        return Delivery.of(outcome)

    def _resolve_tag(self, message: InboundMessage, account_id: UUID) -> InboundMessage:
        """A short case tag names a case of this account, or nothing (never another's)."""
        ref = message.case_ref
        if ref is None or not ref.upper().startswith(TAG_PREFIX):
            return message
        found = (self.cases.by_reference(str(account_id), ref[len(TAG_PREFIX):])
                 if self.cases is not None else [])
        return replace(message, case_ref=found[0] if len(found) == 1 else None)

