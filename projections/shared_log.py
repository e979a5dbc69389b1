"""One read of each log page, and one decoding of each event, for all projectors of a process.

Every projector follows the same log. Read separately, each new notification would be selected
and decoded once per projection (a dozen times); `SharedLog` keeps the tail of the log that
projectors following it are reading, so the first projector to ask reads and decodes, and the
others take what it found.

Only a contiguous run of the log is kept: the notifications after `base` up to `read_to`,
everything the log held there when it was read. That is all there will ever be there: a writer
takes the event table's lock before numbering its events, so notifications become visible in
id order, and a gap (a rolled-back write) is never filled later. A projector reading elsewhere
(catching up from far behind, or rebuilding) reads the log directly and the tail stays as it is.

Projectors that reach the end of the tail ask the log for more, except right after another one
found nothing there: such an answer holds until a write is announced (`moved`), the log's head
is seen past the tail, or `quiet` seconds pass (writes by other processes are announced by
nobody).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Notification

from projections.runner import EventLog, Progress, ProjectionRunner


class SharedLog:
    """An `EventLog` over another one, keeping its last `keep` notifications read."""

    def __init__(self, log: EventLog, keep: int = 5_000, quiet: float = 0.05) -> None:
        self.log = log
        self.keep = keep
        self.quiet = quiet
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._kept: list[Notification] = []
        self._decoded: dict[int, Any] = {}
        self._base = -1
        """The kept run starts right after this position (-1: nothing kept yet)."""
        self._read_to = -1
        """The log was read up to here: nothing more will appear at or before it."""
        self._writes = 0
        self._found_nothing: tuple[int, float] | None = None
        """(announced writes, monotonic time) when the log last had nothing past `read_to`."""

    def moved(self) -> None:
        """A write was committed (`CareDesk.on_saved`): the next look past the tail asks."""
        with self._lock:
            self._writes += 1

    def notifications(self, after: int, limit: int) -> Sequence[Notification]:
        with self._lock:
            if not self._base <= after <= self._read_to:
                if after < self._base:
                    return self.log.notifications(after, limit)  # behind the kept tail
                self._restart(after)
            start = bisect_right(self._ids, after)
            found = self._kept[start:start + limit]
            if len(found) < limit:
                self._extend(max(limit, 100))
                found = self._kept[start:start + limit]
                self._trim()
            return found

    @contextmanager
    def keeping(self, count: int) -> Iterator[None]:
        """Keep at least `count` notifications meanwhile (the longest page of runners in step)."""
        with self._lock:
            before, self.keep = self.keep, max(self.keep, count)
        try:
            yield
        finally:
            with self._lock:
                self.keep = before
                self._trim()

    def decode(self, notification: Notification) -> Any:
        event = self._decoded.get(notification.id)
        if event is None:
            event = self.log.decode(notification)
            with self._lock:
                if self._base < notification.id <= self._read_to:
                    self._decoded[notification.id] = event
        return event

    def head(self) -> int:
        head = self.log.head()
        with self._lock:
            if head > self._read_to:
                self._found_nothing = None  # there is more: the next look asks the log
        return head

    def _restart(self, after: int) -> None:
        self._ids.clear()
        self._kept.clear()
        self._decoded.clear()
        self._base = self._read_to = after
        self._found_nothing = None

    def _extend(self, limit: int) -> None:
        now = time.monotonic()
        if self._found_nothing is not None:
            writes, when = self._found_nothing
            if writes == self._writes and now - when < self.quiet:
                return
        page = self.log.notifications(self._read_to, limit)
        if not page:
            self._found_nothing = (self._writes, now)
            return
        self._found_nothing = None
        self._kept.extend(page)
        self._ids.extend(n.id for n in page)
        self._read_to = page[-1].id

    def _trim(self) -> None:
        excess = len(self._kept) - self.keep
        if excess > 0:
            for notification in self._kept[:excess]:
                self._decoded.pop(notification.id, None)
            self._base = self._ids[excess - 1]
            del self._kept[:excess]
            del self._ids[:excess]


def catch_up_in_step(runners: Sequence[ProjectionRunner], log: SharedLog,
                     progress: Progress | None = None) -> int:
    """Every runner up to the head of the log, the one furthest behind always going next.

    Runners then read the same pages, which `log` reads and decodes once for all of them (each
    alone would read and decode the whole log again). Returns the notifications folded, summed
    over the runners. `progress` is told the position of the runner furthest behind.
    """
    head = log.head()
    behind = [r for r in runners if r.position < head]
    done = 0
    with log.keeping(max((r.page_size for r in behind), default=0)):
        while behind:
            runner = min(behind, key=lambda r: r.position)
            folded = runner.run_page()
            done += folded
            # Nothing folded short of the head: only rolled-back writes (gaps) remain there.
            if runner.position >= head or (folded == 0
                                           and not log.notifications(runner.position, 1)):
                behind.remove(runner)
            if progress is not None:
                progress(min((r.position for r in behind), default=head), head)
    return done
