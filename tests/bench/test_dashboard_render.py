"""The manager dashboard's first render in headless Chromium, with the key accounts in the
portfolio: time to interactive (navigation start to the page's `carelog:interactive` mark, set
once the tiles, the table of 200, the alerts and the charts are drawn) and each GraphQL request
the page made, with its timings.

The log is the demo's (CARELOG_BENCH_DASHBOARD_ACCOUNTS accounts, default 220, over 3
months), or with CARELOG_BENCH_DASHBOARD=big the cached big log of the other benchmarks
(CARELOG_BENCH_EVENTS, default 1M). The first load after start is "cold" (no answer kept);
the next ones are served while the views are unchanged. Chromium is started and left to settle
before the first load (its start-up would otherwise be timed as the server's).

    .venv/bin/python -m pytest tests/bench/test_dashboard_render.py -m bench -s -p no:randomly
"""

from __future__ import annotations

import logging
import os
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Request

from api.app import create_app
from api.demo import DemoGenerator
from api.runtime import Runtime
from integrations.settings import Settings
from tests.bench.conftest import BigLogs, figure, log_label, size
from tests.browser import chromium, new_page, screenshot, wait_ready
from tests.conftest import START
from tests.live import live_server

pytestmark = pytest.mark.bench

ACCOUNTS = size("DASHBOARD_ACCOUNTS", 220)
WARM_LOADS = 10
FIELD = re.compile(r"\{\s*(\w+)")


def _operation(request: Request) -> str:
    """The first field a GraphQL request asks for: what the page asked."""
    found = FIELD.search(request.post_data or "")
    return found.group(1) if found else request.url


def _load(page: Any, url: str) -> tuple[float, float, list[tuple[str, float, float]]]:
    """One load of the dashboard: ms to the portfolio table and to everything drawn, and per
    GraphQL request its operation, start (ms after navigation) and duration (ms)."""
    requests: list[Request] = []

    def listener(request: Request) -> None:
        requests.append(request)

    page.on("requestfinished", listener)
    page.goto(url + "/")
    wait_ready(page)
    page.remove_listener("requestfinished", listener)
    table, interactive = (float(page.evaluate(
        f"performance.getEntriesByName('carelog:{mark}')[0].startTime"))
        for mark in ("portfolio", "interactive"))
    started = float(page.evaluate("performance.timeOrigin"))
    rows = []
    for request in requests:
        if not request.url.endswith("/graphql"):
            continue
        timing = request.timing
        rows.append((_operation(request), timing["startTime"] - started,
                     timing["responseEnd"]))
    return table, interactive, rows


def _measure(backend: str, label: str, runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime=runtime, run_workers=False)
    with live_server(app) as url, chromium() as browser:
        page = new_page(browser).page
        # Chromium's own start-up work runs on for a while after launch; on two cores it
        # would be timed as the server's. A manager's browser is running already.
        page.goto("about:blank")
        time.sleep(2)
        table, cold, requests = _load(page, url)
        rows = page.locator("#portfolio tbody tr").count()
        assert 0 < rows <= 200
        screenshot(page, f"bench-dashboard-{backend}")
        figure(backend, f"{label}: dashboard ({rows} rows), portfolio table shown, cold", table,
               "ms")
        figure(backend, f"{label}: dashboard, time to interactive (all drawn), cold", cold,
               "ms")
        for operation, start, duration in requests:
            figure(backend, f"{label}:   cold {operation} request (starts at {start:.0f} ms)",
                   duration, "ms")
        warm: list[float] = []
        tables: list[float] = []
        per_request: dict[str, list[float]] = {}
        for _ in range(WARM_LOADS):
            table, interactive, requests = _load(page, url)
            tables.append(table)
            warm.append(interactive)
            for operation, _start, duration in requests:
                per_request.setdefault(operation, []).append(duration)
        figure(backend, f"{label}: dashboard, portfolio table shown, warm (median of "
                        f"{WARM_LOADS})", statistics.median(tables), "ms")
        figure(backend, f"{label}: dashboard, time to interactive, warm (median of "
                        f"{WARM_LOADS})", statistics.median(warm), "ms")
        for operation, durations in per_request.items():
            figure(backend, f"{label}:   warm {operation} request (median)",
                   statistics.median(durations), "ms")


@pytest.mark.timeout(3600)
def test_dashboard_first_render(backend: str, make_settings: Callable[..., Settings],
                                request: pytest.FixtureRequest) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if os.environ.get("CARELOG_BENCH_DASHBOARD") == "big":
        big_logs: BigLogs = request.getfixturevalue("big_logs")
        settings = big_logs.get(backend, request).settings
    else:
        settings = make_settings(backend)
    runtime = Runtime.open(settings)
    try:
        if os.environ.get("CARELOG_BENCH_DASHBOARD") != "big":
            DemoGenerator(runtime.desk, accounts=ACCOUNTS, months=3, seed=3,
                          until=START.date()).run()
        runtime.catch_up()
        head = int(runtime.desk.recorder.max_notification_id() or 0)
        _measure(backend, log_label(head), runtime)
    finally:
        runtime.close()
