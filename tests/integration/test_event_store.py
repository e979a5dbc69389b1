"""The event log on real SQLite files and the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from api.runtime import Runtime
from domain.application import CareDesk, CommandResult
from domain.case import Case
from domain.errors import VersionConflictError
from domain.interaction import Interaction
from domain.values import Money
from integrations import persistence
from integrations.clock import SystemClock
from integrations.event_recorder import EventRecorder
from integrations.persistence import open_desk
from integrations.settings import Settings, SettingsError
from tests.conftest import START

pytestmark = pytest.mark.integration
ACTOR = "staff:ann"


def _account(desk: CareDesk, tier: str = "vip") -> Any:
    return desk.open_account(name="Globex Energy", tier=tier, manager="Anna Berg",
                             currency="EUR", actor=ACTOR,
                             occurred_at=START - timedelta(days=30)).ids["accountId"]


def _case(desk: CareDesk, account_id: Any, ref: str = "m-1") -> CommandResult:
    return desk.open_case(account_id=account_id, channel="email", subject="Invoice is wrong",
                          text="Our invoice shows 12 seats, we have 10.", actor="contact:x",
                          external_message_id=ref, occurred_at=START - timedelta(days=1))


def test_events_round_trip_with_money_times_and_ids(runtime: Runtime) -> None:
    desk = runtime.desk
    account_id = _account(desk)
    desk.record_revenue(account_id=account_id, period="2026-02", mrr=Money(Decimal("1234.56"),
                        "EUR"), actor=ACTOR, occurred_at=START - timedelta(days=20))
    events = list(desk.events.get(account_id))
    assert [type(e).__name__ for e in events] == ["Opened", "RevenueRecorded"]
    revenue = events[1]
    assert revenue.mrr == Decimal("1234.56")
    assert isinstance(revenue.mrr, Decimal)
    assert revenue.occurred_at == START - timedelta(days=20)
    assert revenue.occurred_at.tzinfo is not None
    assert revenue.actor == ACTOR
    # Stable, explicit topics: stored events never name a Python module.
    notifications = desk.recorder.select_notifications(start=None, limit=10)
    assert [n.topic for n in notifications] == [
        "carelog:Account.Opened", "carelog:Account.RevenueRecorded"]


def test_notification_ids_increase_in_commit_order(runtime: Runtime) -> None:
    desk = runtime.desk
    account_id = _account(desk)
    results = [_case(desk, account_id, f"m-{i}") for i in range(5)]
    ids = [r.notification_id for r in results]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert desk.recorder.max_notification_id() == ids[-1]


def test_one_save_of_many_events_gets_ids_in_the_order_of_its_events(runtime: Runtime) -> None:
    desk = runtime.desk
    if runtime.settings.database_url is not None:  # the save is one insert of plain arrays
        assert isinstance(desk.recorder, EventRecorder)
    account_id = _account(desk)
    head = desk.recorder.max_notification_id() or 0
    cases = [Case(id=uuid4(), account_id=account_id, channel="email", subject=f"case {i}",
                  topic=None, priority="normal", line=1, contact_id=None,
                  opening_interaction_id=uuid4(), first_response_due=START + timedelta(hours=4),
                  resolution_due=START + timedelta(days=2), occurred_at=START, actor=ACTOR)
             for i in range(3)]
    cases[1].assign("ann", START, ACTOR)
    recordings = desk.save(*cases)
    assert [r.notification.id for r in recordings] == list(range(head + 1, head + 5))
    stored = desk.recorder.select_notifications(start=head + 1, limit=10)
    assert [(n.originator_id, n.originator_version, n.topic) for n in stored] == [
        (cases[0].id, 1, "carelog:Case.Opened"), (cases[1].id, 1, "carelog:Case.Opened"),
        (cases[1].id, 2, "carelog:Case.Assigned"), (cases[2].id, 1, "carelog:Case.Opened")]
    assert desk.case(cases[1].id).assignee == "ann"


def test_duplicate_inbound_message_is_stored_once(runtime: Runtime) -> None:
    desk = runtime.desk
    account_id = _account(desk)
    first = _case(desk, account_id, "telegram-update-77")
    head = desk.recorder.max_notification_id()
    again = _case(desk, account_id, "telegram-update-77")
    assert again.duplicate
    assert not first.duplicate
    assert again.ids == first.ids
    assert desk.recorder.max_notification_id() == head
    interaction_id = first.ids["interactionId"]
    assert len(list(desk.events.get(interaction_id))) == 1


def test_concurrent_deliveries_of_one_message_store_it_once(runtime: Runtime) -> None:
    """Eight webhook retries racing each other: one case, one interaction, seven duplicates."""
    desk = runtime.desk
    account_id = _account(desk)
    results: list[CommandResult] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(_case(desk, account_id, "mail-<abc@example.com>"))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in results) == [False] + [True] * 7
    case_ids = {r.ids["caseId"] for r in results}
    assert len(case_ids) == 1
    topics = [n.topic for n in desk.recorder.select_notifications(start=None, limit=100)]
    assert topics.count("carelog:Case.Opened") == 1
    assert topics.count("carelog:Interaction.Recorded") == 1


@pytest.mark.parametrize("rounds", [25])
def test_two_agents_on_the_same_version_exactly_one_wins(runtime: Runtime, rounds: int) -> None:
    """A1: both agents saw version v; one command lands, the other gets VERSION_CONFLICT."""
    desk = runtime.desk
    account_id = _account(desk)
    case_id = _case(desk, account_id).ids["caseId"]
    for i in range(rounds):
        version = desk.repository.get(case_id).version
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def act(agent: str, seen: int, n: int, barrier: threading.Barrier,
                outcomes: list[str]) -> None:
            barrier.wait()
            try:
                desk.reply_to_case(case_id=case_id, text=f"answer {n} from {agent}",
                                   agent=agent, actor=f"staff:{agent}", expected_version=seen,
                                   occurred_at=START)
                outcomes.append("ok")
            except VersionConflictError as error:
                outcomes.append(error.code)

        threads = [threading.Thread(target=act, args=(a, version, i, barrier, outcomes))
                   for a in ("ivy", "jonas")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["VERSION_CONFLICT", "ok"], f"round {i}: {outcomes}"
    case = desk.repository.get(case_id)
    versions = [e.originator_version for e in desk.events.get(case_id)]
    assert versions == list(range(1, rounds + 2)), "no version gaps or duplicates"
    assert isinstance(case, Case)
    assert case.version == rounds + 1
    # Every winning reply has exactly one outbound message; losers left nothing behind.
    outbound = [n for n in desk.recorder.select_notifications(start=None, limit=1000)
                if n.topic == "carelog:Interaction.Recorded"]
    assert len(outbound) == rounds + 1  # the opening message plus one per round


def test_commands_without_a_version_retry_instead_of_failing(runtime: Runtime) -> None:
    desk = runtime.desk
    account_id = _account(desk)
    case_id = _case(desk, account_id).ids["caseId"]
    errors: list[BaseException] = []

    def reply(n: int) -> None:
        try:
            desk.reply_to_case(case_id=case_id, text=f"reply {n}", agent="ivy",
                               actor="staff:ivy", occurred_at=START)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reply, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    replies = [e for e in desk.events.get(case_id) if type(e).__name__ == "Replied"]
    # Unversioned commands retry a few times; whatever was refused was told so, nothing else.
    assert len(replies) + len(errors) == 4
    assert all(isinstance(e, VersionConflictError) for e in errors)
    interactions = {e.interaction_id for e in replies}
    for interaction_id in interactions:
        recorded = desk.repository.get(interaction_id)
        assert isinstance(recorded, Interaction)
        assert recorded.direction == "outbound"


def test_database_functions_must_stay_off(make_settings: Callable[..., Settings],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Their insert path skips the table lock that keeps the log gap-free for readers."""
    settings = make_settings("postgres")
    original = persistence.eventsourcing_env
    monkeypatch.setattr(persistence, "eventsourcing_env", lambda s: {
        **original(s), "POSTGRES_ENABLE_DB_FUNCTIONS": "y"})
    with pytest.raises(SettingsError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        open_desk(settings, SystemClock())
