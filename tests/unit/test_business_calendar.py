"""Business calendars: opening hours, holidays, daylight saving and business-time arithmetic.

Expected instants are computed by hand; Berlin is UTC+1 in winter and UTC+2 in summer, and
changes on Sunday 2026-03-29 (02:00 -> 03:00) and Sunday 2026-10-25 (03:00 -> 02:00).
"""

from __future__ import annotations

import copy
import pickle
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.business_calendar import (
    DEFAULT_CALENDARS,
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    Opening,
    default_calendar,
)
from domain.errors import InvalidInputError
from domain.values import Tier

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
NINE_TO_FIVE = BusinessCalendar.office_hours("Europe/Berlin", "09:00-17:00")
NINE_TO_SIX = BusinessCalendar.office_hours("Europe/Berlin")
EVERY_DAY_NINE_TO_FIVE = BusinessCalendar.from_document(
    {"zone": "Europe/Berlin", "hours": {d: ["09:00-17:00"] for d in
                                        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}})
# Open across the night of the change, so the change falls inside business hours.
NIGHTS = BusinessCalendar.from_document(
    {"zone": "Europe/Berlin", "hours": {"sat": ["22:00-24:00"], "sun": ["00:00-06:00"],
                                        "wed": ["10:00-12:00"]}})
EASTER_2026 = frozenset({date(2026, 4, 3), date(2026, 4, 6)})  # Good Friday, Easter Monday
NEW_YEAR = frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31),
                      date(2027, 1, 1)})


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# -- add: hand-computed due instants ------------------------------------------------------

def test_a_friday_afternoon_case_is_due_on_monday_morning():
    friday_four = berlin(2026, 3, 6, 16)

    # 09:00-18:00: two hours on Friday, two on Monday.
    assert NINE_TO_SIX.add(friday_four, 4 * H) == berlin(2026, 3, 9, 11)
    # 09:00-17:00: one hour on Friday, three on Monday.
    assert NINE_TO_FIVE.add(friday_four, 4 * H) == berlin(2026, 3, 9, 12)
    assert NINE_TO_FIVE.add(friday_four, 3 * H) == berlin(2026, 3, 9, 11)


def test_a_duration_that_runs_out_at_closing_time_ends_at_closing_time():
    assert NINE_TO_FIVE.add(berlin(2026, 3, 6, 16), H) == berlin(2026, 3, 6, 17)


@pytest.mark.parametrize(("start", "due"), [
    (berlin(2026, 3, 7, 10), berlin(2026, 3, 9, 10)),    # Saturday
    (berlin(2026, 3, 9, 7, 30), berlin(2026, 3, 9, 10)),  # Monday before opening
    (berlin(2026, 3, 9, 17), berlin(2026, 3, 10, 10)),   # Monday at closing
    (berlin(2026, 3, 9, 23), berlin(2026, 3, 10, 10)),   # Monday night
])
def test_a_start_outside_hours_counts_from_the_next_opening(start, due):
    assert NINE_TO_FIVE.add(start, H) == due


def test_zero_business_time_ends_where_it_starts():
    saturday = berlin(2026, 3, 7, 10)

    assert NINE_TO_FIVE.add(saturday, timedelta(0)) == saturday


def test_several_openings_a_day_skip_the_lunch_break():
    calendar = BusinessCalendar.office_hours("Europe/Berlin", "13:00-17:00", "09:00-12:00")

    assert calendar.add(berlin(2026, 3, 9, 11), 2 * H) == berlin(2026, 3, 9, 14)
    assert calendar.business_time_between(berlin(2026, 3, 9), berlin(2026, 3, 10)) == 7 * H
    assert str(calendar.week[0][0]) == "09:00-12:00"  # openings are kept sorted


def test_holidays_are_skipped():
    calendar = NINE_TO_FIVE.with_holidays(EASTER_2026)

    # Thursday 16:00, one hour left that day; Friday and Monday are holidays.
    assert calendar.add(berlin(2026, 4, 2, 16), 2 * H) == berlin(2026, 4, 7, 10)
    assert calendar.business_time_between(berlin(2026, 4, 2), berlin(2026, 4, 8)) == 16 * H
    assert not calendar.is_open(berlin(2026, 4, 3, 10))


