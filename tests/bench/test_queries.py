"""Latency of the managers' top-200 `accounts` query on the big log (default 1M events).

Three layers, so the overhead of each is visible:
  1. over HTTP: a real uvicorn server (in a thread, on a free loopback port) serving
     `create_app`, with its projectors following the log, and an httpx keep-alive client;
  2. the same GraphQL operation executed in-process by the schema (no HTTP);
  3. `AccountsView.page` alone (the view read, no GraphQL).
One client, sequential requests, after a warm-up. The goal for (1) is under 10 ms.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import DEVELOPMENT_ADMIN
from api.graphql.context import build_context
from api.graphql.schema import build_schema
from api.runtime import Runtime
from tests.bench.conftest import REQUESTS, BigLogs, figure, log_label
from tests.live import live_server

pytestmark = pytest.mark.bench

TOP_200 = ("{ accounts(first: 200, keyAccountsOnly: true) { edges { node { id name "
           "arr { amount currency } rank isKeyAccount tier manager } } } }")
WARM_UP = 30


def _check(body: dict[str, Any]) -> None:
    assert not body.get("errors"), body.get("errors")
    edges = body["data"]["accounts"]["edges"]
    assert len(edges) == 200, len(edges)
    assert [e["node"]["rank"] for e in edges] == list(range(1, 201))


def _timings(run: Callable[[], None], n: int) -> list[float]:
    for _ in range(WARM_UP):
        run()
    durations = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        durations.append(time.perf_counter() - started)
    return durations


def _report(backend: str, what: str, durations: list[float]) -> None:
    ms = sorted(d * 1000 for d in durations)
    n = len(ms)
    figure(backend, f"{what}: median", statistics.median(ms), "ms")
    figure(backend, f"{what}: p95", ms[int(n * 0.95)], "ms")
    figure(backend, f"{what}: p99", ms[int(n * 0.99)], "ms")
    figure(backend, f"{what}: requests/s, 1 client", n / (sum(ms) / 1000), "req/s")


@pytest.mark.timeout(1800)
def test_top_200_accounts_latency(backend: str, big_logs: BigLogs,
                                  request: pytest.FixtureRequest) -> None:
    log = big_logs.get(backend, request)
    # The app's logging setup lets httpx log every request at INFO: noise, and client time.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime = Runtime.open(log.settings)
    try:
        started = time.perf_counter()
        for runner in runtime.runners:  # normally a no-op: the views were kept with the log
            runner.catch_up()
        if (seconds := time.perf_counter() - started) > 1:
            figure(backend, "query: views had to catch up first", seconds, "s")
        head = int(runtime.desk.recorder.max_notification_id() or 0)
        assert runtime.store.positions() == {r.name: head for r in runtime.runners}
        label = log_label(head)

        # 1. Over HTTP, through uvicorn, Litestar and strawberry: every answer computed, then
        #    as served (answers kept while the views they read are unchanged).
        for kept, what in ((0, "HTTP GraphQL, computed"), (256, "HTTP GraphQL, as served")):
            settings = replace(runtime.settings, answer_cache=kept)
            app = create_app(settings, runtime=runtime, run_workers=False)
            with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
                def over_http() -> None:
                    response = client.post("/graphql", json={"query": TOP_200})
                    assert response.status_code == 200, response.text
                    _check(response.json())

                over_http()
                http = _timings(over_http, REQUESTS)
            _report(backend, f"{label}: top-200 accounts, {what}", http)

        # 2. The schema alone, in-process: the same operation, a fresh context each time.
        schema = build_schema(production=runtime.settings.is_production)

        async def in_process() -> list[float]:
            async def once() -> None:
                result = await schema.execute(
                    TOP_200, context_value=build_context(runtime.services, DEVELOPMENT_ADMIN))
                assert result.errors is None, result.errors
                _check({"data": result.data})

            for _ in range(WARM_UP):
                await once()
            durations = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                await once()
                durations.append(time.perf_counter() - started)
            return durations

        _report(backend, f"{label}: top-200 accounts, GraphQL in-process",
                asyncio.run(in_process()))

        # 3. The view read alone.
        view = runtime.services.accounts

        def page() -> None:
            rows = view.page(200, None, "ARR_DESC", True).rows
            assert len(rows) == 200

        _report(backend, f"{label}: top-200 accounts, AccountsView.page", _timings(page, REQUESTS))
    finally:
        runtime.close()


PORTFOLIO = ("{ portfolio(top: 200) { rank accountId name owner tier score band confirmedBand "
             "delta7 delta30 trend renewalOn arr { amount currency } "
             "revenueAtRisk { amount } } }")


def _check_portfolio(body: dict[str, Any]) -> None:
    assert not body.get("errors"), body.get("errors")
    entries = body["data"]["portfolio"] if "data" in body else body["portfolio"]
    assert len(entries) == 200, len(entries)
    assert [e["rank"] for e in entries] == list(range(1, 201))
    assert all(e["score"] is not None for e in entries)


def _portfolio_json_app(runtime: Runtime) -> Any:
    """The same rows and fields as the GraphQL portfolio, as plain JSON from a Litestar route:
    the floor the GraphQL answer is measured against."""
    from litestar import Litestar, get

    from projections.money import from_cents

    services = runtime.services
    currency = services.settings.currency

    @get("/portfolio.json", sync_to_thread=True)
    def portfolio() -> dict[str, Any]:
        rows = services.portfolio.top(200)
        return {"portfolio": [{
            "rank": r["rank"], "accountId": r["id"], "name": r["name"], "owner": r["manager"],
            "tier": r["tier"].upper(), "score": r["score"], "band": r["band"],
            "confirmedBand": r["confirmed_band"], "delta7": r["delta7"],
            "delta30": r["delta30"], "trend": r["arrow"], "renewalOn": r["renewal_on"],
            "arr": {"amount": str(from_cents(r["arr_reporting_cents"])), "currency": currency},
            "revenueAtRisk": {"amount": str(from_cents(
                r["arr_reporting_cents"] if r["confirmed_band"] == "red" else 0))},
        } for r in rows]}

    return Litestar(route_handlers=[portfolio])


@pytest.mark.timeout(1800)
def test_portfolio_latency(backend: str, big_logs: BigLogs,
                           request: pytest.FixtureRequest) -> None:
    """The portfolio (top 200 with health and KPIs): GraphQL computed and as served, against
    the same rows as plain JSON from a Litestar route, in the same run."""
    log = big_logs.get(backend, request)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime = Runtime.open(log.settings)
    try:
        for runner in runtime.runners:
            runner.catch_up()
        label = log_label(int(runtime.desk.recorder.max_notification_id() or 0))
        medians: dict[str, float] = {}
        for kept, what in ((0, "GraphQL computed"), (256, "GraphQL as served")):
            # Read-only: no projectors or reactors writing beside the measured requests.
            app = create_app(replace(runtime.settings, answer_cache=kept), runtime=runtime,
                             run_workers=False)
            with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
                def over_http() -> None:
                    response = client.post("/graphql", json={"query": PORTFOLIO})
                    assert response.status_code == 200, response.text
                    _check_portfolio(response.json())

                durations = _timings(over_http, REQUESTS)
            medians[what] = statistics.median(durations)
            _report(backend, f"{label}: portfolio top 200, HTTP {what}", durations)
        with live_server(_portfolio_json_app(runtime)) as url, \
                httpx.Client(base_url=url, timeout=30) as client:
            def plain() -> None:
                response = client.get("/portfolio.json")
                assert response.status_code == 200, response.text
                _check_portfolio(response.json())

            durations = _timings(plain, REQUESTS)
        medians["plain"] = statistics.median(durations)
        _report(backend, f"{label}: portfolio top 200, HTTP plain JSON route", durations)
        figure(backend, f"{label}: portfolio, GraphQL computed / plain JSON (median)",
               medians["GraphQL computed"] / medians["plain"], "x")
        figure(backend, f"{label}: portfolio, GraphQL as served / plain JSON (median)",
               medians["GraphQL as served"] / medians["plain"], "x")
        view = runtime.services.portfolio
        _report(backend, f"{label}: portfolio top 200, PortfolioView.top",
                _timings(lambda: view.top(200), REQUESTS))
        end = max(r["as_of"] for r in view.top(200)).date()
        _report(backend, f"{label}: KPIs for 12 months, PortfolioView.kpis",
                _timings(lambda: view.kpis(end.replace(year=end.year - 1), end), 50))
    finally:
        runtime.close()
