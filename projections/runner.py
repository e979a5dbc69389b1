"""Runs one projection over the notification log: catch up, follow, rebuild.

Each page of the log (default 500 notifications) is folded into a `RowBatch` and committed with
the projection's new position in one transaction: a crash repeats at most the page, never half
of it, and another runner of the same projection finds the position moved and skips the page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification

from projections.changes import Change, ViewChange
from projections.projection import Projection
from projections.rows import RowBatch
from projections.schema import Table
from projections.store import DeadLetter, ViewStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class FoldError(Exception):
    """A projection could not fold a notification: a bug or a poison event, not an outage.

    Retrying will not help; after a few deliveries the notification is dead-lettered and the
    projection stops rather than skip it (its view would silently be wrong otherwise).
    """

    def __init__(self, projection: str, notification: Notification, cause: Exception) -> None:
        super().__init__(f"projection {projection} cannot fold notification {notification.id} "
                         f"({notification.topic}): {type(cause).__name__}: {cause}")
        self.projection = projection
        self.notification = notification
        self.cause = cause

    def dead_letter(self, deliveries: int) -> DeadLetter:
        return DeadLetter(self.projection, self.notification.id, self.notification.topic,
                          f"{type(self.cause).__name__}: {self.cause}", deliveries,
                          datetime.now(UTC).isoformat(timespec="seconds"))


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
                 page_size: int = 500,
                 on_folded: Callable[[ViewChange], None] | None = None) -> None:
        self.projection = projection
        self.store = store
        self.events = events
        self.page_size = max(page_size, projection.min_page_size)
        self.on_folded = on_folded
        """Told what changed after each commit that folded events of the projection."""
        self._dead_letter_at: int | None = None
        self.position = 0
        self.last_error: str | None = None
        self.skip_idle_pages = False
        """Pass over pages without one of the projection's topics without a transaction of
        their own: the position moves in memory, and `unsaved` tells what to store (the
        `ProjectorPool` stores every view's at once). Only while someone stores them."""
        self._skipped_from: int | None = None
        """The stored position the in-memory one moved on from over skipped pages alone."""
        self._moving = threading.Lock()
        self._stale = False

    @property
    def name(self) -> str:
        return self.projection.name

    def prepare(self) -> None:
        """Create the tables; a stored view of another version is rebuilt from zero."""
        self.store.ensure(self.projection.tables)
        with self.store.transaction() as tx:
            stored = tx.lock_position(self.name)
            if stored is None:  # a position to move on from, even before a page is folded
                tx.set_position(self.name, 0, self.projection.version)
        if stored is not None and stored[1] != self.projection.version:
            log.warning("projection %s is at version %s, code is %s: rebuilding",
                        self.name, stored[1], self.projection.version)
            self.reset()
        else:
            self.position = stored[0] if stored else 0
            self._skipped_from = None
        dead = [d.notification_id for d in self.store.dead_letters() if d.name == self.name]
        self._dead_letter_at = min(dead, default=None)

    def reset(self) -> None:
        """Empty the view and set its position back to 0, in one transaction."""
        with self.store.transaction() as tx:
            tx.lock_position(self.name)
            for table in self.projection.tables:
                tx.execute(f"DROP TABLE IF EXISTS {table.name}")
            for table in self.projection.tables:
                for stmt in table.create_statements(tx.dialect):
                    tx.execute(stmt)
            tx.set_position(self.name, 0, self.projection.version)
            tx.execute("DELETE FROM dead_letters WHERE name = ?", (self.name,))
            tx.bump_version(self.name)
        self.position = 0
        self._skipped_from = None
        self._dead_letter_at = None

    def run_page(self) -> int:
        """Fold the next page of the log; returns how many notifications it folded."""
        page = self.events.notifications(self.position, self.page_size)
        if self._stale:  # the position we skipped from was moved by someone else (a rebuild)
            self._stale = False
            return self.apply(page, follows=self.position)
        if not page:
            return 0
        topics = self.projection.topics
        if (self.skip_idle_pages and self._dead_letter_at is None
                and not any(n.topic in topics for n in page)):
            after = self.position
            with self._moving:
                if self._skipped_from is None:
                    self._skipped_from = after
                self.position = page[-1].id
            self.projection.passed(after, self.position)
            return len(page)
        return self.apply(page, follows=self.position)

    def unsaved(self) -> tuple[str, int, int, int] | None:
        """(name, stored position, position, version) when pages were skipped since the
        position was last stored; None when the store has it."""
        with self._moving:
            if self._skipped_from is None:
                return None
            return self.name, self._skipped_from, self.position, self.projection.version

    def saved(self, stored: int, position: int) -> None:
        """The store moved this view's position from `stored` to `position`."""
        with self._moving:
            if self._skipped_from == stored:
                self._skipped_from = position if self.position > position else None

    def not_saved(self) -> None:
        """The store's position is no longer where the skipped pages began (a rebuild moved
        it): the next page is folded in a transaction, from wherever the store says."""
        self._stale = True

    def apply(self, page: Sequence[Notification], follows: int) -> int:
        """Fold `page`, which directly follows log position `follows`, in one transaction.

        The page's rows and the new position commit together. Notifications at or before the
        stored position were folded already (a redelivery, or another runner was faster) and
        are skipped; if the stored position is behind `follows`, the notifications between
        are read from the log first, so nothing is ever skipped. Returns how many were folded.

        When a notification cannot be folded, what precedes it is committed before the
        `FoldError` is raised, so the view stops right before the culprit.
        """
        topics = self.projection.topics
        try:
            with self.store.transaction() as tx:
                stored = tx.lock_position(self.name)
                at = stored[0] if stored else 0
                skipped_from = self._skipped_from
                if skipped_from is not None and at == skipped_from and at < follows:
                    at = follows  # what lies between holds none of the projection's topics
                if at < follows:
                    page = [*self._between(at, follows), *page]
                fresh = [n for n in page if n.id > at]
                changes: list[Change] = []
                if fresh:
                    self.projection.begin_page(at)
                    rows = RowBatch(tx)
                    events = [(n, self._decode(n)) for n in fresh if n.topic in topics]
                    self._prefetch(events, rows)
                    for notification, event in events:
                        self._fold(notification, event, rows)
                    if events:
                        self._finish(events[-1][0], rows)
                    if self.on_folded is not None:
                        changes = [Change.of(n.topic, e) for n, e in events]
                    rows.flush()
                    if events:
                        tx.bump_version(self.name)
                    tx.set_position(self.name, fresh[-1].id, self.projection.version)
        except BaseException as error:
            self.projection.abandoned()
            if not isinstance(error, FoldError):
                raise
            # `page` now runs on from the stored position `at`, gap filled.
            before = [n for n in page if n.id < error.notification.id]
            if before:
                self.apply(before, follows=at)
            raise
        with self._moving:
            self.position = fresh[-1].id if fresh else at
            self._skipped_from = None
        self.projection.committed(self.position)
        if self._dead_letter_at is not None and self.position >= self._dead_letter_at:
            # Folded past it (the fix is deployed): the dead letter is history now.
            self.store.clear_dead_letters(self.name)
            self._dead_letter_at = None
        if changes and self.on_folded is not None:
            self.on_folded(ViewChange(self.name, self.position, tuple(changes)))
        return len(fresh)

    def _decode(self, notification: Notification) -> Any:
        try:
            return self.events.decode(notification)
        except Exception as error:
            raise FoldError(self.name, notification, error) from error

    def _prefetch(self, events: Sequence[tuple[Notification, Any]], rows: RowBatch) -> None:
        tables: dict[str, Table] = {}
        wanted: dict[str, list[tuple[Any, ...]]] = {}
        for notification, event in events:
            for table, key in self.projection.reads(notification.topic, event):
                tables[table.name] = table
                wanted.setdefault(table.name, []).append(key)
        for name, keys in wanted.items():
            rows.prefetch(tables[name], keys)

    def _fold(self, notification: Notification, event: Any, rows: RowBatch) -> None:
        try:
            self.projection.apply(notification.topic, event, rows, notification.id)
        except Exception as error:
            raise FoldError(self.name, notification, error) from error

    def _finish(self, last: Notification, rows: RowBatch) -> None:
        # Page-wide work is charged to the page's last event: if it fails, the page up to the
        # event before is committed and the view stops there, as for any fold error.
        try:
            self.projection.finish_page(rows, last.id)
        except Exception as error:
            raise FoldError(self.name, last, error) from error

    def _between(self, after: int, upto: int) -> list[Notification]:
        """The log's notifications after `after` up to and including `upto`."""
        found: list[Notification] = []
        while True:
            page = [n for n in self.events.notifications(after, self.page_size) if n.id <= upto]
            found += page
            if not page or page[-1].id >= upto:
                return found
            after = page[-1].id

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
