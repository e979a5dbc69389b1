"""The Interaction aggregate: one message on any channel, inbound or outbound.

Each message is its own small aggregate so busy conversations never collide on a version, and
its id derives from the channel's own message id so a redelivery fails on version 1.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError

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
    ) -> None:
        self.account_id = account_id
        self.case_id = case_id
        self.channel = channel
        self.direction = direction
        self.channel_allowed = channel_allowed
