"""The Interaction aggregate: one message on any channel, inbound or outbound.

Each message is its own small aggregate so busy conversations never collide on a version, and
its id derives from the channel's own message id so a redelivery fails on version 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, InvalidStateError

MAX_TEXT = 32_000


def clean_text(text: str) -> str:
    """Message text is stored as received; only emptiness and size are refused."""
    if not text.strip():
        raise InvalidInputError("message text must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"message text is longer than {MAX_TEXT} characters")
    return text


class Interaction(Aggregate):
    """A message between a client and us on one channel."""

    TOPIC = "carelog:Interaction"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Interaction.Created"

    @staticmethod
    def id_for(account_id: UUID, channel: str, direction: str, external_id: str) -> UUID:
        """Scoped to the account: two clients may well reuse one another's message ids."""
        return uuid5(account_id, f"interaction/{channel}/{direction}/{external_id}")

    @event("Recorded", topic="carelog:Interaction.Recorded")
    def __init__(
        self,
        id: UUID,
        account_id: UUID,
        case_id: UUID | None,
        channel: str,
        direction: str,
        external_id: str,
        sender: str,
        contact_id: UUID | None,
        text: str,
        channel_allowed: bool,
        occurred_at: datetime,
        actor: str,
        conversation: str = "",
        subject: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        automated: bool = False,
        flagged: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.account_id = account_id
        self.case_id = case_id
        self.channel = channel
        self.direction = direction
        self.channel_allowed = channel_allowed
        self.conversation = conversation
        self.automated = automated
        self.text = text
        self.edits: list[str] = []
        self.delivery: str | None = None  # outbound only: attempted, delivered, failed
        self.attempts = 0

    # Commands: guards first, then the event.

    def edit(self, edit_id: str, text: str, occurred_at: datetime, actor: str) -> bool:
        """The client edited the message on its channel; False when this edit is known."""
        if edit_id in self.edits:
            return False
        self._edit(edit_id, clean_text(text), self.account_id, occurred_at, actor)
        return True

    def attempt_delivery(self, occurred_at: datetime, actor: str) -> None:
        self._check_outbound()
        if self.delivery == "delivered":
            raise InvalidStateError("the message is already delivered")
        self._attempt_delivery(self.attempts + 1, self.account_id, occurred_at, actor)

    def record_delivery(self, delivered: bool, external_id: str | None, error: str | None,
                        retryable: bool, occurred_at: datetime, actor: str) -> None:
        self._check_outbound()
        if self.delivery == "delivered":
            raise InvalidStateError("the message is already delivered")
        if delivered:
            self._delivered(external_id or "", self.account_id, occurred_at, actor)
        else:
            self._delivery_failed(error or "unknown error", retryable, self.account_id, occurred_at,
                                  actor)

    def _check_outbound(self) -> None:
        if self.direction != "outbound":
            raise InvalidStateError("only our own messages are delivered")

    # Events: each names the account, so a room's listeners can tell theirs apart.

    @event("Edited", topic="carelog:Interaction.Edited")
    def _edit(self, edit_id: str, text: str, account_id: UUID, occurred_at: datetime,
              actor: str) -> None:
        self.edits.append(edit_id)
        self.text = text

    @event("DeliveryAttempted", topic="carelog:Interaction.DeliveryAttempted")
    def _attempt_delivery(self, attempt: int, account_id: UUID, occurred_at: datetime,
                          actor: str) -> None:
        self.attempts = attempt
        self.delivery = "attempted"

    @event("Delivered", topic="carelog:Interaction.Delivered")
    def _delivered(self, external_id: str, account_id: UUID, occurred_at: datetime,
                   actor: str) -> None:
        self.delivery = "delivered"

    @event("DeliveryFailed", topic="carelog:Interaction.DeliveryFailed")
    def _delivery_failed(self, error: str, retryable: bool, account_id: UUID,
                         occurred_at: datetime, actor: str) -> None:
        self.delivery = "failed" if not retryable else "retrying"
