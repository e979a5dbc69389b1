"""Group commit: requests from concurrent threads are handled in batches, one batch at a time.

No timer and no thread of its own: a caller that finds no batch running becomes the leader,
takes every request queued so far (up to `max_batch`, its own among them) and runs them as one
batch; the callers queued meanwhile wait, and the next of them leads the next batch. An idle
system thus handles a lone request at once, and a busy one gathers whatever arrived while the
previous batch committed. Each caller gets its own outcome: its result, or its own exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")

_PENDING = object()


class _Slot(Generic[R, T]):
    __slots__ = ("outcome", "request")

    def __init__(self, request: R) -> None:
        self.request = request
        self.outcome: T | BaseException | object = _PENDING


class GroupCommit(Generic[R, T]):
    def __init__(self, run: Callable[[Sequence[R]], Sequence[T | Exception]],
                 max_batch: int = 200) -> None:
        self._run = run
        """Handles a batch; returns one outcome per request, in order (an exception is that
        request's own). If it raises, every request of the batch gets the exception."""
        self.max_batch = max_batch
        self._queue: list[_Slot[R, T]] = []
        self._leading = False
        self._changed = threading.Condition()
        self.batches = 0
        self.requests = 0

    def submit(self, request: R) -> T:
        """Handle `request` in the next batch that has room; its result, or raise its error."""
        slot: _Slot[R, T] = _Slot(request)
        with self._changed:
            self._queue.append(slot)
        while True:
            with self._changed:
                while slot.outcome is _PENDING and self._leading:
                    self._changed.wait()
                if slot.outcome is not _PENDING:
                    break
                self._leading = True
                batch = self._queue[:self.max_batch]
                del self._queue[:self.max_batch]
            self._lead(batch)
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]

    def _lead(self, batch: list[_Slot[R, T]]) -> None:
        outcomes: Sequence[T | BaseException]
        try:
            outcomes = self._run([s.request for s in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} answered {len(outcomes)} times")
        except BaseException as error:  # an outage: everybody's
            outcomes = [error] * len(batch)
        with self._changed:
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
            self.batches += 1
            self.requests += len(batch)
            self._leading = False
            self._changed.notify_all()
