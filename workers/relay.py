"""The relay: follows the event log and publishes every event to the JetStream stream.

The stream is kept an exact copy of the log, in log order, without holes:
- the relay resumes after the newest message in the stream (not after its own bookkeeping), so
  a crash between an acknowledgement and the position write, or messages lost by the server,
  are simply published again;
- every message carries `Nats-Msg-Id = <epoch>:<notification id>`, so a re-send inside the
  duplicate window is dropped by the server;
- every message but the first expects the previous one as the stream's last message, so a
  message whose predecessor was not stored is refused and the window is re-sent from the
  stream's real end (pipelined publishing cannot leave a hole);
- one relay holds the lease and publishes; others wait to take over.
Its position (recorded after the acknowledgements) is for `carelog status`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.persistence import Notification
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from integrations.nats.envelope import MessageId, headers_for, log_epoch, payload_of
from integrations.nats.stream import StartupCheckError, ensure_stream, last_message_id
from integrations.nats.subjects import Subjects
from integrations.settings import Settings
from projections.runner import EventLog
from projections.store import ViewStore
from workers.lease import Lease, acquire

log = logging.getLogger(__name__)

RELAY = "relay"


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    resyncs: int = 0


class Relay:
    def __init__(self, settings: Settings, events: EventLog, store: ViewStore,
                 js: JetStreamContext, lease: Lease, window: int = 1000,
                 ack_timeout: float = 10.0, poll_interval: float = 0.05) -> None:
        self.settings = settings
        self.subjects = Subjects(settings.nats_prefix)
        self.events = events
        self.store = store
        self.js = js
        self.lease = lease
        self.window = window
        self.ack_timeout = ack_timeout
        self.poll_interval = poll_interval
        self.wake = asyncio.Event()
        self.stats = RelayStats()
        self.epoch: str | None = None
        self.last: MessageId | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; waits for the lease first."""
        if not await acquire(self.lease, stop):
            return
        log.info("relay holds the lease; publishing to stream %s", self.subjects.stream)
        try:
            await self._publish_until(stop)
        finally:
            await asyncio.to_thread(self.lease.release)

    async def _publish_until(self, stop: asyncio.Event) -> None:
        backoff = self.poll_interval
        synced = False
        checked = time.monotonic()
        while not stop.is_set():
            if not await asyncio.to_thread(self.lease.held):
                log.warning("relay lost its lease; waiting to take it again")
                if not await acquire(self.lease, stop):
                    return
                synced = False
            try:
                if not synced:
                    synced = await self._sync()
                    if not synced:
                        await self._idle(stop)
                        continue
                sent = await self.publish_window()
            except StartupCheckError:
                raise
            except Exception as error:  # NATS or the database is away: resync and retry
                log.warning("relay: %s: %s; retrying in %.1fs", type(error).__name__, error,
                            backoff)
                synced = False
                self.stats.resyncs += 1
                await self._sleep(stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = self.poll_interval
            if sent == 0:
                await self._idle(stop)
                if time.monotonic() - checked > 5.0:
                    # A deleted stream (`carelog stream reset`) shows only when publishing:
                    # look now and then, so it is made again even while nothing happens.
                    checked = time.monotonic()
                    try:
                        await self.js.stream_info(self.subjects.stream)
                    except NotFoundError:
                        synced = False

    async def _sync(self) -> bool:
        """Learn the log's epoch and the stream's end; False while the log is still empty."""
        first = await asyncio.to_thread(self.events.notifications, 0, 1)
        if not first:
            return False
        self.epoch = log_epoch(first[0])
        await ensure_stream(self.js, self.settings)  # it may have been deleted meanwhile
        last = await last_message_id(self.js, self.subjects.stream)
        if last is not None and last.epoch != self.epoch:
            raise StartupCheckError(
                f"stream {self.subjects.stream} holds events of another database (epoch "
                f"{last.epoch}, this log is {self.epoch}); run `carelog stream reset` to "
                "publish this log into it afresh")
        self.last = last
        log.info("relay resumes after notification %s", last.notification_id if last else 0)
        return True

    async def publish_window(self) -> int:
        """Publish the next window of the log; returns how many notifications it covered."""
        assert self.epoch is not None, "publish_window runs after _sync"
        after = self.last.notification_id if self.last else 0
        page = await asyncio.to_thread(self.events.notifications, after, self.window)
        if not page:
            return 0
        acks = await self._publish(page)
        self.last = MessageId(self.epoch, page[-1].id)
        self.stats.published += len(page)
        self.stats.duplicates += sum(1 for a in acks if a.duplicate)
        await asyncio.to_thread(self.store.set_position, RELAY, page[-1].id)
        return len(page)

    async def _publish(self, page: Sequence[Notification]) -> list[PubAck]:
        assert self.epoch is not None
        previous = self.last
        futures = []
        for notification in page:
            headers = headers_for(notification, self.epoch, previous)
            futures.append(await self.js.publish_async(
                self.subjects.event(notification.topic), payload_of(notification),
                headers=headers))
            previous = MessageId(self.epoch, notification.id)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self.ack_timeout)
        except TimeoutError:
            for future in futures:
                future.cancel()
            raise
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        return [r for r in results if isinstance(r, PubAck)]

    async def _idle(self, stop: asyncio.Event) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        await asyncio.wait(waiters, timeout=self.poll_interval,
                           return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            return
