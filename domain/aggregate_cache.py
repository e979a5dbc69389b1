"""The chats, accounts and cases that batches of inbound messages read, kept between batches.

Every batch reads the chats, accounts and cases of its messages, and replaying their histories
each time cost more than deciding the messages. This keeps the state each batch saved; the
next batch asks the store only for the events recorded since (one query for all of them,
usually answering nothing), so an aggregate changed meanwhile, by any process, is brought up to
date before it is used. An aggregate is taken out while a batch uses it and put back only once
that batch saved: a batch that failed leaves nothing half-decided behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate


class AggregateCache:
    def __init__(self, kinds: tuple[type[Aggregate], ...], max_size: int = 10_000) -> None:
        self.kinds = kinds
        """The aggregates worth keeping: those read again by the next batches."""
        self.max_size = max_size
        self._held: dict[UUID, Aggregate] = {}
        self._lock = threading.Lock()

    def take(self, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates held for these ids, taken out (the caller's alone until put back)."""
        with self._lock:
            return {i: a for i in ids if (a := self._held.pop(i, None)) is not None}

    def peek(self, ids: Iterable[UUID]) -> list[Aggregate]:
        """The aggregates held for these ids, left where they are: to be read, not changed."""
        with self._lock:
            return [a for i in ids if (a := self._held.get(i)) is not None]

    def put(self, aggregates: Iterable[Aggregate | None]) -> None:
        """Keep these saved aggregates (of the kinds kept; none with unsaved events), the
        longest unused dropped first beyond `max_size`."""
        kept = [a for a in aggregates
                if isinstance(a, self.kinds) and not a.pending_events]
        with self._lock:
            for aggregate in kept:
                held = self._held.pop(aggregate.id, None)
                self._held[aggregate.id] = (held if held is not None
                                            and held.version > aggregate.version else aggregate)
            while len(self._held) > self.max_size:
                del self._held[next(iter(self._held))]

    def __len__(self) -> int:
        return len(self._held)
