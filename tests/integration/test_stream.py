"""The relay and the stream projectors against a real nats-server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from api.demo import DemoGenerator
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.nats.envelope import MessageId
from integrations.nats.stream import (
    StartupCheckError,
    connect,
    durability_warning,
    ensure_stream,
    reset_stream,
)
from integrations.nats.subjects import Subjects
from integrations.settings import Settings
from projections.changes import ViewChange
from projections.runner import ApplicationLog
from tests.conftest import START
from tests.integration.test_projections import dump
from tests.servers import NatsServer
from workers.distributed import NatsWorkers
from workers.relay import RELAY

pytestmark = pytest.mark.integration


@pytest.fixture
def nats_settings(backend: str, make_settings: Callable[..., Settings],
                  nats_server: NatsServer, nats_prefix: str) -> Settings:
    return make_settings(backend, nats_url=nats_server.url, nats_prefix=nats_prefix,
                         nats_monitor_url=nats_server.monitor_url)


@pytest.fixture
def runtime(nats_settings: Settings, clock: FakeClock) -> Any:
    rt = Runtime.open(nats_settings, clock)
    yield rt
    rt.close()


def seed(runtime: Runtime, accounts: int = 5, months: int = 1, seed: int = 2) -> int:
    DemoGenerator(runtime.desk, accounts=accounts, months=months, seed=seed,
                  until=date(2026, 3, 1)).run()
    return int(runtime.desk.recorder.max_notification_id() or 0)


async def stream_ids(url: str, prefix: str) -> list[int]:
    """The notification ids the stream holds, in stream order."""
    nc = await nats.connect(url)
    try:
        js: JetStreamContext = nc.jetstream()
        subjects = Subjects(prefix)
        info = await js.stream_info(subjects.stream)
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(subjects.stream, seq)
            ids.append(MessageId.parse(msg.headers["Nats-Msg-Id"]).notification_id)
        return ids
    finally:
        await nc.close()


def log_ids(runtime: Runtime) -> list[int]:
    return [n.id for n in runtime.desk.recorder.select_notifications(start=None, limit=10**6)]


async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def workers(runtime: Runtime, *, relay: bool = True,
            projections: bool = True) -> NatsWorkers:
    return NatsWorkers(runtime.settings, ApplicationLog(runtime.desk), runtime.store,
                       runtime.runners if projections else [], relay=relay, name="test")


def run(scenario: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(scenario)


def test_the_relay_publishes_the_log_in_order_and_the_views_follow(runtime: Runtime) -> None:
    head = seed(runtime)
    heard: list[ViewChange] = []

    async def scenario() -> None:
        w = workers(runtime)
        async with w, w.changes.listen(["accounts", "case_queues"]) as changes:
            async def collect() -> None:
                async for change in changes:
                    heard.append(change)

            collector = asyncio.create_task(collect())
            await until(lambda: all(runtime.store.positions().get(r.name, 0) == head
                                    for r in runtime.runners))
            await until(lambda: {c.projection for c in heard} >= {"accounts", "case_queues"},
                        10)
            collector.cancel()

    run(scenario())
    assert run(stream_ids(runtime.settings.nats_url or "", runtime.settings.nats_prefix)) \
        == log_ids(runtime)
    assert runtime.store.positions()[RELAY] == head
    kept = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    for runner in runtime.runners:
        runner.rebuild()
    assert {r.name: dump(runtime.store, r.projection) for r in runtime.runners} == kept


def test_a_restarted_relay_resumes_after_the_stream_and_duplicates_nothing(
        runtime: Runtime) -> None:
    seed(runtime, accounts=3)

    async def relay_until_caught_up() -> None:
        async with workers(runtime, projections=False):
            head = runtime.desk.recorder.max_notification_id()
            await until(lambda: runtime.store.positions().get(RELAY) == head)

    run(relay_until_caught_up())
    # The relay died after its acknowledgements but before recording its position (B2):
    runtime.store.set_position(RELAY, 1)
    seed(runtime, accounts=4, seed=9)
    run(relay_until_caught_up())
    ids = run(stream_ids(runtime.settings.nats_url or "", runtime.settings.nats_prefix))
    assert ids == log_ids(runtime)


def test_one_relay_publishes_and_another_takes_over_when_it_stops(runtime: Runtime) -> None:
    head = seed(runtime, accounts=3)

    async def scenario() -> None:
        first = await workers(runtime, projections=False).__aenter__()
        await until(lambda: runtime.store.positions().get(RELAY) == head)
        async with workers(runtime, projections=False) as second:
            await asyncio.sleep(0.5)
            assert first.relay is not None
            assert second.relay is not None
            assert first.relay.stats.published == head
            assert second.relay.stats.published == 0, "the second waits for the lease"
            await first.__aexit__(None, None, None)
            more = await asyncio.to_thread(
                runtime.desk.open_account, name="After Failover", tier="vip",
                manager="Anna Berg", currency="EUR", actor="staff:ann",
                occurred_at=START - timedelta(days=1))
            await until(lambda: runtime.store.positions().get(RELAY) == more.notification_id,
                        20)
            assert second.relay.stats.published >= 1

    run(scenario())
    ids = run(stream_ids(runtime.settings.nats_url or "", runtime.settings.nats_prefix))
    assert ids == log_ids(runtime)


def test_a_stream_reset_is_republished_from_the_log_and_views_skip_what_they_hold(
        runtime: Runtime) -> None:
    head = seed(runtime, accounts=3)
    names = [r.name for r in runtime.runners]

    async def scenario() -> None:
        async with workers(runtime):
            await until(lambda: all(runtime.store.positions().get(n, 0) == head
                                    for n in (RELAY, *names)))
            assert await reset_stream(runtime.settings)
            later = await asyncio.to_thread(
                runtime.desk.open_account, name="After Reset", tier="vip",
                manager="Anna Berg", currency="EUR", actor="staff:ann",
                occurred_at=START - timedelta(days=1))
            await until(lambda: all(runtime.store.positions().get(n, 0)
                                    == later.notification_id
                                    for n in (RELAY, *names)), 60)

    run(scenario())
    assert run(stream_ids(runtime.settings.nats_url or "", runtime.settings.nats_prefix)) \
        == log_ids(runtime)
    kept = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    for runner in runtime.runners:
        runner.rebuild()
    assert {r.name: dump(runtime.store, r.projection) for r in runtime.runners} == kept


def test_a_server_without_jetstream_is_refused_with_the_fix(
        tmp_path: Any, make_settings: Callable[..., Settings]) -> None:
    server = NatsServer(tmp_path, jetstream=False)
    server.start()
    try:
        settings = make_settings("sqlite", nats_url=server.url)

        async def scenario() -> None:
            nc = await connect(settings, "test")
            try:
                await ensure_stream(nc.jetstream(), settings)
            finally:
                await nc.close()

        with pytest.raises(StartupCheckError, match="start nats-server with -js"):
            run(scenario())
    finally:
        server.stop()


def test_a_stream_of_another_shape_is_refused(nats_settings: Settings) -> None:
    subjects = Subjects(nats_settings.nats_prefix)

    async def scenario() -> None:
        nc = await connect(nats_settings, "test")
        js = nc.jetstream()
        try:
            await js.add_stream(name=subjects.stream, subjects=[f"{subjects.prefix}.other.>"])
            await ensure_stream(js, nats_settings)
        finally:
            await js.delete_stream(subjects.stream)
            await nc.close()

    with pytest.raises(StartupCheckError, match="carelog stream reset"):
        run(scenario())


def test_the_durability_check_reads_the_server_and_names_the_setting(
        nats_settings: Settings, nats_server: NatsServer) -> None:
    warning = durability_warning(nats_settings)
    version = str(nats_server.varz()["version"])
    assert warning is not None
    assert version in warning
    assert "sync_interval: always" in warning
    unmonitored = durability_warning(replace(nats_settings, nats_monitor_url=None))
    assert unmonitored is not None
    assert "CARELOG_NATS_MONITOR_URL" in unmonitored
    # Three replicas without a monitor to ask: the copies are the durability.
    assert durability_warning(replace(nats_settings, nats_replicas=3,
                                      nats_monitor_url=None)) is None
    # With a monitor, the lazy fsync is reported whatever the replicas.
    assert durability_warning(replace(nats_settings, nats_replicas=3)) is not None


def test_a_stream_holding_another_databases_events_is_refused(
        runtime: Runtime, make_settings: Callable[..., Settings], clock: FakeClock) -> None:
    seed(runtime, accounts=2)

    async def relay_once(rt: Runtime) -> list[str]:
        async with workers(rt, projections=False) as w:
            await until(lambda: rt.store.positions().get(RELAY)
                        == rt.desk.recorder.max_notification_id() or w.tasks[-1].done(), 30)
            return w.failures

    assert run(relay_once(runtime)) == []
    other = Runtime.open(replace(make_settings((runtime.settings.database_url and "postgres")
                                               or "sqlite"),
                                 nats_url=runtime.settings.nats_url,
                                 nats_prefix=runtime.settings.nats_prefix), clock)
    try:
        seed(other, accounts=2, seed=99)
        [failure] = run(relay_once(other))
        assert "holds events of another database" in failure
        assert "carelog stream reset" in failure
    finally:
        other.close()
