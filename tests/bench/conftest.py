"""Benchmark plumbing: figures printed as one line each, sizes from the environment, and the
cached big logs (a SQLite directory under var/bench/ and the PostgreSQL database
carelog_bench_1m), made once and reused while the generator and the aggregates stay the same.

Sizes (environment variables, all optional):
  CARELOG_BENCH_EVENTS           events in the big log for the query benchmark (1,000,000)
  CARELOG_BENCH_CATCHUP_EVENTS   events in the fresh log for the catch-up benchmark (100,000)
  CARELOG_BENCH_COMMANDS         commands per throughput figure (2,000)
  CARELOG_BENCH_REQUESTS         timed requests per latency figure (500)
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from integrations.clock import SystemClock
from integrations.persistence import open_desk
from integrations.settings import Settings
from tests.bench.biglog import BigLogWriter, LogSummary, fingerprint

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / "var" / "bench"
# Only databases carrying this comment are ever dropped (and only to be regenerated).
PG_MARK = "carelog tests/bench log cache; safe to drop"


def size(name: str, default: int) -> int:
    raw = os.environ.get(f"CARELOG_BENCH_{name}", "").replace("_", "").replace(",", "")
    return int(raw) if raw.strip() else default


BIG_EVENTS = size("EVENTS", 1_000_000)
CATCHUP_EVENTS = size("CATCHUP_EVENTS", 100_000)
COMMANDS = size("COMMANDS", 2_000)
REQUESTS = size("REQUESTS", 500)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Benchmarks take minutes: without `-m bench` (as `make bench` passes) they are skipped."""
    if "bench" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="benchmark: run with `make bench` (pytest -m bench)")
    for item in items:
        if item.get_closest_marker("bench") is not None:
            item.add_marker(skip)


# Figures ------------------------------------------------------------------------------------


def log_label(events: int) -> str:
    """How a log's size is named in figures: `100k log`, `1.0M log`."""
    return f"{events / 1e6:.1f}M log" if events >= 1_000_000 else f"{events // 1000}k log"


_FIGURES: list[tuple[str, str, str, str]] = []


def figure(backend: str, what: str, value: float | int | str, unit: str = "") -> None:
    """Print one figure on a line of its own and keep it for the summary at the end."""
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = value
    _FIGURES.append((backend, what, text, unit))
    print(f"\nBENCH  {backend:<9} {what:<64} {text:>14}  {unit}", end="")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("Carelog benchmark figures")
    terminalreporter.write_line(f"{'backend':<9} {'what':<64} {'value':>14}  unit")
    for backend, what, text, unit in _FIGURES:
        terminalreporter.write_line(f"{backend:<9} {what:<64} {text:>14}  {unit}")


# Big logs -----------------------------------------------------------------------------------


@dataclass
class BigLog:
    settings: Settings
    events: int
    generate_seconds: float
    cached: bool
    detail: dict[str, Any]


def _with_dbname(url: str, dbname: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{dbname}"


def _generate(settings: Settings, target: int) -> LogSummary:
    desk = open_desk(settings, SystemClock())
    try:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 15:
                last[0] = now
                print(f"\n  ... {done:,} / {total:,} events", end="", flush=True)

        return BigLogWriter(desk).write(target, progress)
    finally:
        desk.close()


def _summary_detail(summary: LogSummary) -> dict[str, Any]:
    return {"events": summary.events, "accounts": summary.accounts, "cases": summary.cases,
            "interactions": summary.interactions, "saves": summary.saves, "days": summary.days,
            "generate_seconds": round(summary.seconds, 2), **summary.extra}


def sqlite_big_log(target: int) -> BigLog:
    fp = fingerprint()
    data_dir = CACHE_DIR / f"sqlite-{target}-{fp}"
    marker = data_dir / "READY.json"
    if marker.is_file():
        detail = json.loads(marker.read_text())
        return BigLog(Settings(data_dir=data_dir), detail["events"],
                      detail["generate_seconds"], True, detail)
    # Stale caches (another generator version or size) and half-written directories are ours.
    if CACHE_DIR.is_dir():
        for old in CACHE_DIR.glob(f"sqlite-{target}-*"):
            shutil.rmtree(old)
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir)
    summary = _generate(settings, target)
    detail = _summary_detail(summary)
    marker.write_text(json.dumps(detail, indent=2))
    return BigLog(settings, summary.events, summary.seconds, False, detail)


def postgres_big_log(admin_url: str, target: int) -> BigLog:
    name = "carelog_bench_1m" if target == 1_000_000 else f"carelog_bench_{target}"
    url = _with_dbname(admin_url, name)
    fp = fingerprint()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,)).fetchone()
        if row is not None:
            if row[0] != PG_MARK:
                pytest.fail(f"database {name} exists but was not made by the benchmarks; "
                            "refusing to touch it (drop it or set CARELOG_BENCH_EVENTS)")
            detail = _pg_marker(url)
            if detail is not None and detail.get("fingerprint") == fp:
                return BigLog(Settings(database_url=url), detail["events"],
                              detail["generate_seconds"], True, detail)
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(PG_MARK)))
    settings = Settings(database_url=url)
    summary = _generate(settings, target)
    detail = {**_summary_detail(summary), "fingerprint": fp}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_log_meta (detail TEXT NOT NULL)")
        conn.execute("INSERT INTO bench_log_meta (detail) VALUES (%s)", (json.dumps(detail),))
    return BigLog(settings, summary.events, summary.seconds, False, detail)


def _pg_marker(url: str) -> dict[str, Any] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('bench_log_meta')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute("SELECT detail FROM bench_log_meta").fetchone()
    return json.loads(row[0]) if row else None


class BigLogs:
    """The big log of each backend, made or found once per session."""

    def __init__(self) -> None:
        self._logs: dict[str, BigLog] = {}

    def get(self, backend: str, request: pytest.FixtureRequest) -> BigLog:
        if backend not in self._logs:
            if backend == "sqlite":
                log = sqlite_big_log(BIG_EVENTS)
            else:
                log = postgres_big_log(request.getfixturevalue("postgres_admin"), BIG_EVENTS)
            self._logs[backend] = log
            state = "cached, generated by an earlier run" if log.cached else "generated now"
            figure(backend, f"big log: events ({state})", log.events, "events")
            figure(backend, "big log: accounts / cases / interactions",
                   f"{log.detail['accounts']}/{log.detail['cases']}/"
                   f"{log.detail['interactions']}", "")
            figure(backend, f"big log: generation time ({log.detail['saves']} saves)",
                   log.generate_seconds, "s")
            figure(backend, "big log: generation rate (batched desk.save)",
                   log.events / log.generate_seconds, "events/s")
        return self._logs[backend]


@pytest.fixture(scope="session")
def big_logs() -> BigLogs:
    return BigLogs()
