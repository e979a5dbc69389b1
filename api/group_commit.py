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
    __slots__ = ("outcome", "request", "wake")

    def __init__(self, request: R) -> None:
        self.request = request
        self.outcome: T | BaseException | object = _PENDING
        self.wake = threading.Lock()
        """Held until its caller may go on: with its outcome, or to lead the next batch."""
        self.wake.acquire()


class GroupCommit(Generic[R, T]):
    def __init__(self, run: Callable[[Sequence[R]], Sequence[T | Exception]],
                 max_batch: int = 200) -> None:
        self._run = run
        """Handles a batch; returns one outcome per request, in order (an exception is that
        request's own). If it raises, every request of the batch gets the exception."""
        self.max_batch = max_batch
        self._queue: list[_Slot[R, T]] = []
        self._leading = False
        self._mutex = threading.Lock()
        self.batches = 0
        self.requests = 0

    def submit(self, request: R) -> T:
        """Handle `request` in the next batch that has room; its result, or raise its error.

        Each waiting caller is woken once, by the leader of its batch with its outcome, or by
        the leader before, as the first in the queue, to lead the next batch (the leader is
        always in the batch it leads)."""
        slot: _Slot[R, T] = _Slot(request)
        with self._mutex:
            self._queue.append(slot)
            leads = not self._leading
            self._leading = True
        if not leads:
            slot.wake.acquire()
        if slot.outcome is _PENDING:
            self._lead()
        outcome = slot.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._mutex:
            batch = self._queue[:self.max_batch]
            del self._queue[:self.max_batch]
        outcomes: Sequence[T | BaseException]
        try:
            outcomes = self._run([s.request for s in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} answered {len(outcomes)} times")
        except BaseException as error:  # an outage: everybody's
            outcomes = [error] * len(batch)
        with self._mutex:
            self.batches += 1
            self.requests += len(batch)
            following = self._queue[0] if self._queue else None
            self._leading = following is not None
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            slot.wake.release()
        if following is not None:
            following.wake.release()
