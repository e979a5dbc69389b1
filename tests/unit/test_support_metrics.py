"""Support metrics as pure folds and maths: hand-computed figures for a small, known log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from domain.errors import InvalidInputError, NotFoundError
from domain.survey_response import SurveyResponse
from projections.rows import MemoryRows
from projections.support_metrics import (
    CASES,
    NPS,
    ROLLUPS,
    MetricFilter,
    MetricQuery,
    SupportMetricsProjection,
    _like_combinations,
    latest_scores,
)
from projections.support_tally import (
    MEDIAN,
    P90,
    ROLLUP_SETS,
    Tally,
    is_boundary,
    items_of,
    nps,
    pack,
    period_start,
    quantile,
    sla_state,
    tally_items,
    unpack,
)
from tests.unit.helpers import CLIENT, STAFF, events, notifications

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
M = timedelta(minutes=1)


# Maths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([5], MEDIAN, 5.0),
    ([1, 3, 9], MEDIAN, 3.0),
    ([1, 2, 3, 4], MEDIAN, 2.5),
    ([600, 1000, 1800, 3600], MEDIAN, 1400.0),
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], P90, 9.1),
    ([600, 1800, 3600], P90, 3240.0),
    ([7, 7, 7, 7], P90, 7.0),
    ([0, 100], Fraction(1, 3), 100 / 3),
])
def test_quantiles_interpolate_between_closest_ranks(values, q, expected):
    assert quantile(values, q) == pytest.approx(expected, abs=1e-9)


def test_no_values_have_no_quantile():
    assert quantile([], MEDIAN) is None
    assert quantile([], P90) is None


def test_a_median_of_large_integers_stays_exact():
    big = [10**9 + 1, 10**9 + 2]
    assert quantile(big, MEDIAN) == 1_000_000_001.5
    # A year in microseconds, reported in seconds: one rounding, at the end.
    year = 365 * 86_400 * 1_000_000
    assert quantile([year, year + 1], MEDIAN, 1_000_000) == (2 * year + 1) / 2_000_000


def test_sub_second_times_give_exact_durations(desk, clock, account_id):
    clock.advance(timedelta(days=1))
    opened = T0 + timedelta(microseconds=250_000)
    for n, reply in enumerate((timedelta(seconds=1, microseconds=500_000),
                               timedelta(seconds=2, microseconds=1))):
        case_id = desk.open_case(account_id=account_id, channel="email", subject="Help",
                                 text="Hi", actor=CLIENT, occurred_at=opened,
                                 external_message_id=f"m{n}").ids["caseId"]
        desk.reply_to_case(case_id=case_id, text="Hi", agent="Ann", actor=STAFF,
                           occurred_at=opened + reply)
    figures = rollup(fold(desk), "priority", "month").figures()

    assert figures["first_response_median"] == 1.7500005
    assert figures["first_response_mean"] == 1.7500005
    assert figures["first_response_p90"] == pytest.approx(1.9500001)


@pytest.mark.parametrize(("scores", "expected"), [
    ([10, 9, 8, 6, 0], (0.0, 5)),
    ([10, 10, 7, 3], (25.0, 4)),
    ([9], (100.0, 1)),
    ([6, 0], (-100.0, 2)),
    ([7, 8], (0.0, 2)),
    ([], (None, 0)),
])
def test_nps_is_promoters_minus_detractors_in_percent(scores, expected):
    assert nps(scores) == expected


def test_numbers_and_tallies_pack_and_unpack():
    numbers = [0, 1, 59, 86_400, 2**40, -(2**40)]
    assert unpack(pack(numbers)) == numbers
    assert unpack(pack([])) == []
    assert unpack(None) == []
    tally = tally_items([("opened", T0), ("first_response", T0, 60, 50),
                         ("first_response", T0, 7, 7), ("resolved", T0, 10**10, 3, 1, 10**9),
                         ("csat", T0, 4), ("sla", T0, 2, 0)])
    assert Tally.unpack(tally.pack()) == tally
    assert Tally.unpack(Tally().pack()) == Tally()


@pytest.mark.parametrize(("at", "grain", "start"), [
    (datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "day", "2026-03-04"),
    (datetime(2026, 3, 4, 23, 59, tzinfo=UTC), "week", "2026-03-02"),
    (datetime(2026, 3, 1, 12, tzinfo=UTC), "week", "2026-02-23"),  # a Sunday
    (datetime(2026, 3, 31, 23, 0, tzinfo=UTC), "month", "2026-03-01"),
    # 00:30 in Berlin on 1 April is still 31 March in UTC.
    (datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "month", "2026-03-01"),
])
def test_periods_start_on_utc_days_iso_mondays_and_first_days(at, grain, start):
    assert period_start(at, grain).isoformat() == start


def test_period_boundaries():
    assert is_boundary(datetime(2026, 3, 2, tzinfo=UTC), "week")
    assert not is_boundary(datetime(2026, 3, 3, tzinfo=UTC), "week")
    assert is_boundary(datetime(2026, 3, 1, tzinfo=UTC), "month")
    assert not is_boundary(datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), "month")


@pytest.mark.parametrize(("due", "done", "breached", "state"), [
    (T0, None, False, None),
    (T0, T0, False, "met"),
    (T0, T0 + M, False, "breached"),
    (T0, T0 - H, True, "breached"),
    (T0, None, True, "breached"),
])
def test_an_sla_target_is_met_by_its_due_time_or_breached(due, done, breached, state):
    assert sla_state(due, done, breached) == state


def test_a_tally_takes_out_exactly_what_it_counted():
    items = [("opened", T0), ("first_response", T0, 60, 60), ("first_response", T0, 30, 30),
             ("resolved", T0, 600, 2, 1, 600), ("csat", T0, 5), ("sla", T0, 3, 1)]
    tally = tally_items(items)
    for item in items:
        tally.add(item, -1)
    assert tally.empty
    assert tally == Tally()
    with pytest.raises(ValueError, match="not among"):
        tally.add(("first_response", T0, 60, 60), -1)


# The log --------------------------------------------------------------------------------------


def _sla(case_id: UUID, version: int, topic: str, **fields: Any) -> tuple[str, Any]:
    event = SimpleNamespace(originator_id=case_id, originator_version=version,
                            occurred_at=fields.pop("occurred_at"), actor="system:sla", **fields)
    return f"carelog:Case.{topic}", event


def fold(desk, extra=()):
    """Fold the log, then `extra` (topic, event) pairs, into fresh MemoryRows."""
    projection = SupportMetricsProjection()
    rows = MemoryRows()
    position = 0
    for n in notifications(desk):
        projection.apply(n.topic, desk.mapper.to_domain_event(n), rows, n.id)
        position = n.id
    for topic, event in extra:
        position += 1
        projection.apply(topic, event, rows, position)
    projection.finish_page(rows, 0)
    return rows


def rollup(rows, dim, grain, value=None, period=None):
    """The merged tally of the rollup rows of a dimension (one value / period, or all)."""
    tally = Tally()
    for row in rows.all(ROLLUPS):
        if (row["dim"], row["grain"]) == (dim, grain) and value in (None, row["value"]) and (
                period in (None, row["period"])):
            tally.merge(Tally.unpack(row["tally"]))
    return tally.finish()


@pytest.fixture
def log(desk, clock, account_id):
    """Five cases of a standard-tier account in the week of 2 March 2026 (see the numbers).

    The account's SLA calendar is around the clock, so its targets are wall-clock hours.
    """
    clock.advance(timedelta(days=60))
    desk.set_calendar(account_id=account_id, actor=STAFF, occurred_at=T0 - 30 * H, document={
        "zone": "UTC", "hours": {d: ["00:00-24:00"] for d in (
            "mon", "tue", "wed", "thu", "fri", "sat", "sun")}})

    def open_case(at, priority, topic, channel="email"):
        return desk.open_case(account_id=account_id, channel=channel, subject="Help",
                              text="Hi", actor=CLIENT, priority=priority, topic=topic,
                              occurred_at=at).ids["caseId"]

    def reply(case_id, at, agent):
        desk.reply_to_case(case_id=case_id, text="On it", agent=agent, actor=STAFF,
                           occurred_at=at)

    c1 = open_case(T0, "normal", "login")
    reply(c1, T0 + 30 * M, "Ann")
    reply(c1, T0 + 2 * H, "Ann")
    desk.resolve_case(case_id=c1, actor=STAFF, occurred_at=T0 + 5 * H)
    desk.rate_case(case_id=c1, csat=4, actor=CLIENT, occurred_at=T0 + 6 * H)
    desk.rate_case(case_id=c1, csat=1, actor=CLIENT, occurred_at=T0 + 7 * H)

    t2 = T0 + 25 * H  # Tuesday 10:00
    c2 = open_case(t2, "high", "billing", channel="portal")
    reply(c2, t2 + 10 * M, "Bob")
    desk.assign_case(case_id=c2, agent="Cara", actor=STAFF, occurred_at=t2 + 20 * M)
    desk.resolve_case(case_id=c2, actor=STAFF, occurred_at=t2 + H)
    desk.reopen_case(case_id=c2, actor=CLIENT, occurred_at=t2 + 2 * H)
    reply(c2, t2 + 150 * M, "Cara")
    desk.resolve_case(case_id=c2, actor=STAFF, occurred_at=t2 + 3 * H)
    desk.rate_case(case_id=c2, csat=2, actor=CLIENT, occurred_at=t2 + 4 * H)
    desk.rate_case(case_id=c2, csat=5, actor=CLIENT, occurred_at=t2 + 5 * H)

    t3 = T0 + 47 * H  # Wednesday 08:00
    c3 = open_case(t3, "urgent", "login")
    desk.escalate_case(case_id=c3, reason="Admin rights", actor=STAFF, occurred_at=t3 + M)
    reply(c3, t3 + H, "Dan")
    desk.resolve_case(case_id=c3, actor=STAFF, occurred_at=t3 + 2 * H)
    desk.rate_case(case_id=c3, csat=3, actor=CLIENT, occurred_at=t3 + 3 * H)

    t4 = T0 + 75 * H  # Thursday 12:00
    c4 = open_case(t4, "low", None)

    t5 = T0 + 96 * H  # Friday 09:00
    c5 = open_case(t5, "normal", "billing")
    reply(c5, t5 + 1000 * timedelta(seconds=1), "Ann")

    extra = [
        # The SLA clock tightens the urgent case's first response to 30 minutes (missed)...
        _sla(c3, 6, "SlaTargetsSet", first_response_due=t3 + 30 * M,
             resolution_due=t3 + 48 * H, occurred_at=t3 + 5 * M),
        # ...and reports the low case's first response overdue after 48 hours.
        _sla(c4, 2, "SlaBreached", kind="first_response", due_at=t4 + 48 * H,
             occurred_at=t4 + 48 * H),
        _sla(c4, 3, "SlaBreached", kind="next_response", due_at=t4 + 49 * H,
             occurred_at=t4 + 49 * H),
    ]
    return SimpleNamespace(cases=[c1, c2, c3, c4, c5], times=[T0, t2, t3, t4, t5],
                           rows=fold(desk, extra), extra=extra)


def test_the_case_row_holds_the_facts(log):
    c1, c2, c3, c4, c5 = (log.rows.get(CASES, str(c)) for c in log.cases)
    assert (c1["first_response_seconds"], c1["resolution_seconds"]) == (1800, 18000)
    assert (c1["replies"], c1["replies_before_resolution"], c1["csat"]) == (2, 2, 1)
    assert (c2["first_response_seconds"], c2["resolution_seconds"]) == (600, 3600)
    assert c2["resolved_at"] == log.times[1] + H, "the first resolution is measured"
    assert (c2["replies"], c2["replies_before_resolution"], c2["reopened_count"]) == (2, 1, 1)
    assert (c2["assignee"], c2["first_reply_agent"], c2["csat"]) == ("Cara", "Bob", 5)
    assert (c3["line"], c3["first_response_sla"], c3["resolution_sla"]) == (2, "breached", "met")
    assert (c4["first_response_sla"], c4["resolution_sla"]) == ("breached", None)
    assert c4["first_response_due"] == log.times[3] + 48 * H
    assert (c5["first_response_sla"], c5["resolution_sla"]) == ("met", None)
    assert c5["resolution_seconds"] is None
    # Around the clock (the account's calendar): business time is wall-clock time.
    assert c1["first_response_business_micros"] == 30 * 60 * 1_000_000


def test_a_month_adds_up_to_the_hand_computed_figures(log):
    figures = rollup(log.rows, "priority", "month").figures()

    assert (figures["opened"], figures["resolved"]) == (5, 3)
    # First responses 600, 1000, 1800, 3600 s.
    assert figures["first_responses"] == 4
    assert figures["first_response_median"] == 1400.0
    assert figures["first_response_mean"] == 1750.0
    assert figures["first_response_p90"] == pytest.approx(3060.0)
    # Resolutions 3600, 7200, 18000 s.
    assert figures["resolution_median"] == 7200.0
    assert figures["resolution_mean"] == 9600.0
    assert figures["resolution_p90"] == pytest.approx(15840.0)
    assert figures["replies_to_resolution_mean"] == pytest.approx(4 / 3)
    assert figures["reopen_rate"] == pytest.approx(1 / 3)
    # Latest rating per case: 1, 5, 3.
    assert (figures["csat"], figures["csat_responses"]) == (pytest.approx(1 / 3), 3)
    # Weights met / due: normal 2+2, high 3+3, urgent 0+4, low 0 of 1, normal 2 (of 21).
    assert (figures["sla_targets"], figures["sla_targets_met"]) == (8, 6)
    assert figures["sla_attainment"] == pytest.approx(16 / 21)


def test_items_are_dated_by_the_event_that_settles_them(log):
    first_week = rollup(log.rows, "priority", "week", period="2026-03-02").figures()
    next_week = rollup(log.rows, "priority", "week", period="2026-03-09").figures()

    # The normal case's resolution target was due on 9 March, 168 hours after opening.
    assert (first_week["sla_targets"], first_week["sla_attainment"]) == (
        7, pytest.approx(14 / 19))
    assert (next_week["sla_targets"], next_week["sla_attainment"], next_week["opened"]) == (
        1, 1.0, 0)
    assert next_week["first_response_median"] is None
    assert next_week["csat"] is None
    assert next_week["reopen_rate"] is None


def test_rollups_per_dimension_follow_reassignment_and_escalation(log):
    assert rollup(log.rows, "agent", "month", "Bob").empty
    cara = rollup(log.rows, "agent", "month", "Cara")
    second = 1_000_000  # durations are tallied in microseconds
    assert (cara.opened, cara.first_responses, cara.resolved) == (1, [600 * second], 1)
    ann = rollup(log.rows, "agent", "month", "Ann")
    assert (ann.opened, ann.first_responses) == (2, [1000 * second, 1800 * second])
    assert rollup(log.rows, "agent", "month", "").opened == 1  # the low case, unanswered
    assert rollup(log.rows, "line", "month", "2").opened == 1
    assert rollup(log.rows, "line", "month", "1").opened == 4
    assert rollup(log.rows, "topic", "month", "").opened == 1
    assert rollup(log.rows, "channel", "month", "portal").reopened == 1
    # Agents crossed with another dimension move with them too: Ann's rows add up to hers.
    for crossed in ("agent+channel", "agent+line", "agent+priority", "agent+topic"):
        values = {r["value"] for r in log.rows.all(ROLLUPS) if r["dim"] == crossed}
        assert not any(json.loads(v)[0] == "Bob" for v in values)
        mine = Tally()
        for value in values:
            if json.loads(value)[0] == "Ann":
                mine.merge(rollup(log.rows, crossed, "month", value))
        assert mine.finish() == ann, crossed


@pytest.mark.parametrize("rollups", ROLLUP_SETS, ids=lambda s: s.name)
def test_every_rollup_adds_up_to_the_items_of_the_case_rows(log, rollups):
    direct = tally_items(item for case in log.rows.all(CASES) for item in items_of(case))
    for grain in rollups.grains:
        assert rollup(log.rows, rollups.name, grain) == direct, grain
    assert all(not Tally.unpack(r["tally"]).empty for r in log.rows.all(ROLLUPS))


def test_folding_the_log_again_gives_the_same_rows(desk, log):
    assert fold(desk, log.extra).tables == log.rows.tables


def test_pages_of_any_size_give_the_same_rows(desk, log):
    for every in (1, 2, 5):
        projection = SupportMetricsProjection()
        rows = MemoryRows()
        for count, n in enumerate(notifications(desk), start=1):
            projection.apply(n.topic, desk.mapper.to_domain_event(n), rows, n.id)
            if count % every == 0:
                projection.finish_page(rows, 0)
        for position, (topic, event) in enumerate(log.extra, start=1000):
            projection.apply(topic, event, rows, position)
        projection.finish_page(rows, 0)
        cases = {k: {**v, "position": None} for k, v in rows.tables["support_cases"].items()}
        kept = {k: {**v, "position": None} for k, v in log.rows.tables["support_cases"].items()}
        assert cases == kept
        assert rows.tables["support_rollups"] == log.rows.tables["support_rollups"]


def test_business_durations_count_the_opening_hours_of_the_case_calendar(desk, clock,
                                                                        open_account):
    account = open_account(tier="enterprise")  # Mon-Fri 09:00-18:00 Europe/Berlin
    clock.advance(timedelta(days=30))
    friday_5pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 17:00 in Berlin
    case = desk.open_case(account_id=account, channel="email", subject="Help", text="Hi",
                          actor=CLIENT, occurred_at=friday_5pm).ids["caseId"]
    desk.reply_to_case(case_id=case, text="On it", agent="Ann", actor=STAFF,
                       occurred_at=friday_5pm + 65 * H)  # Monday 10:00 in Berlin
    desk.resolve_case(case_id=case, actor=STAFF, occurred_at=friday_5pm + 66 * H)

    rows = fold(desk)

    row = rows.get(CASES, str(case))
    assert row["first_response_seconds"] == 65 * 3600
    assert row["first_response_business_micros"] == 2 * 3600 * 1_000_000  # Fri 1 h + Mon 1 h
    assert row["resolution_business_micros"] == 3 * 3600 * 1_000_000
    month = rollup(rows, "priority", "month").figures()
    assert month["first_response_median"] == 65 * 3600.0
    assert month["first_response_business_median"] == 2 * 3600.0
    assert month["resolution_business_mean"] == 3 * 3600.0


def test_an_sla_event_for_a_case_never_opened_is_a_lookup_error(log):
    topic, event = _sla(UUID(int=7), 2, "SlaBreached", kind="resolution", due_at=T0,
                        occurred_at=T0)
    with pytest.raises(LookupError, match="no Opened event"):
        SupportMetricsProjection().apply(topic, event, MemoryRows(), 1)


# Queries (checked before any database is asked) ----------------------------------------------


@pytest.mark.parametrize(("query", "message"), [
    (MetricQuery(group_by=("colour",)), "unknown dimension"),
    (MetricQuery(group_by=("agent", "agent")), "twice"),
    (MetricQuery(grain="year"), "unknown period"),
    (MetricQuery(start=T0 + H, end=T0), "from must not be after to"),
    (MetricQuery(start=datetime(2026, 3, 1)), "timezone"),
])
def test_a_bad_query_is_refused(query, message):
    with pytest.raises(InvalidInputError, match=message):
        query.check()


@pytest.mark.parametrize(("query", "grain"), [
    (MetricQuery(), "month"),
    (MetricQuery(group_by=("agent",), grain="week"), "week"),
    (MetricQuery(grain="month", start=datetime(2026, 3, 1, tzinfo=UTC),
                 end=datetime(2026, 4, 1, tzinfo=UTC)), "month"),
    (MetricQuery(start=datetime(2026, 3, 2, tzinfo=UTC),
                 end=datetime(2026, 3, 16, tzinfo=UTC)), "week"),
    (MetricQuery(grain="month", start=T0), None),
    (MetricQuery(grain="day"), "day"),
    (MetricQuery(grain="week", start=datetime(2026, 3, 4, tzinfo=UTC)), "day"),
    (MetricQuery(grain="month", end=datetime(2026, 3, 16, tzinfo=UTC)), "day"),
    (MetricQuery(end=datetime(2026, 3, 16, tzinfo=UTC)), "week"),
    (MetricQuery(group_by=("agent", "channel")), "month"),
    (MetricQuery(group_by=("agent", "channel"), grain="week"), None),
    (MetricQuery(group_by=("agent", "channel"), grain="day"), None),
    (MetricQuery(group_by=("agent", "channel", "line")), None),
    (MetricQuery(group_by=("agent",), where=MetricFilter(account_id="a1")), None),
    (MetricQuery(group_by=("channel",), where=MetricFilter(account_id="a1")), "month"),
    (MetricQuery(group_by=("agent", "account"), grain="week"), None),
    (MetricQuery(group_by=("channel", "priority", "topic")), "month"),
    (MetricQuery(group_by=("channel", "priority", "topic"), grain="week"), None),
    (MetricQuery(group_by=("priority",), grain="day", where=MetricFilter(line=2)), "day"),
    (MetricQuery(where=MetricFilter(channel="email")), "month"),
    (MetricQuery(group_by=("line",), grain="day", where=MetricFilter(line=2)), "day"),
    (MetricQuery(group_by=("priority",), where=MetricFilter(channel="email")), "month"),
    (MetricQuery(where=MetricFilter(channel="email", priority="high")), "month"),
    (MetricQuery(group_by=("channel", "topic"), grain="week"), "day"),
    (MetricQuery(group_by=("channel", "line"), end=datetime(2026, 3, 16, tzinfo=UTC)), "day"),
    (MetricQuery(group_by=("channel", "line"), end=datetime(2026, 3, 18, tzinfo=UTC)), "day"),
    (MetricQuery(group_by=("priority",), where=MetricFilter(agent="a")), "month"),
    (MetricQuery(where=MetricFilter(agent="")), None),
    (MetricQuery(group_by=("agent",), grain="day"), None),
    (MetricQuery(grain="day", where=MetricFilter(account_id="a1")), None),
    (MetricQuery(grain="month", where=MetricFilter(account_id="a1")), "month"),
])
def test_rollups_answer_whole_days_of_the_dimensions_of_a_set(query, grain):
    assert query.rollup_grain() == grain


# NPS --------------------------------------------------------------------------------------------


def test_the_latest_answer_of_a_contact_in_a_period_counts():
    def answer(contact, score, at, account="a1"):
        return {"account_id": account, "contact_id": contact, "score": score, "occurred_at": at}

    responses = [answer("ann", 3, T0), answer("bob", 10, T0 + H), answer("ann", 10, T0 + 2 * H),
                 answer("cid", 6, T0 + 3 * H, "a2"),
                 answer("ann", 0, T0 + timedelta(days=31))]  # April: its own period

    by_month = latest_scores(responses, by_account=False, grain="month")
    assert {k: nps(v.values()) for k, v in by_month.items()} == {
        ((), "2026-03-01"): (pytest.approx(100 / 3), 3),
        ((), "2026-04-01"): (-100.0, 1)}
    whole = latest_scores(responses, by_account=True, grain=None)
    assert whole[(("a1",), None)] == {"ann": 0, "bob": 10}
    assert whole[(("a2",), None)] == {"cid": 6}


def test_recording_nps_makes_one_event_and_a_redelivery_is_a_duplicate(desk, account_id):
    contact = desk.add_contact(account_id=account_id, name="Bob", email="bob@client.example",
                               role="user", actor=STAFF).ids["contactId"]

    first = desk.record_nps(account_id=account_id, contact_id=contact, score=9,
                            survey="2026-Q1", comment="  Great  ", actor=CLIENT)
    again = desk.record_nps(account_id=account_id, contact_id=contact, score=9,
                            survey="2026-Q1", actor=CLIENT)
    later = desk.record_nps(account_id=account_id, contact_id=contact, score=4,
                            survey="2026-Q2", actor=CLIENT)

    assert (first.duplicate, again.duplicate, later.duplicate) == (False, True, False)
    response_id = first.ids["surveyResponseId"]
    assert again.ids["surveyResponseId"] == response_id
    assert response_id == SurveyResponse.id_for(account_id, contact, "2026-Q1")
    recorded = events(desk, "carelog:SurveyResponse.Recorded")
    assert [(e.score, e.comment, e.contact_id) for e in recorded] == [
        (9, "Great", contact), (4, None, contact)]
    rows = fold(desk)
    assert sorted(r["score"] for r in rows.all(NPS)) == [4, 9]


@pytest.mark.parametrize("score", [-1, 11, 7.5, True, "9"])
def test_an_nps_score_outside_zero_to_ten_is_refused(desk, account_id, score):
    contact = desk.add_contact(account_id=account_id, name="Bob", email="bob@client.example",
                               role="user", actor=STAFF).ids["contactId"]
    with pytest.raises(InvalidInputError, match="0 to 10"):
        desk.record_nps(account_id=account_id, contact_id=contact, score=score, survey="s",
                        actor=CLIENT)


def test_nps_of_a_contact_of_another_account_is_not_found(desk, account_id, open_account):
    other = open_account(name="Other AG")
    contact = desk.add_contact(account_id=other, name="Bob", email="bob@client.example",
                               role="user", actor=STAFF).ids["contactId"]
    with pytest.raises(NotFoundError):
        desk.record_nps(account_id=account_id, contact_id=contact, score=9, survey="s",
                        actor=CLIENT)


def test_rows_of_a_composite_key_are_read_many_at_a_time():
    assert ROLLUPS.select_many_statement(2) == (
        "SELECT dim, grain, period, value, tally FROM support_rollups "
        "WHERE (dim, grain, period, value) IN ((?, ?, ?, ?), (?, ?, ?, ?))")
    assert CASES.select_many_statement(2).endswith("WHERE id IN (?, ?)")


def test_a_filter_on_a_set_of_two_is_read_with_a_pattern_that_holds_every_match():
    agent_channel = next(s for s in ROLLUP_SETS if s.name == "agent+channel")
    pattern = _like_combinations(agent_channel, {"channel": "email"})
    assert pattern == '["%", "email"]'
    assert _like_combinations(agent_channel, {"agent": "a_b%", "channel": "email"}) == (
        '["a_b%", "email"]')  # LIKE wildcards only widen: each row is checked after
    assert _like_combinations(agent_channel, {"agent": "Zoë"}) is None  # \u00eb: an escape
    assert _like_combinations(agent_channel, {"agent": 'a"b'}) is None
