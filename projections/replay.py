"""As-of answers: the log replayed, up to a moment in business time, into throwaway views.

The projections and the runner are the ones that keep the live views; only the log (events
that occurred after the moment are left out) and the store (SQLite in memory) differ, so an
as-of answer is the answer the live view would have given at that moment, and the live views
are never touched. The latest few replays are kept, keyed by moment and log head.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from domain.errors import InvalidInputError
from projections.projection import Projection
from projections.runner import ApplicationLog, ProjectionRunner
from projections.store import SQLiteViewStore, ViewStore


class AsOfLog:
    """An application's log as it stood in business time at `as_of`, for the given topics."""

    def __init__(self, log: ApplicationLog, as_of: datetime, topics: frozenset[str]) -> None:
        self.log = log
        self.as_of = as_of
        self.topics = sorted(topics)
        self._decoded: dict[int, Any] = {}

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        while True:
            page = self.log.app.recorder.select_notifications(
                start=after, limit=limit, topics=self.topics, inclusive_of_start=False)
            if not page:
                return []
            kept = [n for n in page if self._occurred_in_time(n)]
            if kept:
                return kept
            after = page[-1].id

    def _occurred_in_time(self, notification: Notification) -> bool:
        event = self.log.decode(notification)
        if event.occurred_at > self.as_of:
            return False
        self._decoded[notification.id] = event
        return True

    def decode(self, notification: Notification) -> Any:
        event = self._decoded.pop(notification.id, None)
        return event if event is not None else self.log.decode(notification)

    def head(self) -> int:
        return self.log.head()


class Replays:
    """Builds and keeps as-of views; one replay runs at a time (they are CPU-bound)."""

    def __init__(self, log: ApplicationLog, projections: Callable[[], Sequence[Projection]],
                 page_size: int = 2000, keep: int = 4) -> None:
        self.log = log
        self.projections = projections
        self.page_size = page_size
        self.keep = keep
        self._kept: OrderedDict[tuple[datetime, int, tuple[str, ...]], ViewStore] = OrderedDict()
        self._lock = threading.Lock()

    def views(self, as_of: datetime, names: Sequence[str]) -> ViewStore:
        """A store holding the named views as they stood at `as_of` (business time)."""
        if as_of.tzinfo is None:
            raise InvalidInputError("asOf must carry a timezone")
        wanted = [p for p in self.projections() if p.name in names]
        key = (as_of, self.log.head(), tuple(sorted(p.name for p in wanted)))
        with self._lock:
            store = self._kept.get(key)
            if store is not None:
                self._kept.move_to_end(key)
                return store
            store = self._replay(as_of, wanted)
            self._kept[key] = store
            while len(self._kept) > self.keep:
                self._kept.popitem(last=False)[1].close()
            return store

    def _replay(self, as_of: datetime, projections: Sequence[Projection]) -> ViewStore:
        store = SQLiteViewStore.in_memory()
        for projection in projections:
            log = AsOfLog(self.log, as_of, projection.topics)
            runner = ProjectionRunner(projection, store, log, self.page_size)
            runner.prepare()
            runner.catch_up()
        return store

    def close(self) -> None:
        with self._lock:
            for store in self._kept.values():
                store.close()
            self._kept.clear()
