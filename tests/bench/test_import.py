"""Importing history into PostgreSQL: tickets per second for 100,000 tickets with their
accounts (read from CSV files, written in shared transactions), then the time until every
projection has caught up with the imported log.

Size: CARELOG_BENCH_IMPORT_TICKETS (100,000) tickets over CARELOG_BENCH_IMPORT_ACCOUNTS
(1,000) accounts; batch size CARELOG_BENCH_IMPORT_BATCH (500).
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.runtime import Runtime
from integrations.clock import SystemClock
from integrations.importers.csv_files import CsvReader
from integrations.importers.replayer import HistoryWriter
from integrations.persistence import open_desk
from integrations.settings import Settings
from tests.bench.conftest import figure, size

pytestmark = pytest.mark.bench

TICKETS = size("IMPORT_TICKETS", 100_000)
ACCOUNTS = size("IMPORT_ACCOUNTS", 1_000)
BATCH = size("IMPORT_BATCH", 500)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_history(directory: Path, tickets: int, accounts: int, seed: int = 11) -> None:
    """Accounts with a subscription each, and tickets answered, resolved, closed, some rated."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with (directory / "accounts.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "name", "plan", "seats", "signup_date", "manager"])
        for a in range(accounts):
            out.writerow([f"A{a}", f"Company {a}",
                          rng.choice(["vip", "enterprise", "business", "standard"]),
                          rng.randint(5, 500), "2024-01-01", f"Manager {a % 7}"])
    with (directory / "revenue.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["account", "start", "end", "mrr"])
        for a in range(accounts):
            out.writerow([f"A{a}", "2024-01-01", "", rng.randint(100, 20_000)])
    with (directory / "tickets.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "account", "opened", "subject", "channel", "priority", "topic",
                      "agent", "first_response", "resolved", "closed", "satisfaction"])
        for t in range(tickets):
            opened = start + timedelta(minutes=rng.randint(0, 60 * 24 * 600))
            first = opened + timedelta(minutes=rng.randint(1, 600))
            resolved = first + timedelta(minutes=rng.randint(1, 3000))
            out.writerow([f"T{t}", f"A{rng.randrange(accounts)}", _iso(opened),
                          f"Question {t}", rng.choice(["email", "phone", "api", "web_form"]),
                          rng.choice(["urgent", "high", "normal", "low"]),
                          rng.choice(["login", "billing", "export", "api"]), f"Agent {t % 20}",
                          _iso(first), _iso(resolved), _iso(resolved + timedelta(days=1)),
                          rng.choice(["", "", "5", "4", "3", "1"])])


@pytest.mark.timeout(3600)
def test_import_tickets_into_postgres(make_settings: Callable[..., Settings],
                                      tmp_path: Path) -> None:
    settings = make_settings("postgres")
    directory = tmp_path / "history"
    write_history(directory, TICKETS, ACCOUNTS)

    desk = open_desk(settings, SystemClock())
    try:
        began = time.perf_counter()
        plan = CsvReader().read(directory)
        read = time.perf_counter() - began
        summary = HistoryWriter(desk, currency=settings.currency, batch_size=BATCH).write(plan)
        written = time.perf_counter() - began
        events = desk.recorder.max_notification_id() or 0
    finally:
        desk.close()
    assert summary.tallies["ticket"].created == TICKETS
    assert summary.tallies["account"].created == ACCOUNTS
    label = f"{TICKETS // 1000}k tickets, {ACCOUNTS} accounts"
    figure("postgres", f"import {label}: read the CSV files", read, "s")
    figure("postgres", f"import {label}: read and write ({events:,} events)", written, "s")
    figure("postgres", f"import {label}: tickets per second (batches of {BATCH})",
           TICKETS / written, "tickets/s")
    figure("postgres", f"import {label}: events per second", events / written, "events/s")

    runtime = Runtime.open(settings, SystemClock())
    try:
        began = time.perf_counter()
        runtime.catch_up()  # in step, as `carelog import` does
        caught_up = time.perf_counter() - began
        assert all(runner.position >= events for runner in runtime.runners)
    finally:
        runtime.close()
    figure("postgres", f"import {label}: every projection caught up "
                       f"({len(runtime.runners)} views)", caught_up, "s")
