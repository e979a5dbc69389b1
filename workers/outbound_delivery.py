"""The outbound delivery reactor: sends our messages (agents' replies, notices, room posts) out
on the client's channel, through the `MessageSender` registered for it.

It works from the `rooms` view (messages with delivery pending or retrying) and decides from
the Interaction aggregate itself, whose delivery state is the intent record:

- `attempt_delivery` is saved BEFORE the send and `record_delivery(receipt)` after it;
- a message whose last attempt has no outcome (the process died between send and record) is
  NOT sent again: Telegram has no idempotency key, so a resend could say it twice. It is
  marked failed, "outcome unknown: check the chat", for a person to look. A receipt that says
  the message "may have been delivered" (a timeout or a 5xx after the request went out) is
  treated the same way, for the same reason;
- a retryable failure (rate limit, connection refused) is retried with a growing pause, up to
  `max_attempts`; then it is failed for good.

Where a message goes: on `telegram` to the interaction's conversation (the chat id, or
`<chat>/<topic>` in a forum, which the sender turns into `message_thread_id`), and for a case
reply without one, to the conversation of the case's opening message, so a reply reaches the
topic the case began in; a `room` post to every Telegram chat bound to the account (in a forum,
its General topic). Channels with no sender registered (email, until its
adapter is added to `senders`) are left pending, untouched. A lease keeps it to one process.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from domain.application import CareDesk
from domain.errors import DomainError
from domain.interaction import Interaction
from domain.ports import DeliveryReceipt, MessageSender, OutboundMessage
from domain.values import Channel
from integrations.settings import Settings
from projections.directory import DirectoryView
from projections.rooms import RoomsView
from workers.lease import FileLease, Lease, PostgresLease

log = logging.getLogger(__name__)

ACTOR = "system:outbound-delivery"
OUTCOME_UNKNOWN = "outcome unknown: check the chat"
NO_CHAT = "no Telegram chat is linked to this room: the post is only in Carelog"
NO_CONVERSATION = "no conversation to send to: the case did not start on this channel"
_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)
_MAYBE_DELIVERED = "may have been delivered"


@dataclass
class _Retry:
    due: float
    error: str


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0


class OutboundDelivery:
    def __init__(self, desk: CareDesk, rooms: RoomsView, directory: DirectoryView,
                 senders: Mapping[str, MessageSender], *, max_attempts: int = 5,
                 min_backoff: float = 1.0, max_backoff: float = 300.0) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.desk = desk
        self.rooms = rooms
        self.directory = directory
        self.senders = senders
        """The sender of each channel: `telegram`, and `email` once its adapter is wired."""
        self.max_attempts = max_attempts
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stats = DeliveryStats()
        self._retries: dict[UUID, _Retry] = {}
        self._outcomes: dict[UUID, DeliveryReceipt] = {}
        """Sends whose outcome could not be recorded yet (the store failed after the send)."""
        self._sent_to: dict[UUID, set[str]] = {}
        """Room posts: the chats that have it already, so a retry skips them."""

    def pending(self) -> dict[str, str]:
        """Messages waiting for a retry, with the error each met (for status pages)."""
        return {str(k): r.error for k, r in dict(self._retries).items()}

    def round(self) -> int:
        """One pass over the undelivered messages; how many got an outcome recorded."""
        done = 0
        for row in self.rooms.undelivered(limit=500):
            interaction_id = UUID(row["id"])
            retry = self._retries.get(interaction_id)
            if retry is not None and time.monotonic() < retry.due:
                continue
            try:
                done += self.deliver(interaction_id)
            except DomainError as error:  # changed meanwhile: the view will catch up
                log.warning("delivery of %s skipped: %s", interaction_id, error)
        return done

    def deliver(self, interaction_id: UUID) -> bool:
        """Send one message if it is still due; True when an outcome was recorded."""
        interaction = self.desk.interaction(interaction_id)
        if interaction.direction != "outbound" or interaction.delivery in ("delivered",
                                                                           "failed"):
            return False
        sender = self.senders.get(_sending_channel(interaction.channel))
        if sender is None:
            return False  # no adapter for this channel here: it waits, untouched
        known = self._outcomes.get(interaction_id)
        if interaction.delivery == "attempted":
            receipt = known or DeliveryReceipt(False, error=OUTCOME_UNKNOWN)
            if known is None:
                self.stats.unknown += 1
                log.error("message %s was being sent when the last run stopped: %s",
                          interaction_id, OUTCOME_UNKNOWN)
            return self._record(interaction, receipt)
        targets = self._targets(interaction)
        if not targets:
            return self._record(interaction, DeliveryReceipt(False, error=(
                NO_CHAT if interaction.channel == Channel.ROOM.value else NO_CONVERSATION)))
        self.desk.attempt_delivery(interaction_id=interaction_id, actor=ACTOR)
        receipt = self._send(interaction, sender, targets)
        attempt = interaction.attempts + 1
        if not receipt.delivered and receipt.retryable:
            if _MAYBE_DELIVERED in (receipt.error or ""):
                receipt = DeliveryReceipt(False, error=f"{receipt.error}; {OUTCOME_UNKNOWN}")
            elif attempt >= self.max_attempts:
                receipt = DeliveryReceipt(False, error=f"{receipt.error} (gave up after "
                                                       f"{attempt} attempts)")
        self._outcomes[interaction_id] = receipt
        return self._record(interaction, receipt)

    def _send(self, interaction: Interaction, sender: MessageSender,
              targets: list[str]) -> DeliveryReceipt:
        """Send to every target; for a room post, to each chat that lacks it."""
        done = self._sent_to.setdefault(interaction.id, set())
        ids: list[str] = []
        for conversation in targets:
            if conversation in done:
                continue
            receipt = sender.send(OutboundMessage(
                channel=sender.channel, conversation=conversation, text=interaction.text,
                message_id=str(interaction.id)))
            if not receipt.delivered:
                return receipt
            done.add(conversation)
            ids.append(receipt.external_id or "")
        return DeliveryReceipt(True, " ".join(ids))

    def _record(self, interaction: Interaction, receipt: DeliveryReceipt) -> bool:
        self.desk.record_delivery(interaction_id=interaction.id, receipt=receipt, actor=ACTOR)
        self._outcomes.pop(interaction.id, None)
        if receipt.delivered:
            self.stats.delivered += 1
        elif receipt.retryable:
            self.stats.retried += 1
            self._defer(interaction, receipt.error or "")
            return True
        else:
            self.stats.failed += 1
            log.warning("message %s not delivered: %s", interaction.id, receipt.error)
        self._retries.pop(interaction.id, None)
        self._sent_to.pop(interaction.id, None)
        return True

    def _defer(self, interaction: Interaction, error: str) -> None:
        wait = min(self.min_backoff * 2 ** max(interaction.attempts - 1, 0), self.max_backoff)
        named = _RETRY_AFTER.search(error)
        if named is not None:
            wait = max(wait, float(named.group(1)))
        self._retries[interaction.id] = _Retry(time.monotonic() + wait, error)
        log.info("message %s: retry in %.0fs (%s)", interaction.id, wait, error)

    def _targets(self, interaction: Interaction) -> list[str]:
        """The conversations to send to: a chat id (or address) for each."""
        if interaction.channel == Channel.ROOM.value:
            return self.directory.bound_chats(str(interaction.account_id),
                                              Channel.TELEGRAM.value)
        if interaction.conversation:
            return [interaction.conversation]
        if interaction.case_id is None:
            return []
        opening = self.desk.case(interaction.case_id).opening_interaction_id
        first = self.desk.interaction(opening)
        if first.channel != interaction.channel or not first.conversation:
            return []
        return [first.conversation]


def _sending_channel(channel: str) -> str:
    """Room posts go out on Telegram; every other channel sends its own."""
    return Channel.TELEGRAM.value if channel == Channel.ROOM.value else channel


def delivery_lease(settings: Settings) -> Lease:
    if settings.database_url is not None:
        return PostgresLease(settings.database_url, "carelog:outbound-delivery")
    return FileLease(settings.data_dir / "outbound-delivery.lock")
