"""The Announcement aggregate through CareDesk commands: published for accounts and plans,
updated, resolved (each a revision clients hear), deliveries and linked cases recorded once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from domain.application import CareDesk
from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from tests.unit.helpers import STAFF, START, events, nothing_written

REACTOR = "system:announcements"


def publish(desk: CareDesk, **extra: object) -> UUID:
    fields: dict[str, object] = {
        "kind": "incident", "title": "Payroll exports delayed",
        "text": "Exports run late; we are on it.", "starts_at": START - timedelta(hours=1),
        "services": ["Payroll", "payroll "], **extra}
    return desk.publish_announcement(actor=STAFF, **fields).ids[  # type: ignore[arg-type]
        "announcementId"]


def test_publishing_records_who_is_affected_and_the_window(desk: CareDesk,
                                                           account_id: UUID) -> None:
    announcement_id = publish(desk, accounts=[account_id], plans=["vip"])

    (published,) = events(desk, "carelog:Announcement.Published")
    assert published.originator_id == announcement_id
    assert (published.accounts, published.plans) == ([account_id], ["vip"])
    assert published.services == ["Payroll", "payroll"]
    assert (published.actor, published.occurred_at) == (STAFF, START)
    announcement = desk.announcement(announcement_id)
    assert announcement.revision == 1
    assert announcement.affects(account_id, "standard")
    assert announcement.affects(uuid4(), "vip")
    assert not announcement.affects(uuid4(), "standard")


def test_naming_no_accounts_and_no_plans_affects_everyone(desk: CareDesk) -> None:
    assert desk.announcement(publish(desk)).affects(uuid4(), "standard")


@pytest.mark.parametrize(("fields", "message"), [
    ({"text": " "}, "text must not be empty"),
    ({"kind": "outage"}, "unknown announcement kind"),
    ({"ends_at": START - timedelta(hours=2)}, "end after it starts"),
    ({"plans": ["gold"]}, "unknown plan"),
])
def test_bad_announcements_are_refused_and_nothing_is_written(desk: CareDesk,
                                                              fields: dict[str, object],
                                                              message: str) -> None:
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        publish(desk, **fields)


def test_an_unknown_account_is_refused(desk: CareDesk) -> None:
    with nothing_written(desk), pytest.raises(NotFoundError):
        publish(desk, accounts=[uuid4()])


def test_updates_and_the_resolution_are_revisions_and_a_resolved_one_is_final(
        desk: CareDesk) -> None:
    announcement_id = publish(desk)
    desk.update_announcement(announcement_id=announcement_id, title="Payroll exports delayed",
                             text="Fix deployed, catching up.", starts_at=START, actor=STAFF)
    desk.resolve_announcement(announcement_id=announcement_id, text="All caught up.",
                              actor=STAFF)

    announcement = desk.announcement(announcement_id)
    assert (announcement.revision, announcement.status) == (3, "resolved")
    assert announcement.message.startswith("Resolved: Payroll exports delayed")
    with nothing_written(desk), pytest.raises(InvalidStateError):
        desk.resolve_announcement(announcement_id=announcement_id, actor=STAFF)


def test_a_delivery_and_a_fan_out_are_recorded_once(desk: CareDesk, account_id: UUID) -> None:
    announcement_id = publish(desk)
    sent = [{"channel": "room", "recipient": str(account_id), "interactionId": "x"}]
    for _ in range(2):
        desk.record_announcement_delivery(announcement_id=announcement_id, revision=1,
                                          account_id=account_id, sent=sent, failed=[],
                                          actor=REACTOR)
        desk.finish_announcement_fan_out(announcement_id=announcement_id, revision=1,
                                         accounts=1, actor=REACTOR)

    assert len(events(desk, "carelog:Announcement.Delivered")) == 1
    assert len(events(desk, "carelog:Announcement.FannedOut")) == 1


def test_answering_linked_cases_replies_to_each_open_one_once(
        desk: CareDesk, account_id: UUID, open_account: Callable[..., UUID]) -> None:
    other = open_account(name="Other AG")
    announcement_id = publish(desk)
    cases = [desk.open_case(account_id=a, channel="email", subject="Exports late?",
                            text="Where is my export?", actor=STAFF).ids["caseId"]
             for a in (account_id, other, account_id)]
    for case_id in cases:
        desk.link_case_to_announcement(announcement_id=announcement_id, case_id=case_id,
                                       actor=REACTOR)
    assert desk.link_case_to_announcement(announcement_id=announcement_id, case_id=cases[0],
                                          actor=REACTOR).duplicate
    desk.resolve_case(case_id=cases[2], actor=STAFF)

    first = desk.answer_linked_cases(announcement_id=announcement_id, text="Fixed, sorry!",
                                     agent="Ann", actor=STAFF)
    again = desk.answer_linked_cases(announcement_id=announcement_id, text="Fixed, sorry!",
                                     agent="Ann", actor=STAFF)

    assert first.extra["answered"] == 2
    assert again.duplicate
    assert again.extra["answered"] == 0
    replies = events(desk, "carelog:Case.Replied")
    assert sorted(str(r.originator_id) for r in replies) == sorted(str(c) for c in cases[:2])
