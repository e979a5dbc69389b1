"""Runs one projection over the notification log: catch up, follow, rebuild.

Each page of the log (default 500 notifications) is folded into a `RowBatch` and committed with
the projection's new position in one transaction: a crash repeats at most the page, never half
of it, and another runner of the same projection finds the position moved and skips the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Notification

from projections.projection import Projection
from projections.rows import RowBatch
from projections.store import ViewStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class EventLog(Protocol):
    """The part of the event store a projection reads."""

    def notifications(self, after: int, limit: int) -> Sequence[Notification]: ...

    def decode(self, notification: Notification) -> Any: ...

    def head(self) -> int: ...


class ApplicationLog:
    """An eventsourcing application's notification log as an `EventLog`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        return self.app.recorder.select_notifications(  # type: ignore[no-any-return]
            start=after, limit=limit, inclusive_of_start=False)

    def decode(self, notification: Notification) -> Any:
        return self.app.mapper.to_domain_event(notification)

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)


class ProjectionRunner:
    def __init__(self, projection: Projection, store: ViewStore, events: EventLog,
                 page_size: int = 500) -> None:
        self.projection = projection
        self.store = store
        self.events = events
        self.page_size = page_size
        self.position = 0
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return self.projection.name

    def prepare(self) -> None:
        """Create the tables; a stored view of another version is rebuilt from zero."""
        self.store.ensure(self.projection.tables)
        with self.store.transaction() as tx:
            stored = tx.lock_position(self.name)
        if stored is not None and stored[1] != self.projection.version:
            log.warning("projection %s is at version %s, code is %s: rebuilding",
                        self.name, stored[1], self.projection.version)
            self.reset()
        else:
            self.position = stored[0] if stored else 0

    def reset(self) -> None:
        """Empty the view and forget its position, in one transaction."""
        with self.store.transaction() as tx:
            tx.lock_position(self.name)
            for table in self.projection.tables:
                tx.execute(f"DROP TABLE IF EXISTS {table.name}")
            for table in self.projection.tables:
                for stmt in table.create_statements(tx.dialect):
                    tx.execute(stmt)
            tx.execute("DELETE FROM projection_positions WHERE name = ?", (self.name,))
        self.position = 0

    def run_page(self) -> int:
        """Fold the next page; returns how many notifications it covered (0: caught up)."""
        page = self.events.notifications(self.position, self.page_size)
        if not page:
            return 0
        topics = self.projection.topics
        with self.store.transaction() as tx:
            stored = tx.lock_position(self.name)
            at = stored[0] if stored else 0
            if at != self.position:
                # Another runner (or process) moved on; continue from where it is.
                self.position = at
                return 0
            rows = RowBatch(tx)
            for notification in page:
                if notification.topic in topics:
                    event = self.events.decode(notification)
                    self.projection.apply(notification.topic, event, rows, notification.id)
            rows.flush()
            tx.set_position(self.name, page[-1].id, self.projection.version)
        self.position = page[-1].id
        return len(page)

    def catch_up(self, progress: Progress | None = None) -> int:
        """Fold everything up to the head of the log; returns the notifications covered."""
        head = self.events.head()
        done = 0
        while self.position < head:
            n = self.run_page()
            if n == 0 and self.position < head:
                # Notifications past our position may have been rolled back (gaps).
                if not self.events.notifications(self.position, 1):
                    break
                continue
            done += n
            if progress is not None:
                progress(self.position, head)
        return done

    def rebuild(self, progress: Progress | None = None) -> int:
        self.store.ensure(self.projection.tables)
        self.reset()
        return self.catch_up(progress)
