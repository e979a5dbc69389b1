"""Projection catch-up: every runner of `api.runtime.Runtime` folding the log from position 0.

Two logs: a fresh one of CARELOG_BENCH_CATCHUP_EVENTS (default 100k) events, where the
ProjectorPool's concurrent catch-up (as `carelog serve` runs it) is measured too, and the big
log of the query benchmark (default 1M events), rebuilt view by view, then all views in step as
`carelog rebuild` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from api.runtime import Runtime
from integrations.clock import SystemClock
from integrations.persistence import open_desk
from integrations.settings import Settings
from tests.bench.biglog import BigLogWriter
from tests.bench.conftest import CATCHUP_EVENTS, BigLogs, figure, log_label

pytestmark = pytest.mark.bench


def rebuild_each(backend: str, runtime: Runtime, label: str) -> None:
    """Rebuild every view from zero, one after the other, and print the rates."""
    head = int(runtime.desk.recorder.max_notification_id() or 0)
    total = 0.0
    for runner in runtime.runners:
        started = time.perf_counter()
        folded = runner.rebuild()
        seconds = time.perf_counter() - started
        total += seconds
        assert runner.position == head
        assert folded == head
        figure(backend, f"{label}: catch-up {runner.name}", folded / seconds, "events/s")
    figure(backend, f"{label}: catch-up all {len(runtime.runners)} views, one after another",
           head / total, "events/s")
    figure(backend, f"{label}: catch-up all views, total time", total, "s")

    # All at once, in step, as `carelog rebuild` and `carelog serve` do: one read and one
    # decoding of each page for every view.
    for runner in runtime.runners:
        runner.reset()
    started = time.perf_counter()
    runtime.catch_up()
    seconds = time.perf_counter() - started
    assert all(runner.position == head for runner in runtime.runners)
    figure(backend, f"{label}: rebuild all views in step (Runtime.catch_up)", head / seconds,
           "events/s")
    figure(backend, f"{label}: rebuild all views in step, total time", seconds, "s")


@pytest.mark.timeout(900)
def test_catch_up_fresh_log(backend: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(backend)
    desk = open_desk(settings, SystemClock())
    try:
        summary = BigLogWriter(desk, accounts=400, seed=3).write(CATCHUP_EVENTS)
    finally:
        desk.close()
    label = log_label(summary.events)
    figure(backend, f"{label}: events in the log", summary.events, "events")

    runtime = Runtime.open(settings)
    try:
        rebuild_each(backend, runtime, label)
        assert runtime.services.accounts.count() == summary.accounts

        # The same from zero with every projector in its own thread, as `carelog serve` runs.
        for runner in runtime.runners:
            runner.reset()
        head = summary.events
        started = time.perf_counter()
        runtime.pool.start()
        deadline = started + 600
        while min(runtime.store.positions().get(r.name, 0) for r in runtime.runners) < head:
            assert time.perf_counter() < deadline, "projectors did not catch up in 10 minutes"
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        runtime.pool.stop()
        figure(backend, f"{label}: catch-up all views concurrently (ProjectorPool)",
               head / seconds, "events/s")
    finally:
        runtime.close()


@pytest.mark.timeout(1800)
def test_catch_up_big_log(backend: str, big_logs: BigLogs,
                          request: pytest.FixtureRequest) -> None:
    log = big_logs.get(backend, request)
    runtime = Runtime.open(log.settings)
    try:
        rebuild_each(backend, runtime, log_label(log.events))
        assert runtime.services.accounts.count() == log.detail["accounts"]
    finally:
        runtime.close()