def test_the_year_end_and_its_holidays_are_skipped():
    calendar = NINE_TO_FIVE.with_holidays(NEW_YEAR)

    # Wednesday 30 Dec 16:00: one hour; Thursday 31 and Friday 1 Jan are holidays.
    assert calendar.add(berlin(2026, 12, 30, 16), 2 * H) == berlin(2027, 1, 4, 10)
    # 23 Dec, then 28-30 Dec: four days over the year end.
    assert calendar.business_time_between(berlin(2026, 12, 23), berlin(2027, 1, 4)) == 32 * H


def test_a_long_target_skips_whole_weeks():
    # 336 h at 45 h a week: seven weeks (315 h), then 9 + 9 + 3 hours.
    assert NINE_TO_SIX.add(berlin(2026, 1, 5, 9), 336 * H) == berlin(2026, 2, 25, 12)
    assert NINE_TO_SIX.business_time_between(berlin(2026, 1, 5, 9),
                                             berlin(2026, 2, 25, 12)) == 336 * H


def test_a_long_target_over_holidays_and_a_daylight_saving_change():
    calendar = NINE_TO_SIX.with_holidays(EASTER_2026)

    # From Monday 2 March 09:00: four weeks of 45 h (180), the weeks of Good Friday and of
    # Easter Monday 36 h each (252), 13-17 April 45 h (297), Monday-Thursday 36 h (333),
    # then 3 h on Friday 24 April. Berlin moves to summer time on the way.
    assert calendar.add(berlin(2026, 3, 2, 9), 336 * H) == berlin(2026, 4, 24, 12)


def test_add_refuses_negative_durations_and_naive_instants():
    with pytest.raises(InvalidInputError):
        NINE_TO_FIVE.add(berlin(2026, 3, 9, 10), -H)
    with pytest.raises(InvalidInputError):
        NINE_TO_FIVE.add(datetime(2026, 3, 9, 10), H)
    with pytest.raises(InvalidInputError):
        NINE_TO_FIVE.is_open(datetime(2026, 3, 9, 10))


def test_instants_come_back_in_utc():
    due = NINE_TO_FIVE.add(berlin(2026, 3, 9, 10), H)

    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 9, 10, tzinfo=UTC)


# -- daylight saving --------------------------------------------------------------------

@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_a_nine_to_five_day_is_eight_hours_on_both_daylight_saving_days(day):
    midnight = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    next_midnight = midnight.replace(day=day.day + 1)

    assert EVERY_DAY_NINE_TO_FIVE.business_time_between(midnight, next_midnight) == 8 * H
    assert EVERY_DAY_NINE_TO_FIVE.add(midnight, 8 * H) == midnight.replace(hour=17)


def test_the_daylight_saving_days_are_23_and_25_hours_around_the_clock_in_berlin():
    calendar = TWENTY_FOUR_SEVEN.with_zone("Europe/Berlin")

    assert calendar.business_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 23 * H
    assert calendar.business_time_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 25 * H


def test_a_change_inside_opening_hours_shortens_or_lengthens_them():
    # Sunday 00:00-06:00 is five real hours in March and seven in October.
    assert NIGHTS.business_time_between(berlin(2026, 3, 29), berlin(2026, 3, 30)) == 5 * H
    assert NIGHTS.business_time_between(berlin(2026, 10, 25), berlin(2026, 10, 26)) == 7 * H
    # Saturday 22:00 + 7 h: 2 h on Saturday, then 00:00-06:00 CEST gives 5; ends at 06:00.
    assert NIGHTS.add(berlin(2026, 3, 28, 22), 7 * H) == berlin(2026, 3, 29, 6)
    # In October the night is seven real hours; 5 h after 00:00 CEST is 04:00 CET.
    assert NIGHTS.add(berlin(2026, 10, 24, 22), 7 * H) == berlin(2026, 10, 25, 4)


def test_week_skipping_across_a_change_matches_the_days_counted_one_by_one():
    start = berlin(2026, 3, 4, 11)  # a Wednesday, then weeks of 2 + 8 hours (+/- 1 in DST)

    # 4 Mar 1 h, 7/8 Mar 8 h, 11 Mar 2 h, 14/15 Mar 8 h, 18 Mar 2, 21/22 Mar 8, 25 Mar 2,
    # 28/29 Mar 2 + 5 (spring), 1 Apr 2: 1+8+2+8+2+8+2+7+2 = 40 h by 1 Apr 12:00 CEST.
    assert NIGHTS.business_time_between(start, berlin(2026, 4, 1, 12)) == 40 * H
    assert NIGHTS.add(start, 40 * H) == berlin(2026, 4, 1, 12)


