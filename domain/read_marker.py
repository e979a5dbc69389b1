"""The ReadMarker aggregate: how far one staff member has read one account's room.

Unread counts are what a person has not seen yet, so the marker is theirs, per room; it only
moves forward. Its id derives from the room and the person: no lookup needed.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event


class ReadMarker(Aggregate):
    """A staff member's read position in an account's room (a log position)."""

    TOPIC = "carelog:ReadMarker"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:ReadMarker.Created"

    @staticmethod
    def id_for(account_id: UUID, reader: str) -> UUID:
        return uuid5(account_id, f"room-read/{reader}")

    @event("Started", topic="carelog:ReadMarker.Started")
    def __init__(self, id: UUID, account_id: UUID, reader: str, occurred_at: datetime,
                 actor: str) -> None:
        self.account_id = account_id
        self.reader = reader
        self.position = 0

    def mark(self, position: int, occurred_at: datetime, actor: str) -> None:
        """Read up to `position`; an older position than already read changes nothing."""
        if position > self.position:
            self._marked(self.account_id, self.reader, position, occurred_at, actor)

    @event("Marked", topic="carelog:ReadMarker.Marked")
    def _marked(self, account_id: UUID, reader: str, position: int, occurred_at: datetime,
                actor: str) -> None:
        self.position = position
