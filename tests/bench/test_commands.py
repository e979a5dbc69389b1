"""Command throughput: sequential CareDesk commands, one transaction each, as the API calls them.

The desk starts on a fresh store holding a year of realistic history for 200 accounts (contacts,
monthly revenue, a few thousand cases), so each command loads an account with a real history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from itertools import cycle

import pytest

from domain.application import CareDesk
from integrations.clock import SystemClock
from integrations.persistence import open_desk
from integrations.settings import Settings
from tests.bench.biglog import BigLogWriter
from tests.bench.conftest import COMMANDS, figure

pytestmark = pytest.mark.bench

HISTORY_EVENTS = 20_000


@pytest.fixture
def seeded(make_settings: Callable[..., Settings],
           backend: str) -> Iterator[tuple[CareDesk, BigLogWriter]]:
    desk = open_desk(make_settings(backend), SystemClock())
    writer = BigLogWriter(desk, accounts=200, cases_per_day=5, seed=5)
    writer.write(HISTORY_EVENTS)
    history = sum(c.account.version for c in writer.clients) / len(writer.clients)
    figure(backend, "commands: log before the run", writer.summary.events, "events")
    figure(backend, "commands: events per account history (mean)", history, "events")
    yield desk, writer
    desk.close()


def _rate(backend: str, what: str, durations: list[float]) -> None:
    n, ordered = len(durations), sorted(durations)
    figure(backend, f"{what}: {n} sequential commands", n / sum(durations), "commands/s")
    figure(backend, f"{what}: latency p50", ordered[n // 2] * 1000, "ms")
    figure(backend, f"{what}: latency p95", ordered[int(n * 0.95)] * 1000, "ms")


def _timed(command: Callable[[int], object]) -> list[float]:
    durations = []
    for i in range(COMMANDS):
        started = time.perf_counter()
        command(i)
        durations.append(time.perf_counter() - started)
    return durations


@pytest.mark.timeout(900)
def test_command_throughput(backend: str, seeded: tuple[CareDesk, BigLogWriter]) -> None:
    desk, writer = seeded
    clients = cycle([c for c in writer.clients if not c.account.churned])
    run = f"bench-cmd-{time.time_ns()}"
    head = desk.recorder.max_notification_id() or 0

    # open_case: loads the account, checks the message id is new, saves Case + Interaction.
    cases = []

    def open_case(i: int) -> None:
        client = next(clients)
        contact_id, person = client.contacts[i % len(client.contacts)]
        result = desk.open_case(
            account_id=client.account.id, channel="email", subject="Export to ERP is missing",
            text="Hello, the nightly export misses the VAT field. Regards", actor="system:bench",
            priority="normal", topic="integration", contact_id=contact_id, sender=person,
            external_message_id=f"{run}-open-{i}")
        cases.append((client, result.ids["caseId"], contact_id, person))

    _rate(backend, "open_case", _timed(open_case))

    # record_interaction without a case: loads the account, checks the id, saves one event.
    def message(i: int) -> None:
        client = next(clients)
        contact_id, person = client.contacts[i % len(client.contacts)]
        desk.record_interaction(
            account_id=client.account.id, channel="email", direction="inbound",
            text="Quick question about our contract renewal.", actor="system:bench",
            sender=person, contact_id=contact_id, external_message_id=f"{run}-msg-{i}")

    _rate(backend, "record_interaction (no case)", _timed(message))

    # record_interaction on a case: also loads the case to check it belongs to the account.
    def follow_up(i: int) -> None:
        client, case_id, contact_id, person = cases[i % len(cases)]
        desk.record_interaction(
            account_id=client.account.id, channel="email", direction="inbound",
            text="One more detail: it also happens for our EU team.", actor="system:bench",
            case_id=case_id, sender=person, contact_id=contact_id,
            external_message_id=f"{run}-follow-{i}")

    _rate(backend, "record_interaction (on a case)", _timed(follow_up))

    # Sanity: every command appended its events (open_case two, record_interaction one each).
    assert (desk.recorder.max_notification_id() or 0) - head == 4 * COMMANDS
