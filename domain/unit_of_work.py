"""The aggregates a batch of commands reads and changes, held in memory until one save.

Group commit: commands decided together share one in-memory copy of each aggregate (read once,
changed in place by each command in turn, so two messages to one case both apply, in order) and
their events are saved in one transaction, in the order the commands made them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate


class UnitOfWork:
    def __init__(self, optimistic: bool = False) -> None:
        self.optimistic = optimistic
        """Whether commands may take a new message id for unknown without asking the store."""
        self.seen: dict[UUID, Aggregate | None] = {}
        """Every aggregate read or made so far; None for an id that does not exist."""
        self.events: list[Any] = []
        """The events to save, in the order the commands made them."""
        self._taken: dict[UUID, int] = {}

    def stage(self, *aggregates: Aggregate) -> None:
        """Take the events `aggregates` gained since they were last staged (one command's)."""
        for aggregate in aggregates:
            self.seen[aggregate.id] = aggregate
            pending = aggregate.pending_events
            self.events.extend(pending[self._taken.get(aggregate.id, 0):])
            self._taken[aggregate.id] = len(pending)

    def saved(self) -> list[Aggregate]:
        """Once `events` are saved: every aggregate read or made, its staged events cleared
        as recorded (one that changed without staging keeps them, and is not to be reused)."""
        for aggregate_id, staged in self._taken.items():
            aggregate = self.seen[aggregate_id]
            if aggregate is not None and len(aggregate.pending_events) == staged:
                aggregate.collect_events()
        return [a for a in self.seen.values() if a is not None]