def test_business_time_matches_a_minute_by_minute_count():
    rng = random.Random(20261201)
    for calendar in (NIGHTS, NINE_TO_FIVE.with_holidays(EASTER_2026)):
        for _ in range(3):
            a = berlin(2026, 3, 20) + timedelta(minutes=rng.randrange(0, 20 * 24 * 60))
            b = a + timedelta(minutes=rng.randrange(0, 16 * 24 * 60))
            minutes = sum(calendar.is_open(a + timedelta(minutes=m))
                          for m in range((b - a) // timedelta(minutes=1)))
            assert calendar.business_time_between(a, b) == timedelta(minutes=minutes)


def test_add_and_business_time_between_are_inverse():
    rng = random.Random(7)
    calendars = (NINE_TO_SIX.with_holidays(EASTER_2026 | NEW_YEAR), NIGHTS,
                 EVERY_DAY_NINE_TO_FIVE, TWENTY_FOUR_SEVEN)
    for calendar in calendars:
        for _ in range(200):
            start = berlin(2026, 1, 1) + timedelta(seconds=rng.randrange(0, 365 * 86400))
            duration = timedelta(seconds=rng.randrange(1, 400 * 3600))
            due = calendar.add(start, duration)

            assert calendar.business_time_between(start, due) == duration
            assert calendar.is_open(due - timedelta(microseconds=1))  # the earliest such


# -- business_time_between, is_open, next_open --------------------------------------------

def test_business_time_between_is_antisymmetric_like_subtraction():
    a, b = berlin(2026, 3, 6, 16), berlin(2026, 3, 9, 11)

    assert NINE_TO_FIVE.business_time_between(a, b) == 3 * H
    assert NINE_TO_FIVE.business_time_between(b, a) == -3 * H
    assert NINE_TO_FIVE.business_time_between(a, a) == timedelta(0)


def test_is_open_includes_the_opening_and_excludes_the_closing_instant():
    assert NINE_TO_FIVE.is_open(berlin(2026, 3, 9, 9))
    assert NINE_TO_FIVE.is_open(berlin(2026, 3, 9, 16, 59))
    assert not NINE_TO_FIVE.is_open(berlin(2026, 3, 9, 17))
    assert not NINE_TO_FIVE.is_open(berlin(2026, 3, 7, 12))  # Saturday


def test_next_open():
    calendar = NINE_TO_FIVE.with_holidays(EASTER_2026)
    open_now = berlin(2026, 3, 9, 10, 30)

    assert calendar.next_open(open_now) == open_now
    assert calendar.next_open(berlin(2026, 3, 9, 17)) == berlin(2026, 3, 10, 9)
    assert calendar.next_open(berlin(2026, 4, 2, 18)) == berlin(2026, 4, 7, 9)


# -- 24x7 and defaults ------------------------------------------------------------------

def test_twenty_four_seven_is_elapsed_time():
    start = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert TWENTY_FOUR_SEVEN.add(start, 336 * H) == start + 336 * H
    assert TWENTY_FOUR_SEVEN.business_time_between(start, start + 90 * H) == 90 * H
    assert TWENTY_FOUR_SEVEN.is_open(start)
    assert TWENTY_FOUR_SEVEN.zone == "UTC"


def test_default_calendars_suit_the_tiers():
    assert set(DEFAULT_CALENDARS) == set(Tier)
    assert DEFAULT_CALENDARS[Tier.VIP] is TWENTY_FOUR_SEVEN
    for tier in (Tier.ENTERPRISE, Tier.BUSINESS, Tier.STANDARD):
        assert DEFAULT_CALENDARS[tier] == NINE_TO_SIX
    assert default_calendar(Tier.STANDARD, "America/New_York").zone == "America/New_York"
    assert default_calendar(Tier.VIP, "America/New_York") is TWENTY_FOUR_SEVEN
    with pytest.raises(TypeError):
        DEFAULT_CALENDARS[Tier.VIP] = NINE_TO_SIX


# -- documents and validation -----------------------------------------------------------

def test_document_round_trip():
    calendar = BusinessCalendar.office_hours("Europe/Berlin", "09:00-12:00", "13:00-18:00",
                                             holidays=NEW_YEAR)
    document = calendar.to_document()

    assert document["hours"]["mon"] == ["09:00-12:00", "13:00-18:00"]
    assert document["hours"]["sun"] == []
    assert document["holidays"] == ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"]
    assert BusinessCalendar.from_document(document) == calendar
    assert TWENTY_FOUR_SEVEN.to_document()["hours"]["sun"] == ["00:00-24:00"]


def test_calendars_pickle_and_compare_by_value():
    copy = pickle.loads(pickle.dumps(NINE_TO_FIVE))

    assert copy == NINE_TO_FIVE
    assert hash(copy) == hash(NINE_TO_FIVE)
    assert copy.add(berlin(2026, 3, 6, 16), 4 * H) == berlin(2026, 3, 9, 12)


def _doc(**changes):
    document = {"zone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}}
    document.update(changes)
    return document


@pytest.mark.parametrize(("document", "message"), [
    (_doc(zone="Mars/Olympus_Mons"), "unknown time zone"),
    (_doc(zone="../../etc/passwd"), "unknown time zone"),
    (_doc(zone=""), "IANA time zone"),
    (_doc(zone=None), "IANA time zone"),
    (_doc(hours={"mon": ["09:00-13:00", "12:00-17:00"]}), "overlap"),
    (_doc(hours={"mon": ["17:00-09:00"]}), "ends before it starts"),
    (_doc(hours={"mon": ["09:00-09:00"]}), "ends before it starts"),
    (_doc(hours={"mon": ["09:00-24:30"]}), "not a time of day"),
    (_doc(hours={"mon": ["9-17"]}), "HH:MM-HH:MM"),
    (_doc(hours={"mon": "09:00-17:00"}), "must be a list"),
    (_doc(hours={}), "at least one weekday"),
    (_doc(hours={"mon": [], "sat": []}), "at least one weekday"),
    (_doc(hours={"monday": ["09:00-17:00"]}), "unknown weekdays"),
    (_doc(hours=None), "needs 'hours'"),
    (_doc(holidays=["2026-02-30"]), "not an ISO date"),
    (_doc(holidays="2026-12-25"), "list of ISO dates"),
    (_doc(timezone="UTC"), "unknown calendar fields"),
    ([], "must be an object"),
])
def test_invalid_documents_are_refused(document, message):
    with pytest.raises(InvalidInputError, match=message):
        BusinessCalendar.from_document(document)


def test_a_document_read_again_is_the_calendar_read_before():
    document = _doc(holidays=["2026-12-25"])
    first = BusinessCalendar.from_document(document)

    assert BusinessCalendar.from_document(copy.deepcopy(document)) is first
    assert BusinessCalendar.from_document(
        {**document, "hours": {"mon": ("09:00-17:00",)}}) is first  # tuples read as lists
    assert BusinessCalendar.from_document(_doc(holidays=["2026-12-26"])) != first
    assert BusinessCalendar.from_document(_doc(zone="Europe/Paris")).zone == "Europe/Paris"


def test_a_bad_document_that_looks_like_one_read_before_is_still_refused():
    BusinessCalendar.from_document(_doc())

    with pytest.raises(InvalidInputError, match="must be a list"):
        BusinessCalendar.from_document(_doc(hours={"mon": {"09:00-17:00": True}}))
    with pytest.raises(InvalidInputError, match="unknown calendar fields"):
        BusinessCalendar.from_document({**_doc(), "timezone": "UTC"})
    with pytest.raises(InvalidInputError, match="not an ISO date"):
        BusinessCalendar.from_document(_doc(holidays=[["2026-12-25"]]))


def test_a_calendar_given_holidays_does_not_reuse_the_days_of_the_one_without():
    good_friday = berlin(2026, 4, 3, 10)

    assert NINE_TO_FIVE.is_open(good_friday)
    assert not NINE_TO_FIVE.with_holidays(EASTER_2026).is_open(good_friday)
    assert NINE_TO_FIVE.is_open(good_friday)


def test_the_constructor_validates_too():
    with pytest.raises(InvalidInputError, match="at least one weekday"):
        BusinessCalendar("UTC", ((),) * 7)
    with pytest.raises(InvalidInputError, match="seven weekdays"):
        BusinessCalendar("UTC", ((Opening(0, 60),),) * 5)
    with pytest.raises(InvalidInputError, match="within one day"):
        Opening(600, 1500)
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        NINE_TO_FIVE.with_zone("Europe/Atlantis")
