"""Faults of our own processes (A3, A9): a projector process killed with SIGKILL at random
moments of its work, and a rebuild run while commands keep arriving. Afterwards every view
equals a rebuild from the log, row for row."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from api.demo import DemoGenerator
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import Settings
from tests.fault.test_nats_faults import Writer
from tests.integration.test_projections import dump
from tests.integration.test_stream import until, workers
from tests.live import CARELOG, environment
from tests.servers import NatsServer
from workers.relay import RELAY

pytestmark = pytest.mark.fault



def views_equal_a_rebuild(runtime: Runtime) -> None:
    kept = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    for runner in runtime.runners:
        runner.rebuild()
    assert {r.name: dump(runtime.store, r.projection) for r in runtime.runners} == kept


def test_a3_projector_process_killed_mid_batch_leaves_views_equal_to_a_rebuild(
        backend: str, make_settings: Callable[..., Settings], nats_server: NatsServer,
        nats_prefix: str, clock: FakeClock, tmp_path: Path) -> None:
    settings = make_settings(backend, nats_url=nats_server.url, nats_prefix=nats_prefix,
                             projection_page_size=40)
    runtime = Runtime.open(settings, clock)
    try:
        DemoGenerator(runtime.desk, accounts=60, months=3, seed=4,
                      until=clock.now().date()).run()
        head = runtime.desk.recorder.max_notification_id()

        async def publish() -> None:
            async with workers(runtime, projections=False):
                await until(lambda: runtime.store.positions().get(RELAY) == head, 60)

        asyncio.run(publish())
        rng = random.Random(3)
        def folded() -> tuple[int, ...]:
            stored = runtime.store.positions()
            return tuple(stored.get(n, 0) for n in ("accounts", "case_queues"))

        kills = starts = 0
        log = (tmp_path / "projector.log").open("ab")
        while True:
            process = subprocess.Popen([CARELOG, "worker", "projections"], cwd=tmp_path,
                                       env=environment(settings), stdout=log,
                                       stderr=subprocess.STDOUT)
            starts += 1
            positions = runtime.store.positions
            names = [r.name for r in runtime.runners]
            if kills >= 3 or all(positions().get(n, 0) == head for n in names):
                deadline = time.monotonic() + 60
                while not all(positions().get(n, 0) == head for n in names):
                    assert time.monotonic() < deadline, (tmp_path / "projector.log").read_text()
                    time.sleep(0.05)
                while (tmp_path / "projector.log").read_text().count("running") < starts:
                    time.sleep(0.05)  # its signal handlers are in place once it says so
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0
                break
            before = folded()
            deadline = time.monotonic() + 60
            while folded() == before and before != (head, head) and process.poll() is None:
                assert time.monotonic() < deadline, (tmp_path / "projector.log").read_text()
                time.sleep(0.01)  # wait until it is folding, then kill it somewhere inside
            time.sleep(rng.uniform(0.0, 0.2))
            process.kill()
            process.wait(10)
            if min(folded()) < head:
                kills += 1
        assert kills >= 2, "killed while it was folding, at least twice"
        views_equal_a_rebuild(runtime)
    finally:
        runtime.close()


def test_a9_rebuild_while_commands_keep_arriving(runtime: Runtime, tmp_path: Path) -> None:
    """`carelog rebuild` in another process while this one writes and follows the log."""
    DemoGenerator(runtime.desk, accounts=10, months=2, seed=8,
                  until=runtime.desk.clock.now().date()).run()
    runtime.pool.start()
    with Writer(runtime) as writer:
        time.sleep(0.3)
        rebuilt = subprocess.run([CARELOG, "rebuild"], cwd=tmp_path,
                                 env=environment(runtime.settings), capture_output=True,
                                 text=True, timeout=240, check=False)
        time.sleep(0.3)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert writer.told
    head = runtime.desk.recorder.max_notification_id()
    deadline = time.monotonic() + 60
    while not all(runtime.store.positions().get(r.name, 0) == head for r in runtime.runners):
        assert time.monotonic() < deadline
        runtime.pool.nudge()
        time.sleep(0.05)
    runtime.pool.stop()
    views_equal_a_rebuild(runtime)

