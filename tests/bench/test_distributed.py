"""The distributed mode: relay throughput next to raw JetStream publishing, projector catch-up
from the stream, and the latency from a command to a subscriber's message at 200 commands/s.

Run against a nats-server this benchmark starts itself (loopback, free ports).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import Header, StreamConfig
from nats.js.errors import NotFoundError

from api.runtime import Runtime
from integrations.clock import SystemClock
from integrations.nats.subjects import Subjects
from integrations.persistence import open_desk
from integrations.settings import Settings
from projections.runner import ApplicationLog
from tests.bench.biglog import BigLogWriter
from tests.bench.conftest import CATCHUP_EVENTS, figure, log_label
from tests.live import CARELOG, environment, graphql, serving, subscribe
from tests.servers import NatsServer
from workers.distributed import NatsWorkers
from workers.relay import RELAY
from workers.stream_projector import StreamProjector

pytestmark = pytest.mark.bench

RATE = 200
LATENCY_COMMANDS = 1000


@pytest.fixture
def bench_nats(tmp_path: Path) -> Any:
    server = NatsServer(tmp_path / "nats")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


def _settings(make_settings: Callable[..., Settings], backend: str, server: NatsServer,
              prefix: str) -> Settings:
    return make_settings(backend, nats_url=server.url, nats_prefix=prefix,
                         nats_monitor_url=server.monitor_url)


async def _raw_publish_rate(url: str, payloads: list[bytes]) -> float:
    """Async JetStream publishes of the same payloads with message ids, acks awaited in windows."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"]))
    started = time.perf_counter()
    for start in range(0, len(payloads), 1000):
        futures = [await js.publish_async("raw.events", payload,
                                          headers={Header.MSG_ID: f"raw:{start + i}"})
                   for i, payload in enumerate(payloads[start:start + 1000])]
        await asyncio.gather(*futures)
    seconds = time.perf_counter() - started
    await js.delete_stream("RAW")
    await nc.close()
    return len(payloads) / seconds


@pytest.mark.timeout(900)
def test_relay_and_stream_projectors(backend: str, make_settings: Callable[..., Settings],
                                     bench_nats: NatsServer) -> None:
    settings = _settings(make_settings, backend, bench_nats, "bench")
    desk = open_desk(settings, SystemClock())
    try:
        summary = BigLogWriter(desk, accounts=400, seed=5).write(CATCHUP_EVENTS)
        payloads = [n.state for n in desk.recorder.select_notifications(start=None,
                                                                         limit=10**7)]
    finally:
        desk.close()
    label = log_label(summary.events)
    raw = asyncio.run(_raw_publish_rate(bench_nats.url, payloads))
    figure(backend, f"{label}: raw async JetStream publish", raw, "msgs/s")

    runtime = Runtime.open(settings)
    try:
        head = summary.events

        async def relay() -> float:
            started = time.perf_counter()
            async with NatsWorkers(settings, ApplicationLog(runtime.desk), runtime.store, [],
                                   relay=True, name="bench-relay"):
                while runtime.store.positions().get(RELAY, 0) < head:
                    await asyncio.sleep(0.01)
            return head / (time.perf_counter() - started)

        rate = asyncio.run(relay())
        assert runtime.store.positions()[RELAY] == head
        figure(backend, f"{label}: relay, log to stream", rate, "events/s")
        figure(backend, f"{label}: relay / raw publish", rate / raw, "ratio")

        async def project(runner_name: str, from_log: bool) -> float:
            runner = runtime.runner(runner_name)
            runner.reset()
            nc = await nats.connect(bench_nats.url)
            with contextlib.suppress(NotFoundError):  # start each measurement afresh
                await nc.jetstream().delete_consumer("BENCH",
                                                     Subjects("bench").consumer(runner_name))
            projector = StreamProjector(runner, nc, Subjects("bench"),
                                        batch=settings.projection_page_size,
                                        catch_up_from_log=from_log)
            stop = asyncio.Event()
            started = time.perf_counter()
            task = asyncio.create_task(projector.run(stop))
            while runtime.store.positions().get(runner_name, 0) < head:
                await asyncio.sleep(0.01)
            seconds = time.perf_counter() - started
            stop.set()
            await task
            assert runtime.store.positions()[runner_name] == head
            await nc.close()
            return head / seconds

        for runner in runtime.runners:
            # As built: what the view lacks comes from the log, then the stream takes over.
            figure(backend, f"{label}: projector process catch-up {runner.name}",
                   asyncio.run(project(runner.name, from_log=True)), "events/s")
            # Everything received from the stream, for comparison.
            figure(backend, f"{label}: stream-only catch-up {runner.name}",
                   asyncio.run(project(runner.name, from_log=False)), "events/s")
    finally:
        runtime.close()


