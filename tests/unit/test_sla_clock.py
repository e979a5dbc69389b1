"""The SLA clock: due times in business hours, pauses, breaches, reopenings, priority changes.

Unless a test says otherwise: Monday to Friday 09:00-17:00 in Berlin, a case opened on Monday
9 March 2026 at 10:00, two business hours to the first response and eight to resolution, so
the first response is due Monday 12:00 and the resolution Tuesday 10:00 (7 h + 1 h).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.business_calendar import TWENTY_FOUR_SEVEN, BusinessCalendar
from domain.errors import InvalidInputError
from domain.service_plans import SlaTargets, plan_for
from domain.sla_clock import Breach, SlaClock, SlaKind
from domain.values import Priority, Tier

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
TICK = timedelta(microseconds=1)
NINE_TO_FIVE = BusinessCalendar.office_hours("Europe/Berlin", "09:00-17:00")
TARGETS = SlaTargets(first_response=2 * H, resolution=8 * H)
FR, RES = SlaKind.FIRST_RESPONSE, SlaKind.RESOLUTION


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2026 in Berlin (Monday the 9th is a working day)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


MONDAY_TEN = berlin(9, 10)


def opened(at: datetime = MONDAY_TEN, targets: SlaTargets = TARGETS,
           priority: Priority = Priority.NORMAL) -> SlaClock:
    return SlaClock.started(at, priority, targets, NINE_TO_FIVE)


def test_a_new_case_is_due_in_business_hours():
    clock = opened()

    assert clock.due(FR) == berlin(9, 12)
    assert clock.due(RES) == berlin(10, 10)
    assert clock.breach_at("first_response") == berlin(9, 12)
    assert clock.met_at(FR) is None
    assert clock.pending_breaches(berlin(9, 11)) == []


def test_a_friday_afternoon_case_is_due_on_monday():
    clock = SlaClock.started(berlin(6, 16), "high", SlaTargets(4 * H, 16 * H), NINE_TO_FIVE)

    assert clock.due(FR) == berlin(9, 12)  # 1 h on Friday, 3 h on Monday
    assert clock.priority is Priority.HIGH


# -- pauses -----------------------------------------------------------------------------

def test_a_pause_shifts_the_resolution_due_time_by_the_paused_business_time():
    paused = opened().paused(berlin(9, 13))

    assert paused.due(RES) is None  # unknown until the client answers
    assert paused.due(FR) == berlin(9, 12)  # the first response never pauses
    assert paused.breach_at(RES) is None

    resumed = paused.resumed(berlin(9, 15))
    assert resumed.due(RES) == berlin(10, 12)
    assert resumed.elapsed(RES, berlin(9, 16)) == 4 * H  # 10-13 and 15-16


def test_only_the_business_hours_of_a_pause_shift_the_due_time():
    # Paused 16:00 Monday to 10:00 Tuesday: 16-17 and 09-10 are business hours.
    clock = opened().paused(berlin(9, 16)).resumed(berlin(10, 10))

    assert clock.due(RES) == berlin(10, 12)
    assert clock.elapsed(RES, berlin(10, 10)) == 6 * H


def test_a_first_response_after_a_pause_is_late_because_it_does_not_pause():
    clock = opened().paused(berlin(9, 10, 30)).resumed(berlin(9, 13)).first_responded(
        berlin(9, 13))

    assert clock.met_at(FR) == berlin(9, 13)
    assert clock.due(FR) == berlin(9, 12)
    assert clock.breached(FR, berlin(9, 13))
    assert clock.elapsed(FR, berlin(9, 18)) == 3 * H
    assert clock.due(RES) == berlin(10, 12, 30)  # 2.5 h paused
    assert clock.pending_breaches(berlin(9, 13)) == [(FR, berlin(9, 12))]


def test_a_target_crossed_before_a_pause_stays_crossed():
    # Due Monday 17:00 exactly at closing; paused at 17:30, after the due instant.
    clock = SlaClock.started(berlin(9, 9), Priority.LOW, TARGETS, NINE_TO_FIVE)
    clock = clock.first_responded(berlin(9, 10)).paused(berlin(9, 17, 30))

    assert clock.due(RES) == berlin(9, 17)
    assert clock.breached(RES, berlin(9, 17, 30))
    assert clock.pending_breaches(berlin(9, 18)) == [(RES, berlin(9, 17))]


def test_a_clock_paused_exactly_at_its_due_instant_breaches_only_once_resumed():
    clock = opened().first_responded(berlin(9, 11)).paused(berlin(10, 10))

    assert not clock.breached(RES, berlin(10, 16))
    assert clock.pending_breaches(berlin(10, 16)) == []

    clock = clock.resumed(berlin(10, 14))
    assert clock.due(RES) == berlin(10, 14)
    assert clock.pending_breaches(berlin(10, 14) + TICK) == [(RES, berlin(10, 14))]


# -- due instants and breaches -------------------------------------------------------------

def test_an_answer_at_exactly_the_due_instant_is_met():
    clock = opened().first_responded(berlin(9, 12))

    assert not clock.breached(FR, berlin(9, 12))
    assert not clock.breached(FR, berlin(12, 12))
    assert clock.breach_at(FR) is None
    assert clock.due(FR) == berlin(9, 12)


def test_the_breach_happens_strictly_after_the_due_instant():
    clock = opened()
    due = berlin(9, 12)

    assert not clock.breached(FR, due)
    assert clock.breached(FR, due + TICK)
    assert clock.pending_breaches(due) == []
    assert clock.pending_breaches(due + TICK) == [(FR, due)]


def test_a_resolution_at_exactly_the_due_instant_is_met_and_stops_the_clock():
    clock = opened().first_responded(berlin(9, 11)).resolved(berlin(10, 10))

    assert clock.met_at(RES) == berlin(10, 10)
    assert not clock.breached(RES, berlin(20, 10))
    assert clock.elapsed(RES, berlin(20, 10)) == 8 * H
    assert clock.pending_breaches(berlin(20, 10)) == []


def test_a_resolution_on_time_keeps_the_due_time_as_it_stood():
    clock = opened().first_responded(berlin(9, 11)).resolved(berlin(9, 15))

    assert clock.due(RES) == berlin(10, 10)
    assert clock.breach_at(RES) is None


def test_a_resolution_without_a_response_counts_as_the_first_response():
    clock = opened().resolved(berlin(9, 11))

    assert clock.met_at(FR) == berlin(9, 11)
    assert clock.first_responded(berlin(9, 12)).met_at(FR) == berlin(9, 11)


def test_a_recorded_breach_is_no_longer_pending_and_is_recorded_once():
    clock = opened()
    [(kind, when)] = clock.pending_breaches(berlin(9, 13))

    recorded = clock.breach_recorded(kind, when)
    assert recorded.pending_breaches(berlin(9, 13)) == []
    assert recorded.breach_recorded(kind, when) == recorded  # a replay changes nothing
    assert recorded.breaches == (Breach(FR, 0, berlin(9, 12)),)


def test_pending_breaches_lists_both_targets_in_order():
    pending = opened().pending_breaches(berlin(11, 9))

    assert pending == [(FR, berlin(9, 12)), (RES, berlin(10, 10))]


# -- reopening ----------------------------------------------------------------------------

def test_a_reopened_case_continues_with_the_business_time_it_had_left():
    clock = opened().first_responded(berlin(9, 11)).resolved(berlin(9, 15))
    clock = clock.reopened(berlin(11, 10))  # Wednesday

    assert clock.cycle == 1
    assert clock.met_at(RES) is None
    assert clock.elapsed(RES, berlin(11, 10)) == 5 * H  # the resolved days are left out
    assert clock.due(RES) == berlin(11, 13)
    assert clock.pending_breaches(berlin(11, 13) + TICK) == [(RES, berlin(11, 13))]


def test_a_case_resolved_late_breaches_again_once_per_reopening():
    clock = opened().first_responded(berlin(9, 11))
    clock = clock.breach_recorded(RES, berlin(10, 10)).resolved(berlin(10, 11))
    assert clock.breach_at(RES) == berlin(10, 10)

    clock = clock.reopened(berlin(11, 10))
    assert clock.due(RES) == berlin(10, 10)  # when the target fell due, long ago
    assert clock.breach_at(RES) == berlin(11, 10)  # in breach again from the reopening
    assert clock.pending_breaches(berlin(11, 11)) == [(RES, berlin(11, 10))]

    clock = clock.breach_recorded(RES, berlin(11, 10))
    assert clock.pending_breaches(berlin(12, 11)) == []

    clock = clock.resolved(berlin(11, 12)).reopened(berlin(12, 9))
    assert clock.pending_breaches(berlin(12, 9, 1)) == [(RES, berlin(12, 9))]
    assert [(b.cycle, b.at) for b in clock.breaches] == [(0, berlin(10, 10)),
                                                          (1, berlin(11, 10))]


def test_a_case_reopened_and_at_once_paused_is_not_in_breach_for_that_cycle():
    clock = opened().first_responded(berlin(9, 11)).resolved(berlin(10, 11))
    clock = clock.reopened(berlin(11, 10)).paused(berlin(11, 10))

    assert clock.breach_at(RES) is None
    assert clock.pending_breaches(berlin(12, 10)) == []
    assert clock.breached(RES, berlin(12, 10))  # the target itself was missed in cycle 0


def test_reopening_does_not_restart_the_first_response():
    clock = opened().first_responded(berlin(9, 11)).resolved(berlin(9, 15))

    assert clock.reopened(berlin(11, 10)).met_at(FR) == berlin(9, 11)


# -- priority changes ----------------------------------------------------------------------

def test_a_priority_change_recomputes_the_targets_from_the_start():
    urgent = SlaTargets(first_response=1 * H, resolution=4 * H)
    clock = opened().paused(berlin(9, 10, 30)).resumed(berlin(9, 11))
    clock = clock.priority_changed(berlin(9, 11), Priority.URGENT, urgent)

    assert clock.priority is Priority.URGENT
    assert clock.due(FR) == berlin(9, 11)
    assert clock.due(RES) == berlin(9, 14, 30)  # 4 h plus the half-hour pause


def test_a_tighter_target_already_past_is_pending_at_once():
    clock = opened().priority_changed(berlin(9, 11, 30), "urgent", SlaTargets(H, 4 * H))

    assert clock.pending_breaches(berlin(9, 11, 30)) == [(FR, berlin(9, 11))]


def test_a_looser_target_keeps_the_recorded_breach_and_does_not_record_it_again():
    clock = opened().breach_recorded(FR, berlin(9, 12))
    clock = clock.priority_changed(berlin(9, 13), Priority.LOW, SlaTargets(8 * H, 40 * H))

    assert clock.due(FR) == berlin(10, 10)
    assert not clock.breached(FR, berlin(9, 13))
    assert clock.breaches == (Breach(FR, 0, berlin(9, 12)),)
    assert clock.breached(FR, berlin(10, 11))
    assert clock.pending_breaches(berlin(10, 11)) == []


# -- calendars and plans -------------------------------------------------------------------

def test_a_vip_clock_runs_around_the_clock():
    vip = plan_for(Tier.VIP).targets[Priority.URGENT]  # 30 min, 4 h
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)
    clock = SlaClock.started(saturday_night, Priority.URGENT, vip, TWENTY_FOUR_SEVEN)

    assert clock.due(FR) == saturday_night + timedelta(minutes=30)
    assert clock.due(RES) == saturday_night + 4 * H
    paused = clock.paused(saturday_night + H).resumed(saturday_night + 2 * H)
    assert paused.due(RES) == saturday_night + 5 * H


def test_the_clock_counts_across_a_daylight_saving_change():
    # Friday 27 March 16:00, 8 h: 1 h on Friday, 7 h on Monday 30 March (now UTC+2).
    clock = SlaClock.started(berlin(27, 16), Priority.NORMAL, TARGETS, NINE_TO_FIVE)

    assert clock.due(RES) == berlin(30, 16)
    assert clock.due(RES) == datetime(2026, 3, 30, 14, tzinfo=UTC)


# -- replay, tolerance and validation --------------------------------------------------------

def test_replaying_the_same_calls_gives_an_equal_clock_and_never_changes_the_old_one():
    def replay() -> SlaClock:
        return opened().paused(berlin(9, 13)).resumed(berlin(9, 15)).first_responded(
            berlin(9, 15)).resolved(berlin(10, 9))

    before = opened()
    assert replay() == replay()
    before.paused(berlin(9, 13))
    assert before == opened()


def test_calls_that_do_not_apply_change_nothing_but_the_last_instant():
    clock = opened().paused(berlin(9, 13))

    assert clock.paused(berlin(9, 14)).due(RES) is None
    assert clock.resumed(berlin(9, 15)).resumed(berlin(9, 16)).due(RES) == berlin(10, 12)
    assert opened().reopened(berlin(9, 11)).cycle == 0


def test_an_instant_earlier_than_the_previous_call_is_read_as_the_previous_one():
    clock = opened().paused(berlin(9, 13)).resumed(berlin(9, 12))

    assert clock.due(RES) == berlin(10, 10)  # a pause of no time at all


def test_invalid_input_is_refused():
    clock = opened()
    with pytest.raises(InvalidInputError, match="SLA target"):
        clock.due("next_reply")
    with pytest.raises(InvalidInputError, match="priority"):
        SlaClock.started(MONDAY_TEN, "critical", TARGETS, NINE_TO_FIVE)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        clock.paused(datetime(2026, 3, 9, 13))
    with pytest.raises(InvalidInputError, match="negative"):
        SlaClock.started(MONDAY_TEN, Priority.LOW, SlaTargets(-H, H), NINE_TO_FIVE)
