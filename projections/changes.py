"""View changes: what a projector announces after a commit, and the in-process feed.

GraphQL subscriptions listen to a `ChangeFeed` and re-read the view when a change concerns
them. In the embedded mode the feed is `LocalChangeFeed`; in the distributed mode projector
processes publish on core NATS and every API process listens there
(`integrations.nats.changes`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Change:
    """One folded event, by the keys a subscriber may filter on."""

    topic: str
    aggregate_id: str
    account_id: str | None = None
    case_id: str | None = None

    @classmethod
    def of(cls, topic: str, event: Any) -> Change:
        # Called for every folded event: read the event's attributes once, directly.
        state = event.__dict__
        aggregate_id = str(state["originator_id"])
        if topic.startswith("carelog:Account."):
            return cls(topic, aggregate_id, aggregate_id, None)
        account_id = state.get("account_id")
        account = None if account_id is None else str(account_id)
        if topic.startswith("carelog:Case."):
            return cls(topic, aggregate_id, account, aggregate_id)
        case_id = state.get("case_id")
        return cls(topic, aggregate_id, account, None if case_id is None else str(case_id))


@dataclass(frozen=True, slots=True)
class ViewChange:
    """A projection committed up to `position`; `changes` are the events it folded."""

    projection: str
    position: int
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"projection": self.projection, "position": self.position,
                "changes": [[c.topic, c.aggregate_id, c.account_id, c.case_id]
                            for c in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ViewChange:
        return cls(str(data["projection"]), int(data["position"]),
                   tuple(Change(*c) for c in data["changes"]))


class ChangeFeed(Protocol):
    def announce(self, change: ViewChange) -> None:
        """Tell listeners a view moved on; callable from any thread, never blocks."""
        ...

    def listen(self, projections: Iterable[str]) -> Any:
        """An async context manager yielding an async iterator of `ViewChange`."""
        ...


class LocalChangeFeed:
    """Fan-out inside one process: projector threads announce, asyncio listeners receive."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ViewChange],
                                    frozenset[str]]] = []
        self._lock = threading.Lock()

    def announce(self, change: ViewChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, queue, names in listeners:
            if change.projection in names:
                try:
                    loop.call_soon_threadsafe(_offer, queue, change)
                except RuntimeError:  # the listener's loop has closed
                    continue

    @asynccontextmanager
    async def listen(self, projections: Iterable[str]) -> AsyncIterator[AsyncIterator[ViewChange]]:
        queue: asyncio.Queue[ViewChange] = asyncio.Queue(self.queue_size)
        entry = (asyncio.get_running_loop(), queue, frozenset(projections))
        with self._lock:
            self._listeners.append(entry)
        try:
            yield _drain(queue)
        finally:
            with self._lock:
                self._listeners.remove(entry)


def _offer(queue: asyncio.Queue[ViewChange], change: ViewChange) -> None:
    # A listener too slow to keep up loses the oldest news, never blocks a projector;
    # subscribers re-read the view, so the newest change is the one that matters.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(change)


async def _drain(queue: asyncio.Queue[ViewChange]) -> AsyncIterator[ViewChange]:
    while True:
        yield await queue.get()
