"""Announcements on SQLite and PostgreSQL: the reactor posts each revision once to the rooms of
the affected accounts and no one else's, mails their contacts, survives a restart midway
without repeating itself, and links the cases opened during the window."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from api.runtime import Runtime
from integrations.clock import FakeClock
from projections.announcements import Audience
from tests.conftest import START
from workers.announcements import AnnouncementReactor

pytestmark = pytest.mark.integration

STAFF = "staff:ann"


def account(runtime: Runtime, name: str, tier: str) -> UUID:
    desk = runtime.desk
    account_id = desk.open_account(name=name, tier=tier, manager="Ann", currency="EUR",
                                   actor=STAFF).ids["accountId"]
    desk.add_contact(account_id=account_id, name=f"Contact of {name}",
                     email=f"it@{name.lower()}.example", role="champion", actor=STAFF)
    return account_id


def caught_up(runtime: Runtime) -> None:
    for runner in runtime.runners:
        runner.catch_up()


def reactor(runtime: Runtime) -> AnnouncementReactor:
    services = runtime.services
    return AnnouncementReactor(runtime.desk, services.announcements, services.directory)


def room_posts(runtime: Runtime, account_id: UUID) -> list[str]:
    caught_up(runtime)
    rows = runtime.services.rooms.messages(str(account_id), 100, None).rows
    return [r["text"] for r in rows if r["channel"] == "room"]


@pytest.fixture
def accounts(runtime: Runtime) -> dict[str, UUID]:
    return {"alpha": account(runtime, "Alpha", "vip"), "bravo": account(runtime, "Bravo",
                                                                          "standard"),
            "charlie": account(runtime, "Charlie", "business")}


def publish(runtime: Runtime, accounts: dict[str, UUID]) -> UUID:
    result = runtime.desk.publish_announcement(
        kind="incident", title="Payroll exports delayed", text="We are on it.",
        starts_at=START - timedelta(hours=1), accounts=[accounts["alpha"]],
        plans=["business"], services=["Payroll"], actor=STAFF)
    caught_up(runtime)
    return result.ids["announcementId"]


def test_each_revision_reaches_the_affected_rooms_once_and_no_one_else(
        runtime: Runtime, accounts: dict[str, UUID]) -> None:
    announcement_id = publish(runtime, accounts)
    assert reactor(runtime).round() == 2
    caught_up(runtime)
    assert reactor(runtime).round() == 0

    expected = ["Payroll exports delayed\n\nWe are on it."]
    assert room_posts(runtime, accounts["alpha"]) == expected
    assert room_posts(runtime, accounts["charlie"]) == expected
    assert room_posts(runtime, accounts["bravo"]) == []
    deliveries = runtime.services.announcements.deliveries(str(announcement_id))
    assert {(d["account_id"], d["channel"], d["recipient"]) for d in deliveries} == {
        (str(accounts["alpha"]), "room", str(accounts["alpha"])),
        (str(accounts["alpha"]), "email", "it@alpha.example"),
        (str(accounts["charlie"]), "room", str(accounts["charlie"])),
        (str(accounts["charlie"]), "email", "it@charlie.example")}

    runtime.desk.resolve_announcement(announcement_id=announcement_id, text="All fixed.",
                                      actor=STAFF)
    caught_up(runtime)
    assert reactor(runtime).round() == 2
    assert room_posts(runtime, accounts["alpha"])[-1] == "Resolved: Payroll exports delayed" \
                                                         "\n\nAll fixed."
    row = runtime.services.announcements.get(Audience(), str(announcement_id))
    assert row is not None
    assert (row["status"], row["revision"], row["fanned_out"], row["recipients"]) == (
        "resolved", 2, 2, 2)


def test_a_reactor_stopped_after_sending_sends_nothing_twice(
        runtime: Runtime, accounts: dict[str, UUID]) -> None:
    announcement_id = publish(runtime, accounts)
    first = reactor(runtime)
    announcement = runtime.desk.announcement(announcement_id)
    first._send(announcement, accounts["alpha"], "vip")  # then the process died

    assert reactor(runtime).round() == 2
    assert len(room_posts(runtime, accounts["alpha"])) == 1
    delivered = [e for e in runtime.desk.events.get(announcement_id)
             if type(e).__name__ == "Delivered"]
    assert len(delivered) == 2


def test_cases_opened_by_affected_accounts_during_the_window_are_linked(
        runtime: Runtime, accounts: dict[str, UUID], clock: FakeClock) -> None:
    desk = runtime.desk
    before = desk.open_case(account_id=accounts["alpha"], channel="email", subject="Old",
                            text="An older question", actor=STAFF,
                            occurred_at=START - timedelta(hours=3)).ids["caseId"]
    announcement_id = publish(runtime, accounts)
    during = desk.open_case(account_id=accounts["alpha"], channel="email",
                            subject="Exports late?", text="Where is the export?",
                            actor=STAFF).ids["caseId"]
    desk.open_case(account_id=accounts["bravo"], channel="email", subject="Exports late?",
                   text="Ours too?", actor=STAFF)
    caught_up(runtime)

    assert reactor(runtime).link_cases(announcement_id) == 1
    assert reactor(runtime).link_cases(announcement_id) == 0
    caught_up(runtime)
    linked = runtime.services.announcements.linked_cases(str(announcement_id))
    assert [r["case_id"] for r in linked] == [str(during)]
    assert str(before) not in [r["case_id"] for r in linked]


def test_a_client_sees_only_current_announcements_that_affect_it(
        runtime: Runtime, accounts: dict[str, UUID]) -> None:
    announcement_id = publish(runtime, accounts)
    everyone = runtime.desk.publish_announcement(
        kind="maintenance", title="Database upgrade", text="Sunday 02:00-04:00 UTC.",
        starts_at=START + timedelta(days=5), ends_at=START + timedelta(days=5, hours=2),
        actor=STAFF).ids["announcementId"]
    caught_up(runtime)
    view = runtime.services.announcements

    def titles(audience: Audience) -> list[str]:
        return [r["title"] for r in view.page(audience, None, 50, None).rows]

    assert titles(Audience(str(accounts["alpha"]), "vip")) == ["Database upgrade",
                                                              "Payroll exports delayed"]
    assert titles(Audience(str(accounts["bravo"]), "standard")) == ["Database upgrade"]
    assert view.get(Audience(str(accounts["bravo"]), "standard"), str(announcement_id)) is None
    runtime.desk.resolve_announcement(announcement_id=everyone, actor=STAFF)
    caught_up(runtime)
    assert titles(Audience(str(accounts["bravo"]), "standard")) == []
    assert len(titles(Audience())) == 2
