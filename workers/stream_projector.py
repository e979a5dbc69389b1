"""A projection fed by the JetStream stream: the same `ProjectionRunner` as in `carelog serve`.

One durable pull consumer per projection. A fetched batch is folded in stream order, its rows
and position committed in one transaction, and only then acknowledged. A redelivered message
the view already holds is acknowledged and ignored. When the messages do not follow the last
one folded (a restart, a redelivery after a crash), the runner reads whatever lies between from
the log itself, so the view never skips an event. A notification the projection cannot fold is
retried; after `max_deliveries` attempts it is dead-lettered and the projection stops.

At start a projector first folds what its view lacks straight from the log (cheaper than
receiving it, and the stream may no longer hold the oldest events), then follows the stream
from there: its consumer delivers what is published from its creation on.

The ack wait is short (5 s) on purpose: a batch commits well within it, and what a crashed
projector had fetched comes back that much sooner to the one replacing it (a late ack only
costs a redelivery, which is skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, Header
from nats.js.errors import NotFoundError

from integrations.nats.envelope import notification_of
from integrations.nats.subjects import Subjects
from projections.runner import FoldError, ProjectionRunner

log = logging.getLogger(__name__)


FAR_BEHIND = 10
"""Batches of pending messages past which a consumer is made again instead of drained."""


class ProjectionStoppedError(RuntimeError):
    """The projection dead-lettered a notification and will not fold past it."""


class BatchPull:
    """Pull requests on a durable consumer, the delivered messages gathered by a callback.

    nats-py's `fetch` awaits every message of a batch on its own, with a timer and a task each,
    which costs more than folding the event. Here one request asks for a batch, a callback only
    appends what arrives, and `pull` hands over whatever has arrived. Messages a request
    delivers late are kept for the next `pull`, never dropped.
    """

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = nc.new_inbox()
        self._buffer: list[Msg] = []
        self._wanted = 0
        self._ended = asyncio.Event()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self.nc.subscribe(self.inbox, cb=self._collect)

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _collect(self, msg: Msg) -> None:
        status = (msg.headers or {}).get(Header.STATUS) if not msg.data else None
        if status is not None:
            if status != "100":  # 404 no messages, 408 request expired, 409: request over
                self._ended.set()
            return
        self._buffer.append(msg)
        if len(self._buffer) >= self._wanted:
            self._ended.set()

    async def pull(self, batch: int, wait: float) -> list[Msg]:
        """Up to about `batch` messages: those waiting now, or the first to come within `wait`."""
        if not self._buffer:
            await self._request(batch, {"no_wait": True}, wait)
        if not self._buffer:  # nothing waiting: linger until something comes
            await self._request(1, {"expires": int(wait * 1e9)}, wait)
        taken, self._buffer = self._buffer, []
        return taken

    async def _request(self, wanted: int, options: dict[str, object], wait: float) -> None:
        self._wanted = wanted
        self._ended.clear()
        request = json.dumps({"batch": max(wanted, 1), **options}).encode()
        await self.nc.publish(self.subject, request, reply=self.inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), wait)


class StreamProjector:
    def __init__(self, runner: ProjectionRunner, nc: Client, subjects: Subjects,
                 batch: int = 500, ack_wait: float = 5.0, max_deliveries: int = 5,
                 catch_up_from_log: bool = True) -> None:
        self.runner = runner
        self.nc = nc
        self.js = nc.jetstream()
        self.subjects = subjects
        self.batch = batch
        self.ack_wait = ack_wait
        self.max_deliveries = max_deliveries
        self.durable = subjects.consumer(runner.name)
        self._last_seq: int | None = None
        self._last_id = 0
        self._attempts: dict[int, int] = {}
        self.catch_up_from_log = catch_up_from_log
        """Read what the view lacks from the log at start (off: everything from the stream)."""

    @property
    def name(self) -> str:
        return self.runner.name

    async def ensure_consumer(self) -> None:
        """Create the durable consumer, or make it again if it is not as needed.

        It delivers what is published from its creation on (DeliverPolicy.NEW): whatever came
        before and the view lacks is read from the log, which is cheaper than the stream. For
        the same reason a consumer far behind is made again rather than drained. Replacing it
        is always safe: the view's position, not the consumer's, says what is folded.
        Acknowledgements are cumulative (AckPolicy.ALL): batches are folded in stream order,
        so acknowledging a run's last message acknowledges the run.
        """
        policy = DeliverPolicy.NEW if self.catch_up_from_log else DeliverPolicy.ALL
        config = ConsumerConfig(
            durable_name=self.durable, deliver_policy=policy,
            ack_policy=AckPolicy.ALL, ack_wait=self.ack_wait, max_deliver=-1,
            max_ack_pending=self.batch * 2, filter_subject=self.subjects.events)
        try:
            info = await self.js.consumer_info(self.subjects.stream, self.durable)
        except NotFoundError:
            await self.js.add_consumer(self.subjects.stream, config)
            return
        have = info.config
        if (have.ack_policy, have.ack_wait, have.max_ack_pending, have.filter_subject,
                have.deliver_policy) != (config.ack_policy, config.ack_wait,
                                         config.max_ack_pending, config.filter_subject,
                                         config.deliver_policy) or (
                self.catch_up_from_log and (info.num_pending or 0) > FAR_BEHIND * self.batch):
            log.info("projector %s: making consumer %s again (new settings, or far behind)",
                     self.name, self.durable)
            await self.js.delete_consumer(self.subjects.stream, self.durable)
            await self.js.add_consumer(self.subjects.stream, config)

    async def run(self, stop: asyncio.Event) -> None:
        """Fold until `stop` is set; raises `ProjectionStoppedError` after a dead letter."""
        await asyncio.to_thread(self.runner.prepare)
        if self.catch_up_from_log:
            await self._catch_up(stop)
        puller: BatchPull | None = None
        backoff = 0.2
        idle = 0
        try:
            while not stop.is_set():
                try:
                    if puller is None:
                        await self.ensure_consumer()
                        if self.catch_up_from_log:
                            # What was published before the consumer existed is in the log.
                            await self._catch_up(stop)
                        puller = BatchPull(self.nc, self.subjects.stream, self.durable)
                        await puller.start()
                    if idle >= 5:  # a deleted stream or consumer only shows as silence
                        idle = 0
                        await self.js.consumer_info(self.subjects.stream, self.durable)
                    messages = await puller.pull(self.batch, wait=1.0)
                except ProjectionStoppedError:
                    raise
                except Exception as error:  # NATS away, or the stream was reset: start again
                    log.warning("projector %s: %s: %s; retrying", self.name,
                                type(error).__name__, error)
                    if puller is not None:
                        await puller.stop()
                    puller = None
                    self._last_seq = None
                    await _sleep(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.2
                if not messages:
                    idle += 1
                    continue
                idle = 0
                await self.fold(messages)
        finally:
            if puller is not None:
                await puller.stop()

    async def _catch_up(self, stop: asyncio.Event) -> None:
        """Fold what the view lacks straight from the log, before following the stream."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.runner.catch_up)
                return
            except FoldError as error:
                await self._poisoned(error)
            except Exception as error:  # the database is away: try again
                log.warning("projector %s: catching up from the log: %s: %s", self.name,
                            type(error).__name__, error)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def fold(self, messages: Sequence[Msg]) -> None:
        # A message's stream sequence is parsed from its reply subject on every access: once.
        ordered = sorted(((m.metadata.sequence.stream, m) for m in messages),
                         key=lambda d: d[0])
        done = 0
        for attempt, run in enumerate(_contiguous_runs(ordered)):
            try:
                await self._fold_run(run)
            except FoldError as error:
                await self._poisoned(error)
                await self._redeliver([m for _, m in ordered[done:]])
                return
            except Exception as error:  # the view store is away: fold these again later
                log.warning("projector %s: %s: %s; redelivering", self.name,
                            type(error).__name__, error)
                self._last_seq = None
                await self._redeliver([m for _, m in ordered[done:]])
                await asyncio.sleep(0.5 * (attempt + 1))
                return
            done += len(run)

    async def _fold_run(self, run: Sequence[tuple[int, Msg]]) -> None:
        first, last = run[0][0], run[-1][0]
        notifications = [notification_of(m) for _, m in run]
        # A run right after the last message folded follows its notification; otherwise
        # the runner checks the log for anything between its position and this run.
        follows = (self._last_id if self._last_seq is not None and first == self._last_seq + 1
                   else notifications[0].id - 1)
        await asyncio.to_thread(self.runner.apply, notifications, follows)
        await run[-1][1].ack()
        self._last_seq = last
        self._last_id = notifications[-1].id

    async def _poisoned(self, error: FoldError) -> None:
        # Counted here, not by NATS deliveries: after a restart the same event may come from
        # the log instead of the stream, and it must still reach the dead letters.
        self._last_seq = None
        nid = error.notification.id
        self._attempts[nid] = attempts = self._attempts.get(nid, 0) + 1
        if attempts < self.max_deliveries:
            log.warning("%s (attempt %d of %d)", error, attempts, self.max_deliveries)
            await asyncio.sleep(0.2 * attempts)
            return
        await asyncio.to_thread(self.runner.store.record_dead_letter,
                                error.dead_letter(attempts))
        log.error("%s; dead-lettered after %d attempts, projection stopped", error, attempts)
        raise ProjectionStoppedError(str(error)) from error

    @staticmethod
    async def _redeliver(messages: Sequence[Msg]) -> None:
        for msg in messages:  # in stream order, so they come back in that order
            await msg.nak(delay=0.5)


def _contiguous_runs(ordered: Sequence[tuple[int, Msg]]) -> list[list[tuple[int, Msg]]]:
    """Split (sequence, message) pairs, in stream order, where a sequence is skipped."""
    runs: list[list[tuple[int, Msg]]] = []
    for seq, msg in ordered:
        if runs and runs[-1][-1][0] == seq - 1:
            runs[-1].append((seq, msg))
        else:
            runs.append([(seq, msg)])
    return runs


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