@pytest.mark.timeout(600)
def test_command_to_subscription_latency(backend: str, make_settings: Callable[..., Settings],
                                         bench_nats: NatsServer, tmp_path: Path) -> None:
    """Open cases at 200/s through HTTP on `carelog serve --no-workers`, with the relay and the
    projectors in processes of their own; a `queueChanged` subscriber times each one seen."""
    settings = _settings(make_settings, backend, bench_nats, "latency")
    workers = [subprocess.Popen([CARELOG, "worker", kind], env=environment(settings),
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
               for kind in ("relay", "projections")]
    try:
        _measure_latency(backend, settings, tmp_path)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)


def _measure_latency(backend: str, settings: Settings, tmp_path: Path) -> None:
    with serving(settings, "--no-workers", cwd=tmp_path) as url:
        account = graphql(url, 'mutation { openAccount(input: {name: "Bench", tier: VIP, '
                               'manager: "Anna"}) { accountId } }')["openAccount"]
        sent: list[float] = [0.0] * LATENCY_COMMANDS
        seen: dict[int, float] = {}
        start = time.perf_counter() + 0.5
        lock = threading.Lock()
        slots = iter(range(LATENCY_COMMANDS))

        def client() -> None:
            # Four clients share one schedule: command n leaves at start + n / RATE.
            while True:
                with lock:
                    n = next(slots, None)
                if n is None:
                    return
                delay = start + n / RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent[n] = time.perf_counter()
                graphql(url, """mutation($id: UUID!, $n: String!) { openCase(input: {
                    accountId: $id, channel: EMAIL, subject: "Latency", text: $n,
                    externalMessageId: $n}) { caseId } }""",
                        id=account["accountId"], n=f"bench-{n}")

        def fire() -> None:
            clients = [threading.Thread(target=client) for _ in range(4)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()

        async def listen() -> None:
            query = "subscription { queueChanged(line: 1) { openCount } }"
            async with subscribe(url, query) as sub:
                await sub.next()  # the queue as it is
                writer = threading.Thread(target=fire)
                writer.start()
                while len(seen) < LATENCY_COMMANDS:
                    count = (await sub.next(timeout=30))["queueChanged"]["openCount"]
                    now = time.perf_counter()
                    for k in range(len(seen) + 1, count + 1):
                        seen[k] = now
                await asyncio.to_thread(writer.join)

        asyncio.run(listen())
        assert len(seen) == LATENCY_COMMANDS, "every case opened was seen by the subscriber"
        order = sorted(sent)  # the k-th case opened is the k-th command sent (to within
        achieved = LATENCY_COMMANDS / (order[-1] - order[0])  # the clients' overlap)
        latencies = sorted((seen[k + 1] - order[k]) * 1000 for k in range(LATENCY_COMMANDS))
        figure(backend, "command -> view -> subscription: commands/s sent", achieved,
               "commands/s")
        figure(backend, "command -> view -> subscription: p50",
               statistics.median(latencies), "ms")
        figure(backend, "command -> view -> subscription: p99",
               latencies[int(len(latencies) * 0.99)], "ms")
