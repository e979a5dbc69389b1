"""What authentication costs the dashboard: the portfolio query over HTTP with a manager's
session cookie, against the same query as before authentication existed (every request the
development administrator, no lookup), in the same run, on the same data, interleaved.

The data is the demo portfolio (CARELOG_BENCH_AUTH_ACCOUNTS accounts, 250 by default) rather
than the 1M-event log: the session lookup reads two small aggregates whatever the log's size.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import DEVELOPMENT_ADMIN, Viewer
from api.demo import DemoGenerator
from api.runtime import Runtime
from integrations.settings import Settings
from tests.bench.conftest import REQUESTS, figure
from tests.bench.test_queries import PORTFOLIO
from tests.e2e.users import PASSWORD, add_user
from tests.live import live_server

pytestmark = pytest.mark.bench

ACCOUNTS = int(os.environ.get("CARELOG_BENCH_AUTH_ACCOUNTS", "250"))
ROUNDS = 5


class _AsBefore:
    """The authenticator of the code before this issue: every caller the development admin."""

    def without_credential(self) -> Viewer:
        return DEVELOPMENT_ADMIN


def _timed(run: Callable[[], None], n: int) -> list[float]:
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        durations.append(time.perf_counter() - started)
    return durations


@pytest.mark.timeout(1800)
def test_portfolio_with_a_manager_session_costs_what_it_did_before(
        backend: str, make_settings: Callable[..., Settings]) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = make_settings(backend)
    runtime = Runtime.open(settings)
    try:
        DemoGenerator(runtime.desk, accounts=ACCOUNTS, months=3, seed=7).run(
            lambda done, total: None)
        for runner in runtime.runners:
            runner.catch_up()
        add_user(runtime, "mia", "manager", password=True)
        for kept, what in ((0, "computed"), (256, "as served")):
            configured = replace(settings, answer_cache=kept)
            before_app = create_app(configured, runtime=runtime, run_workers=False)
            after_app = create_app(configured, runtime=runtime, run_workers=False)
            with live_server(before_app) as before_url, live_server(after_app) as after_url, \
                    httpx.Client(base_url=before_url, timeout=30) as before, \
                    httpx.Client(base_url=after_url, timeout=30) as after:
                before_app.state.auth = _AsBefore()
                login = after.post("/auth/login", json={"username": "mia",
                                                        "password": PASSWORD})
                assert login.status_code == 200, login.text

                def ask(client: httpx.Client) -> Callable[[], None]:
                    def run() -> None:
                        response = client.post("/graphql", json={"query": PORTFOLIO})
                        body: dict[str, Any] = response.json()
                        assert not body.get("errors"), body
                        assert len(body["data"]["portfolio"]) == min(200, ACCOUNTS)
                    return run

                _timed(ask(before), 30)
                _timed(ask(after), 30)
                times: dict[str, list[float]] = {"before": [], "after": []}
                for _ in range(ROUNDS):  # interleaved, so drift on a shared machine is shared
                    times["before"] += _timed(ask(before), REQUESTS // ROUNDS)
                    times["after"] += _timed(ask(after), REQUESTS // ROUNDS)
            medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
            figure(backend, f"portfolio {what}, before auth (dev admin): median",
                   medians["before"], "ms")
            figure(backend, f"portfolio {what}, manager session: median", medians["after"],
                   "ms")
            figure(backend, f"portfolio {what}, manager session / before",
                   medians["after"] / medians["before"], "x")
    finally:
        runtime.close()
