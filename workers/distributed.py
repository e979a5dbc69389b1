"""The distributed mode's workers in one process: relay and stream projectors on NATS.

`carelog serve` (unless --no-workers), `carelog worker relay` and `carelog worker projections`
all open `NatsWorkers`; each picks which loops to run. Every process also gets the NATS
view-change feed, so its GraphQL subscriptions hear what any projector folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any

from nats.aio.client import Client

from integrations.nats.changes import NatsChangeFeed
from integrations.nats.stream import connect, durability_warning, ensure_stream
from integrations.nats.subjects import Subjects
from integrations.settings import Settings
from projections.changes import ViewChange
from projections.runner import EventLog, ProjectionRunner
from projections.store import ViewStore
from workers.lease import FileLease, Lease, PostgresLease
from workers.relay import Relay
from workers.stream_projector import ProjectionStoppedError, StreamProjector

log = logging.getLogger(__name__)


def relay_lease(settings: Settings) -> Lease:
    name = f"carelog:relay:{settings.nats_prefix}"
    if settings.database_url is not None:
        return PostgresLease(settings.database_url, name)
    return FileLease(settings.data_dir / f"{settings.nats_prefix}-relay.lock")


class NatsWorkers:
    """Connects, checks the stream, and runs the chosen loops until closed."""

    def __init__(self, settings: Settings, events: EventLog, store: ViewStore,
                 runners: Sequence[ProjectionRunner], *, relay: bool, name: str) -> None:
        self.settings = settings
        self.events = events
        self.store = store
        self.runners = list(runners)
        self.run_relay = relay
        self.name = name
        self.subjects = Subjects(settings.nats_prefix)
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.nc: Client | None = None
        self._feed: NatsChangeFeed | None = None
        self.relay: Relay | None = None
        self._announcers: list[Callable[[ViewChange], None] | None] = []
        self.failures: list[str] = []
        """Loops that ended on an error (a dead letter, a refused stream): the process should
        exit non-zero so that its supervisor restarts it and its operator hears of it."""

    async def __aenter__(self) -> NatsWorkers:
        self.nc = await connect(self.settings, self.name)
        js = self.nc.jetstream()
        await ensure_stream(js, self.settings)
        warning = durability_warning(self.settings)
        if warning:
            log.warning(warning)
        self._feed = NatsChangeFeed(self.nc, self.subjects, asyncio.get_running_loop())
        await self._feed.start()
        for runner in self.runners:
            self._announcers.append(runner.on_folded)
            runner.on_folded = self._feed.announce
            projector = StreamProjector(runner, self.nc, self.subjects,
                                        batch=self.settings.projection_page_size)
            self.tasks.append(asyncio.create_task(self._guard(projector.name,
                                                              projector.run(self.stop))))
        if self.run_relay:
            self.relay = Relay(self.settings, self.events, self.store, js,
                               relay_lease(self.settings))
            self.tasks.append(asyncio.create_task(self._guard("relay",
                                                              self.relay.run(self.stop))))
        return self

    @property
    def changes(self) -> NatsChangeFeed:
        """The view-change feed over NATS (once entered)."""
        if self._feed is None:
            raise RuntimeError("NatsWorkers is used outside `async with`")
        return self._feed

    def nudge(self) -> None:
        """Wake the relay at once after a command of this process (called on the loop)."""
        if self.relay is not None:
            self.relay.wake.set()

    async def _guard(self, what: str, loop: Coroutine[Any, Any, None]) -> None:
        try:
            await loop
        except ProjectionStoppedError as error:
            log.error("%s stopped: %s", what, error)
            self.failures.append(f"{what}: {error}")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("%s failed", what)
            self.failures.append(f"{what}: {type(error).__name__}: {error}")

    async def wait(self) -> None:
        """Run until every loop has ended (a signal sets `stop`)."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        else:
            await self.stop.wait()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.stop.set()
        for runner, announce in zip(self.runners, self._announcers, strict=False):
            runner.on_folded = announce
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=15)
            for task in pending:
                task.cancel()
        if self.nc is not None:
            if self.nc.is_connected:
                with contextlib.suppress(Exception):  # view-change hints still buffered
                    await self.nc.flush(timeout=2)
            await self.nc.close()

