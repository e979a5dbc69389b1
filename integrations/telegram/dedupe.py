"""Remembering which updates were handled.

The store is the real de-duplication: an update's messages have deterministic ids, so a second
delivery fails on version 1 and is answered as a duplicate. These two helpers only spare work:
`UpdateOffset` is the long-polling offset, moved past an update only once it was handled (a
crash re-reads, never loses); `SeenUpdates` answers "handled already?" for recent update ids.
Both work on the set of ids seen, not on "greater than the last one": after a week without
updates Telegram picks the next id at random.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class UpdateOffset:
    """The `offset` for `getUpdates`: one above the highest update id handled (None at first,
    which asks Telegram for its oldest unconfirmed update)."""

    def __init__(self, start: int | None = None) -> None:
        self._next = start
        self._lock = threading.Lock()

    @property
    def next(self) -> int | None:
        return self._next

    def handled(self, update_id: int) -> None:
        with self._lock:
            if self._next is None or update_id >= self._next:
                self._next = update_id + 1


class SeenUpdates:
    """The last `capacity` update ids handled, for skipping a redelivery cheaply."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, update_id: object) -> bool:
        with self._lock:
            return update_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, update_id: int) -> bool:
        """Remember `update_id`; False when it was remembered already."""
        with self._lock:
            if update_id in self._ids:
                self._ids.move_to_end(update_id)
                return False
            self._ids[update_id] = None
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return True
