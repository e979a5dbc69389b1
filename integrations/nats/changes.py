"""View changes over core NATS: projector processes announce, API processes listen.

Core NATS (not JetStream) on purpose: a change announcement is a hint to re-read a view, and a
subscriber that misses one still gets the next; the views themselves are the durable record.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from nats.aio.client import Client
from nats.aio.msg import Msg

from integrations.nats.subjects import Subjects
from projections.changes import LocalChangeFeed, ViewChange

log = logging.getLogger(__name__)


class NatsChangeFeed:
    """Announces on `<prefix>.views.<projection>`; listens to all of them and fans out."""

    def __init__(self, nc: Client, subjects: Subjects, loop: asyncio.AbstractEventLoop) -> None:
        self.nc = nc
        self.subjects = subjects
        self.loop = loop
        self.local = LocalChangeFeed()
        self._subscription: object | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        async def deliver(msg: Msg) -> None:
            try:
                change = ViewChange.from_json(json.loads(msg.data))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed view change on %s", msg.subject)
                return
            self.local.announce(change)

        self._subscription = await self.nc.subscribe(self.subjects.all_views, cb=deliver)

    def announce(self, change: ViewChange) -> None:
        payload = json.dumps(change.to_json(), separators=(",", ":")).encode()
        subject = self.subjects.views(change.projection)
        try:
            self.loop.call_soon_threadsafe(self._spawn, subject, payload)
        except RuntimeError:  # the loop has closed: nobody is left to tell
            log.debug("view change on %s after the feed closed", subject)

    def _spawn(self, subject: str, payload: bytes) -> None:
        task = self.loop.create_task(self._publish(subject, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, subject: str, payload: bytes) -> None:
        try:
            await self.nc.publish(subject, payload)
        except Exception as error:  # a hint lost while NATS is away; views stay right
            log.warning("could not announce a view change on %s: %s", subject, error)

    @asynccontextmanager
    async def listen(self, projections: Iterable[str]) -> AsyncIterator[AsyncIterator[ViewChange]]:
        async with self.local.listen(projections) as changes:
            yield changes
