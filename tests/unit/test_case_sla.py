"""The SLA clock inside a case: business hours, waiting on the client, priority changes, and
breaches recorded exactly once at the instant the target passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInputError, InvalidStateError
from tests.unit.helpers import CLIENT, STAFF, START, events, nothing_written, topics

SYSTEM = "system:sla-clock"


def _open(desk, account_id, priority="urgent"):
    return desk.open_case(account_id=account_id, channel="email", subject="Down",
                          text="Everything is down", actor=CLIENT,
                          priority=priority).ids["caseId"]


def test_a_vip_case_breaches_first_response_once_at_its_due_instant(desk, clock,
                                                                   vip_account_id):
    case_id = _open(desk, vip_account_id)  # VIP urgent: 30 min, 24x7

    clock.advance(timedelta(minutes=30))
    assert desk.record_sla_breaches(case_id=case_id, actor=SYSTEM).duplicate is True
    clock.advance(timedelta(minutes=1))
    recorded = desk.record_sla_breaches(case_id=case_id, actor=SYSTEM)
    again = desk.record_sla_breaches(case_id=case_id, actor=SYSTEM)

    assert recorded.extra == {"breaches": 1}
    assert again.duplicate is True
    breach = events(desk, "carelog:Case.SlaBreached")[0]
    assert (breach.kind, breach.due_at, breach.occurred_at) == (
        "first_response", START + timedelta(minutes=30), START + timedelta(minutes=30))
    assert breach.actor == SYSTEM


def test_a_reply_in_time_leaves_only_the_resolution_clock(desk, clock, vip_account_id):
    case_id = _open(desk, vip_account_id)
    clock.advance(timedelta(minutes=29))
    desk.reply_to_case(case_id=case_id, text="Looking", agent="Bo", actor=STAFF)

    clock.advance(timedelta(hours=4))  # resolution target 4 h from opening
    desk.record_sla_breaches(case_id=case_id, actor=SYSTEM)

    assert [e.kind for e in events(desk, "carelog:Case.SlaBreached")] == ["resolution"]


def test_waiting_on_the_client_moves_the_resolution_due_time(desk, clock, vip_account_id):
    case_id = _open(desk, vip_account_id)
    clock.advance(timedelta(hours=1))
    desk.wait_on_client(case_id=case_id, reason="need logs", actor=STAFF)
    clock.advance(timedelta(hours=10))

    assert desk.record_sla_breaches(case_id=case_id, actor=SYSTEM).duplicate is False, (
        "first response was never given: that clock does not pause")
    assert [e.kind for e in events(desk, "carelog:Case.SlaBreached")] == ["first_response"]
    desk.record_interaction(account_id=vip_account_id, channel="email", direction="inbound",
                            text="Here are the logs", case_id=case_id, actor=CLIENT)

    assert sorted(topics(desk)[-3:]) == ["carelog:Case.Resumed", "carelog:Case.SlaTargetsSet",
                                         "carelog:Interaction.Recorded"]
    targets = events(desk, "carelog:Case.SlaTargetsSet")[0]
    assert targets.resolution_due == START + timedelta(hours=4 + 10)


def test_waiting_twice_or_resuming_a_running_case_is_refused(desk, vip_account_id):
    case_id = _open(desk, vip_account_id)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="not waiting"):
        desk.resume_case(case_id=case_id, actor=STAFF)
    desk.wait_on_client(case_id=case_id, actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already waiting"):
        desk.wait_on_client(case_id=case_id, actor=STAFF)


def test_a_priority_change_recounts_the_targets_from_the_opening(desk, clock,
                                                                vip_account_id):
    case_id = _open(desk, vip_account_id, priority="low")  # 4 h / 48 h
    clock.advance(timedelta(hours=1))

    desk.change_priority(case_id=case_id, priority="urgent", actor=STAFF)  # 30 min / 4 h

    targets = events(desk, "carelog:Case.SlaTargetsSet")[0]
    assert targets.first_response_due == START + timedelta(minutes=30)
    assert targets.resolution_due == START + timedelta(hours=4)
    desk.record_sla_breaches(case_id=case_id, actor=SYSTEM)
    assert [e.kind for e in events(desk, "carelog:Case.SlaBreached")] == ["first_response"]
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already has"):
        desk.change_priority(case_id=case_id, priority="urgent", actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="priority"):
        desk.change_priority(case_id=case_id, priority="asap", actor=STAFF)


def test_business_hours_stop_the_clock_overnight(desk, clock, open_account):
    account_id = open_account(tier="enterprise")  # Mon-Fri 09:00-18:00 Berlin
    clock.at = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # Friday 17:00 Berlin
    case_id = _open(desk, account_id, priority="normal")  # first response 4 business hours

    opened = events(desk, "carelog:Case.Opened")[0]
    # Friday 17:00-18:00 is one hour; Monday 09:00-12:00 Berlin the other three.
    assert opened.first_response_due == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    clock.at = datetime(2026, 3, 9, 10, 59, tzinfo=UTC)
    assert desk.record_sla_breaches(case_id=case_id, actor=SYSTEM).duplicate is True
    clock.at = datetime(2026, 3, 9, 11, 1, tzinfo=UTC)
    assert desk.record_sla_breaches(case_id=case_id, actor=SYSTEM).extra == {"breaches": 1}


def test_an_account_calendar_is_validated_and_used_for_new_cases(desk, clock, open_account):
    account_id = open_account(tier="enterprise")
    with nothing_written(desk), pytest.raises(InvalidInputError):
        desk.set_calendar(account_id=account_id, document={"zone": "Mars/Olympus"},
                          actor=STAFF)
    desk.set_calendar(account_id=account_id, actor=STAFF, document={
        "zone": "UTC", "hours": {d: ["08:00-12:00"] for d in ("mon", "tue", "wed", "thu",
                                                              "fri")}})
    _open(desk, account_id, priority="normal")  # Mon 09:00 UTC + 4 h of 08-12 -> Tue 09:00

    opened = events(desk, "carelog:Case.Opened")[0]
    assert opened.first_response_due == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
