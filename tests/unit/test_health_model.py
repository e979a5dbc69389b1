"""KAH-1 health maths: sub-metrics, aggregation, gates, explanation, hysteresis and trend.

Numbers are computed by hand from section 2 of customer-success-anchors.md; `acme()` builds
the worked example of 2.6 from facts.
"""

from __future__ import annotations

import json
import math
import random
import timeit
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import InvalidInputError
from domain.health_model import (
    DEFAULT_MODEL,
    AccountFacts,
    Close,
    ContractionRequest,
    CsatResponse,
    FactsBuilder,
    Health,
    HealthModel,
    Invoice,
    NpsResponse,
    PaymentFailure,
    RenewalRiskSet,
    SlaTarget,
    Ticket,
    Touchpoint,
    UsageReport,
    confirm,
    evaluate,
    explain_change,
    lin,
    round_half_up,
    trend,
)

T = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ago(days: float) -> datetime:
    return T - timedelta(days=days)


def sub(health: Health, key: str) -> float | None:
    for component in health.components:
        for metric in component.sub_metrics:
            if metric.key == key:
                return metric.score
    raise KeyError(key)


def raw(health: Health, key: str) -> float | None:
    for component in health.components:
        for metric in component.sub_metrics:
            if metric.key == key:
                return metric.raw
    raise KeyError(key)


def comp(health: Health, key: str):
    return next(c for c in health.components if c.key == key)


def gate_keys(health: Health) -> list[str]:
    return [g.key for g in health.gates]


def ticket(b: FactsBuilder, tid: str, opened: datetime, priority: str = "normal",
           resolved: datetime | None = None) -> Ticket:
    t = Ticket(tid, f"ev-{tid}", opened, priority)
    if resolved is not None:
        t = t.resolved(f"res-{tid}", resolved)
    b.put(t)
    return t


def target(b: FactsBuilder, tid: str, kind: str, priority: str, due: datetime,
           met: datetime | None = None, breach: str | None = None) -> None:
    b.put(SlaTarget(tid, kind, priority, f"sla-{tid}-{kind}", due, met, breach))


def acme(*, usage: bool = True) -> FactsBuilder:
    """The worked example of 2.6 as facts, evaluated at T."""
    b = FactsBuilder("acme", contract_start=ago(730), arr=1_200_000.0)
    if usage:  # C1: U1 = 62/100 = 0.62; U2 = mean(70, 62) / 75 - 1 = -0.12
        b.add(UsageReport("u-seats", ago(400), None, 100))
        b.add(UsageReport("u-45", ago(45), 75, None))
        b.add(UsageReport("u-20", ago(20), 70, None))
        b.add(UsageReport("u-2", ago(2), 62, 100))
    # C2: earlier 90-day windows hold 4, 4, 3, 5 tickets (median 4); 6 now, so r = 1.5
    for k, count in enumerate((4, 4, 3, 5), start=1):
        for n in range(count):
            opened = ago(90 * k + 5 + 10 * n)
            ticket(b, f"old{k}{n}", opened, resolved=opened + timedelta(days=2))
    t1 = ticket(b, "t1", ago(5), "high").escalated("esc-t1", ago(4))
    b.put(t1)
    target(b, "t1", "first_response", "high", ago(5) + HOUR, ago(5) + HOUR / 2)
    target(b, "t1", "resolution", "high", T + timedelta(days=10))
    for tid, opened in (("t2", 60), ("t3", 50), ("t4", 40), ("t5", 30)):
        ticket(b, tid, ago(opened), "normal", resolved=ago(opened - 4))
        target(b, tid, "first_response", "normal", ago(opened) + 4 * HOUR, ago(opened) + HOUR)
        late = tid == "t3"
        target(b, tid, "resolution", "normal", ago(opened - 5),
               ago(opened - 6) if late else ago(opened - 4), "brk-t3" if late else None)
    ticket(b, "t6", ago(20), "low")
    target(b, "t6", "first_response", "low", ago(19), ago(18), "brk-t6")
    target(b, "t6", "resolution", "low", T + timedelta(days=5))
    # C4: CSAT 4 of 5 satisfied, same age -> 0.80; NPS (9 * 2 + 6) / 3 = 8
    for n, score in enumerate((5, 4, 4, 5, 2)):
        b.add(CsatResponse(f"csat-{n}", ago(10), score))
    b.add(NpsResponse("nps-exec", "c-exec", ago(30), 9, executive=True))
    b.add(NpsResponse("nps-user-old", "c-user", ago(100), 10))
    b.add(NpsResponse("nps-user", "c-user", ago(20), 6))
    # C5: last two-way touchpoint 35 days ago, with the sponsor; champion since the start
    b.add(Touchpoint("tp-qbr", ago(35), True, frozenset({"executive_sponsor", "champion"})))
    b.add(Touchpoint("tp-mail", ago(3), False, frozenset({"user"})))
    b.add(Touchpoint("tp-old", ago(100), True, frozenset({"user"})))
    b.name_champion("c-champ", "champ-named", ago(730))
    # C6: paid on time, no contraction
    b.put(Invoice("inv-1", "inv-ev-1", ago(40), ago(10), 100_000.0, ago(12), "pay-1"))
    b.add(RenewalRiskSet("risk-none", ago(60), "none", "staff:ann"))
    return b


ACME_C1 = (55.0 + 160 / 3) / 2
ACME_C4 = 200 / 3
ACME_C5 = (2500 / 39 + 200) / 3
ACME_H0 = (20 * ACME_C1 + 20 * 65 + 15 * 50 + 20 * ACME_C4 + 15 * ACME_C5 + 10 * 100) / 100


# Worked example ------------------------------------------------------------------------------


def test_worked_example_scores_67_9_rounded_to_68_yellow():
    health = evaluate(DEFAULT_MODEL, acme().build(), T)

    assert health.h0 == pytest.approx(ACME_H0)
    assert round(health.value, 1) == 67.9
    assert (health.score, health.band, health.coverage) == (68, "yellow", 1.0)
    assert health.profile == "established"
    assert health.model_version == 1
    assert health.gates == ()


def test_worked_example_sub_scores_match_the_table():
    health = evaluate(DEFAULT_MODEL, acme().build(), T)

    assert raw(health, "U1") == pytest.approx(0.62)
    assert raw(health, "U2") == pytest.approx(-0.12)
    assert raw(health, "S2") == pytest.approx(1.5)
    assert raw(health, "A1") == pytest.approx(0.15)
    assert raw(health, "K1") == pytest.approx(0.80)
    assert raw(health, "K2") == pytest.approx(8.0)
    assert raw(health, "E1") == pytest.approx(35.0)
    expected = {"U1": 55, "U2": 53, "S1": 80, "S2": 50, "A1": 50, "K1": 67, "K2": 67,
                "E1": 64, "E2": 100, "E3": 100, "B1": 100, "B2": 100}
    assert {k: round(sub(health, k) or 0) for k in expected} == expected
    assert [round(c.score or 0) for c in health.components] == [54, 65, 50, 67, 88, 100]
    assert [round(c.contribution, 1) for c in health.components] == [
        10.8, 13.0, 7.5, 13.3, 13.2, 10.0]
    assert sum(c.points_lost for c in health.components) == pytest.approx(100 - ACME_H0)


def test_worked_example_top_drivers_are_usage_sla_and_support():
    health = evaluate(DEFAULT_MODEL, acme().build(), T)

    drivers = [(d.key, round(d.points_lost, 1)) for d in health.top_drivers]
    assert drivers == [("C1", 9.2), ("C3", 7.5), ("C2", 7.0)]
    assert set(health.top_drivers[1].evidence) == {"brk-t3", "brk-t6"}
    assert "esc-t1" in health.top_drivers[2].evidence


def test_health_is_json_serialisable():
    health = evaluate(DEFAULT_MODEL, acme().build(), T)

    document = json.loads(json.dumps(health.to_dict()))

    assert document["score"] == 68
    assert document["components"][0]["sub_metrics"][0]["key"] == "U1"
    assert document["at"] == T.isoformat()


def test_evaluate_ignores_facts_after_the_as_of_time():
    b = acme()
    before = evaluate(DEFAULT_MODEL, b.build(), T).to_dict()
    later = T + timedelta(minutes=1)
    b.put(b.ticket("t1").with_priority(later, "urgent"))
    b.put(b.ticket("t6").resolved("res-t6", later))
    ticket(b, "t-late", later, "urgent")
    target(b, "t-late", "first_response", "urgent", later + HOUR)
    b.put(Invoice("inv-2", "inv-ev-2", later, later, 5.0))
    b.add(UsageReport("u-late", later, 1, 100))
    b.add(CsatResponse("csat-late", later, 1))
    b.add(NpsResponse("nps-late", "c-exec", later, 0, executive=True))
    b.add(Touchpoint("tp-late", later, True, frozenset({"executive_sponsor"})))
    b.end_champion("c-champ", "champ-left", later, left=True)
    b.add(ContractionRequest("contract-late", later))
    b.add(PaymentFailure("fail-late", later, "inv-1"))
    b.add(RenewalRiskSet("risk-late", later, "churn_notice", "staff:ann"))

    assert evaluate(DEFAULT_MODEL, b.build(), T).to_dict() == before
    assert evaluate(DEFAULT_MODEL, b.build(), later).score < 50


def test_evaluate_refuses_a_naive_as_of_time():
    with pytest.raises(InvalidInputError, match="timezone"):
        evaluate(DEFAULT_MODEL, acme().build(), T.replace(tzinfo=None))


def test_facts_added_out_of_time_order_give_the_same_health():
    in_order = acme().build()
    shuffled = FactsBuilder("acme", contract_start=ago(730), arr=1_200_000.0)
    rng = random.Random(3)
    points = [*in_order.csat, *in_order.nps, *in_order.touchpoints, *in_order.usage,
              *in_order.renewal_risks]
    rng.shuffle(points)
    for fact in points:
        shuffled.add(fact)
    for keyed in rng.sample([*in_order.tickets, *in_order.sla_targets, *in_order.invoices],
                            len(in_order.tickets) + len(in_order.sla_targets) + 1):
        shuffled.put(keyed)
    shuffled.name_champion("c-champ", "champ-named", ago(730))

    assert evaluate(DEFAULT_MODEL, shuffled.build(), T) == evaluate(DEFAULT_MODEL, in_order, T)


def test_redelivered_events_change_nothing():
    b = acme()
    before = at_t(b)
    b.add(CsatResponse("csat-4", ago(1), 1))  # same event id as an earlier response
    b.put(b.ticket("t1").escalated("esc-t1", ago(3)))
    b.name_champion("c-champ", "champ-named", ago(730))
    b.end_champion("c-champ", "champ-left", ago(5), left=True)
    b.end_champion("c-champ", "champ-left", ago(5), left=True)
    b.name_champion("c-new", "champ-left", ago(4))  # an id seen before: ignored
    after = at_t(b)

    assert after.components[:4] == before.components[:4]
    assert sub(after, "E3") == 0.0
    assert gate_keys(after) == ["G5"]


def test_build_is_cached_until_the_next_change():
    b = acme()
    first = b.build()
    assert b.build() is first
    b.add(CsatResponse("csat-new", ago(1), 5))
    assert b.build() is not first


@pytest.mark.parametrize("make", [
    lambda: Ticket("t", "e", T, "critical"),
    lambda: SlaTarget("t", "next_response", "high", "e", T),
    lambda: SlaTarget("t", "resolution", "p1", "e", T),
    lambda: RenewalRiskSet("e", T, "panic", "staff:ann"),
    lambda: Ticket("t", "e", T, "low").with_priority(T, "P2"),
    lambda: CsatResponse("e", T, 0),
    lambda: NpsResponse("e", "c", T, 11),
])
def test_facts_refuse_unknown_choices_and_scores(make):
    with pytest.raises(InvalidInputError, match=r"unknown|scores run"):
        make()


def test_builder_refuses_unknown_keyed_facts():
    with pytest.raises(InvalidInputError, match="unknown ticket 'nope'"):
        bare().ticket("nope")


# lin() and rounding --------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "poor", "healthy", "expected"), [
    (0.60, 0.40, 0.80, 50.0),     # higher is better
    (0.40, 0.40, 0.80, 0.0),
    (0.80, 0.40, 0.80, 100.0),
    (0.10, 0.40, 0.80, 0.0),      # clamped below
    (0.95, 0.40, 0.80, 100.0),    # clamped above
    (40.5, 60.0, 21.0, 50.0),     # lower is better
    (60.0, 60.0, 21.0, 0.0),
    (21.0, 60.0, 21.0, 100.0),
    (90.0, 60.0, 21.0, 0.0),      # clamped: worse than poor
    (3.0, 60.0, 21.0, 100.0),     # clamped: better than healthy
    (-0.20, -0.20, -0.05, 0.0),
    (0.15, 0.25, 0.05, 50.0),
])
def test_lin_is_linear_between_poor_and_healthy_in_both_directions(x, poor, healthy, expected):
    assert lin(x, poor, healthy) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "expected"), [
    (67.5, 68), (67.49, 67), (74.5, 75), (0.5, 1), (0.49, 0), (100.0, 100)])
def test_scores_round_half_up(value, expected):
    assert round_half_up(value) == expected


# Sub-metric windows --------------------------------------------------------------------------


def bare(**kwargs) -> FactsBuilder:
    return FactsBuilder("bare", **kwargs)


def at_t(b: FactsBuilder, segment_intensity: float | None = None) -> Health:
    return evaluate(DEFAULT_MODEL, b.build(), T, segment_intensity)


def test_u1_uses_the_latest_report_within_28_days():
    b = bare()
    b.add(UsageReport("u", ago(28), 60, 100))
    assert sub(at_t(b), "U1") is None  # exactly 28 days old is outside (T-28d, T]

    b.add(UsageReport("u2", ago(28) + timedelta(seconds=1), 70, None))
    health = at_t(b)
    assert raw(health, "U1") == pytest.approx(0.70)
    assert sub(health, "U1") == pytest.approx(75.0)
    assert comp(health, "C1").sub_metrics[0].evidence == ("u2", "u")


def test_u1_is_missing_without_licensed_seats():
    b = bare()
    b.add(UsageReport("u", ago(1), 60, None))
    assert sub(at_t(b), "U1") is None


def test_u2_compares_the_last_30_days_with_the_30_before():
    b = bare()
    b.add(UsageReport("prev-edge", ago(60), 1000, None))  # exactly T-60d: outside both windows
    b.add(UsageReport("prev", ago(30), 100, None))  # exactly T-30d: the earlier window
    b.add(UsageReport("cur", ago(10), 90, None))
    health = at_t(b)
    assert raw(health, "U2") == pytest.approx(-0.10)
    assert sub(health, "U2") == pytest.approx(200 / 3)


def test_u2_is_missing_when_a_window_has_no_report():
    b = bare()
    b.add(UsageReport("cur", ago(10), 90, None))
    assert sub(at_t(b), "U2") is None


def test_s1_deducts_per_open_escalated_ticket_by_priority():
    b = bare()
    b.put(Ticket("p1", "e1", ago(3), "urgent").escalated("esc1", ago(2)))
    b.put(Ticket("p2", "e2", ago(3), "high").escalated("esc2", ago(2)))
    b.put(Ticket("p3", "e3", ago(3), "low").escalated("esc3", ago(2)))
    b.put(Ticket("p4", "e4", ago(3), "normal").escalated("esc4", ago(2))
          .deescalated("de4", T))  # de-escalated at T: not open at T
    b.put(Ticket("p5", "e5", ago(3), "urgent").escalated("esc5", ago(2)).resolved("r5", ago(1)))
    health = at_t(b)
    assert sub(health, "S1") == 100 - 40 - 20 - 5
    assert raw(health, "S1") == 3


def test_s1_follows_reopen_and_priority_changes():
    t = Ticket("p", "e", ago(10), "normal").escalated("esc", ago(9)).resolved("r", ago(8))
    b = bare()
    b.put(t)
    assert sub(at_t(b), "S1") == 100

    b.put(t.reopened("ro", ago(2)).with_priority(ago(1), "urgent"))
    assert sub(at_t(b), "S1") == 60
    assert sub(evaluate(DEFAULT_MODEL, b.build(), ago(1.5)), "S1") == 95


def test_s1_never_goes_below_zero():
    b = bare()
    for n in range(3):
        b.put(Ticket(f"p{n}", f"e{n}", ago(3), "urgent").escalated(f"esc{n}", ago(2)))
    assert sub(at_t(b), "S1") == 0


def test_s2_counts_tickets_in_half_open_90_day_windows():
    b = bare(contract_start=ago(450))
    ticket(b, "edge", ago(90))  # exactly T-90d belongs to the earlier window
    ticket(b, "now1", ago(89))
    ticket(b, "now2", ago(1))
    ticket(b, "w1b", ago(170))
    ticket(b, "w2", ago(200))
    ticket(b, "w3", ago(300))
    ticket(b, "w4", ago(400))
    health = at_t(b)
    # earlier windows: 2, 1, 1, 1 -> median 1; r = 2
    assert raw(health, "S2") == pytest.approx(2.0)
    assert sub(health, "S2") == 0.0
    assert comp(health, "C2").sub_metrics[1].evidence == ("ev-now1", "ev-now2")


def test_s2_uses_only_earlier_windows_inside_the_history_and_at_least_one_ticket():
    b = bare(contract_start=ago(180))  # exactly six months: one earlier window, not cold
    ticket(b, "now", ago(10))
    health = at_t(b, segment_intensity=99.0)
    # the earlier window is empty: baseline floors at 1 ticket, r = 1
    assert raw(health, "S2") == pytest.approx(1.0)
    assert sub(health, "S2") == 100.0


def test_s2_cold_start_compares_tickets_per_100k_arr_with_the_segment():
    b = bare(contract_start=ago(179), arr=200_000.0)
    for n in range(3):
        ticket(b, f"t{n}", ago(n + 1))
    assert sub(at_t(b), "S2") is None  # no segment figure: missing
    health = at_t(b, segment_intensity=1.0)
    assert raw(health, "S2") == pytest.approx(1.5)  # 3 tickets / 2 (100k) / 1.0
    assert sub(health, "S2") == pytest.approx(50.0)


def test_s2_history_starts_at_the_first_ticket_without_a_contract_start():
    b = bare()
    ticket(b, "first", ago(200))
    ticket(b, "now", ago(5))
    assert raw(at_t(b), "S2") == pytest.approx(1.0)  # (T-180, T-90] is inside the history


def test_a1_counts_targets_due_or_met_in_the_window():
    b = bare()
    target(b, "a", "first_response", "urgent", ago(90), None)  # due at the edge: outside
    target(b, "b", "first_response", "normal", ago(91), ago(89), "brk-b")  # late, met inside
    target(b, "c", "resolution", "low", T + HOUR, ago(1))  # met early, due later: counts, met
    target(b, "d", "resolution", "high", ago(1), None, "brk-d")  # running past due: breach
    target(b, "e", "resolution", "urgent", T + HOUR)  # running, not due: not counted
    target(b, "f", "first_response", "high", ago(5), ago(6))  # met on time
    target(b, "g", "first_response", "low", ago(2), T + HOUR)  # met after T: breached at T
    health = at_t(b)
    # weights: b 2, c 1, d 3, f 3, g 1 = 10; breaches b 2 + d 3 + g 1 = 6
    assert raw(health, "A1") == pytest.approx(0.6)
    assert sub(health, "A1") == 0.0
    assert set(comp(health, "C3").sub_metrics[0].evidence) == {
        "brk-b", "brk-d", "sla-g-first_response"}


def test_a1_is_missing_without_targets():
    assert sub(at_t(bare()), "A1") is None


def test_k1_needs_three_responses_in_90_days():
    b = bare()
    b.add(CsatResponse("old", ago(90), 5))  # exactly 90 days: outside
    b.add(CsatResponse("c1", ago(1), 5))
    b.add(CsatResponse("c2", ago(1), 5))
    assert sub(at_t(b), "K1") is None

    b.add(CsatResponse("c3", ago(1), 3))
    assert raw(at_t(b), "K1") == pytest.approx(2 / 3)


def test_k1_weights_responses_by_a_30_day_half_life():
    b = bare()
    b.add(CsatResponse("new", T, 5))
    b.add(CsatResponse("m1", ago(30), 1))
    b.add(CsatResponse("m2", ago(30), 2))
    assert raw(at_t(b), "K1") == pytest.approx(1 / (1 + 0.5 + 0.5))


def test_k2_takes_each_contacts_latest_score_within_180_days_exec_twice():
    b = bare()
    b.add(NpsResponse("gone", "c0", ago(180), 0))  # exactly 180 days: outside
    b.add(NpsResponse("x-old", "cx", ago(100), 0, executive=True))
    b.add(NpsResponse("x-new", "cx", ago(50), 10, executive=True))
    b.add(NpsResponse("u", "cu", ago(10), 7))
    health = at_t(b)
    assert raw(health, "K2") == pytest.approx(27 / 3)
    assert sub(health, "K2") == 100.0
    assert set(comp(health, "C4").sub_metrics[1].evidence) == {"x-new", "u"}


def test_e1_counts_days_since_the_last_two_way_touchpoint():
    b = bare()
    b.add(Touchpoint("two", ago(40.5), True))
    b.add(Touchpoint("one", ago(1), False))
    health = at_t(b)
    assert raw(health, "E1") == pytest.approx(40.5)
    assert sub(health, "E1") == pytest.approx(50.0)


def test_e1_without_touchpoints_counts_from_the_contract_start_else_scores_zero():
    assert sub(at_t(bare(contract_start=ago(10))), "E1") == 100.0
    assert sub(at_t(bare(contract_start=ago(60))), "E1") == 0.0
    health = at_t(bare())
    assert (raw(health, "E1"), sub(health, "E1")) == (None, 0.0)


def test_e2_needs_a_two_way_sponsor_touchpoint_in_90_days():
    sponsor = frozenset({"executive_sponsor"})
    b = bare()
    b.add(Touchpoint("edge", ago(90), True, sponsor))
    b.add(Touchpoint("one-way", ago(1), False, sponsor))
    assert sub(at_t(b), "E2") == 0.0

    b.add(Touchpoint("meet", ago(89), True, sponsor))
    assert sub(at_t(b), "E2") == 100.0


def test_e3_champion_left_scores_zero_until_a_new_one_is_named():
    b = bare()
    assert sub(at_t(b), "E3") == 0.0
    b.name_champion("c1", "named1", ago(100))
    assert sub(at_t(b), "E3") == 100.0
    b.end_champion("c1", "left1", ago(40), left=True)
    assert sub(at_t(b), "E3") == 0.0
    b.name_champion("c2", "named2", ago(20))
    assert sub(at_t(b), "E3") == 100.0
    assert sub(evaluate(DEFAULT_MODEL, b.build(), ago(30)), "E3") == 0.0


def test_b1_counts_days_the_oldest_unpaid_invoice_is_overdue():
    b = bare()
    assert sub(at_t(b), "B1") is None  # no invoice ever issued
    b.put(Invoice("i1", "ie1", ago(60), ago(30), 10.0))
    b.put(Invoice("i2", "ie2", ago(50), ago(45), 10.0, paid_at=ago(1)))
    b.put(Invoice("i3", "ie3", ago(30), T, 10.0))  # due at T: not yet overdue
    health = at_t(b)
    assert raw(health, "B1") == pytest.approx(30.0)
    assert sub(health, "B1") == pytest.approx(50.0)
    assert comp(health, "C6").sub_metrics[0].evidence == ("ie1",)

    b.put(replace(b.invoice("i1"), paid_at=T + HOUR))  # paid after T: still unpaid at T
    assert raw(at_t(b), "B1") == pytest.approx(30.0)
    b.put(replace(b.invoice("i1"), paid_at=T))
    assert raw(at_t(b), "B1") == 0.0


def test_b2_contraction_in_90_days_scores_zero():
    b = bare()
    b.add(ContractionRequest("edge", ago(90)))
    assert sub(at_t(b), "B2") == 100.0
    b.add(ContractionRequest("cut", ago(89)))
    assert sub(at_t(b), "B2") == 0.0


# Aggregation ---------------------------------------------------------------------------------


def test_missing_usage_renormalises_over_the_rest_with_coverage_0_8():
    health = at_t(acme(usage=False))

    c1 = comp(health, "C1")
    assert (c1.score, c1.effective_weight, c1.contribution) == (None, 0.0, 0.0)
    assert health.coverage == pytest.approx(0.8)
    expected = (20 * 65 + 15 * 50 + 20 * ACME_C4 + 15 * ACME_C5 + 10 * 100) / 80
    assert health.h0 == pytest.approx(expected)
    assert comp(health, "C2").effective_weight == pytest.approx(25.0)
    assert health.band == "yellow"


def test_coverage_below_the_floor_is_grey_with_a_provisional_score():
    b = bare()
    b.name_champion("c", "named", ago(10))
    b.add(Touchpoint("tp", ago(1), True, frozenset({"executive_sponsor"})))
    health = at_t(b)

    assert health.coverage == pytest.approx(0.45)  # C2 20 + C5 15 + C6 10
    assert health.band == "grey"
    assert health.score == 100


def test_coverage_at_the_floor_is_not_grey():
    model = HealthModel(coverage_floor=0.45)
    assert evaluate(model, bare().build(), T).band != "grey"


def test_onboarding_profile_applies_in_the_first_90_days():
    b = acme()
    b.set_contract(ago(30), 1_200_000.0)
    health = at_t(b)
    assert health.profile == "onboarding"
    assert [c.weight for c in health.components] == [30, 15, 15, 10, 25, 5]

    b.set_contract(ago(90), 1_200_000.0)
    assert at_t(b).profile == "established"


# Gates ---------------------------------------------------------------------------------------


def healthy() -> FactsBuilder:
    """A green account: everything at 100 except what a test adds."""
    b = FactsBuilder("green", contract_start=ago(400), arr=500_000.0)
    b.name_champion("c", "named", ago(400))
    b.add(Touchpoint("tp", ago(1), True, frozenset({"executive_sponsor"})))
    b.add(UsageReport("u", ago(1), 90, 100))
    b.put(Invoice("i0", "ie0", ago(100), ago(70), 1.0, paid_at=ago(71)))
    return b


def test_healthy_account_is_green_without_gates():
    health = at_t(healthy())
    assert (health.score, health.band, health.gates) == (100, "green", ())


def test_g1_open_p1_escalation_older_than_24h_caps_at_74():
    b = healthy()
    b.put(Ticket("p1", "e", ago(3), "urgent").escalated("esc-p1", T - 23 * HOUR))
    assert gate_keys(at_t(b)) == []

    b.put(Ticket("p1", "e", ago(3), "urgent").escalated("esc-p1", T - 25 * HOUR))
    health = at_t(b)
    (gate,) = health.gates
    assert (gate.key, gate.cap, gate.evidence, gate.binding) == ("G1", 74, "esc-p1", True)
    assert gate.since == T - HOUR
    assert (health.score, health.band) == (74, "yellow")


def test_g1_p1_or_p2_breach_in_the_last_7_days_caps_at_74():
    b = healthy()
    target(b, "x", "first_response", "normal", ago(1), None, "brk-x")  # P3: no gate
    target(b, "y", "first_response", "high", ago(7), None, "brk-y")  # 7 days: outside
    assert gate_keys(at_t(b)) == []

    target(b, "z", "resolution", "high", ago(6), ago(5), "brk-z")
    health = at_t(b)
    assert gate_keys(health) == ["G1"]
    assert health.gates[0].evidence == "brk-z"
    assert health.gates[0].since == ago(6)
    assert health.score <= 74


def test_g2_renewal_at_risk_caps_at_49_red_with_the_actor():
    b = healthy()
    b.add(RenewalRiskSet("risk", ago(2), "at_risk", "staff:ann"))
    health = at_t(b)
    (gate,) = health.gates
    assert (gate.key, gate.cap, gate.actor, gate.evidence) == ("G2", 49, "staff:ann", "risk")
    assert gate.reason == "renewal risk set to at_risk by staff:ann on 2026-06-28"
    assert (health.score, health.band, health.value, health.h0) == (49, "red", 49, 100)

    b.add(RenewalRiskSet("risk2", ago(1), "none", "staff:ann"))
    assert at_t(b).gates == ()


def test_g2_churn_notice_and_g3_early_warning():
    b = healthy()
    b.add(RenewalRiskSet("risk", ago(2), "churn_notice", "staff:bo"))
    assert gate_keys(at_t(b)) == ["G2"]
    b.add(RenewalRiskSet("warn", ago(1), "early_warning", "staff:bo"))
    health = at_t(b)
    assert gate_keys(health) == ["G3"]
    assert health.score == 74


def test_a_gate_above_the_score_changes_nothing():
    b = acme()
    b.add(RenewalRiskSet("warn", ago(1), "early_warning", "staff:ann"))
    health = at_t(b)
    assert gate_keys(health) == ["G3"]
    assert health.gates[0].binding is False
    assert health.value == health.h0 == pytest.approx(ACME_H0)
    assert (health.score, health.band) == (68, "yellow")


def test_g4_uncured_payment_failure_caps_at_74_until_paid():
    b = healthy()
    b.put(Invoice("i1", "ie1", ago(20), ago(5), 1.0))
    b.add(PaymentFailure("fail", ago(4), "i1"))
    health = at_t(b)
    assert gate_keys(health) == ["G4"]
    assert (health.gates[0].evidence, health.gates[0].since) == ("fail", ago(4))
    assert health.score == 74

    b.put(replace(b.invoice("i1"), paid_at=ago(1)))
    assert at_t(b).gates == ()


def test_g4_failure_without_invoice_is_cured_by_any_later_payment():
    b = healthy()
    b.add(PaymentFailure("fail", ago(80)))  # i0 was paid at T-71d
    assert at_t(b).gates == ()
    b.add(PaymentFailure("fail2", ago(60)))
    assert gate_keys(at_t(b)) == ["G4"]


def test_g4_invoice_overdue_more_than_60_days():
    b = healthy()
    b.put(Invoice("i1", "ie1", ago(90), ago(60), 1.0))
    assert gate_keys(at_t(b)) == []
    b.put(Invoice("i1", "ie1", ago(90), ago(61), 1.0))
    health = at_t(b)
    assert gate_keys(health) == ["G4"]
    assert health.gates[0].since == ago(1)


def test_g5_champion_left_in_the_last_30_days_without_replacement():
    b = healthy()
    b.end_champion("c", "left", ago(10), left=True)
    health = at_t(b)
    assert gate_keys(health) == ["G5"]
    assert (health.gates[0].evidence, health.gates[0].since) == ("left", ago(10))
    assert sub(health, "E3") == 0.0
    assert health.score == 74
    assert gate_keys(evaluate(DEFAULT_MODEL, b.build(), ago(10) + timedelta(days=30))) == []

    b.name_champion("c2", "named2", ago(5))
    assert gate_keys(at_t(b)) == []


def test_g5_not_raised_when_the_champion_role_is_only_removed():
    b = healthy()
    b.end_champion("c", "removed", ago(10), left=False)
    health = at_t(b)
    assert gate_keys(health) == []
    assert sub(health, "E3") == 0.0


def test_the_lowest_active_cap_wins_and_every_gate_is_listed():
    b = healthy()
    b.add(RenewalRiskSet("risk", ago(2), "at_risk", "staff:ann"))
    b.end_champion("c", "left", ago(10), left=True)
    health = at_t(b)
    assert gate_keys(health) == ["G2", "G5"]
    assert health.score == 49


# Model document ------------------------------------------------------------------------------


def test_model_document_round_trips_through_json():
    document = json.loads(json.dumps(DEFAULT_MODEL.to_document()))
    assert HealthModel.from_document(document) == DEFAULT_MODEL


def test_model_document_may_omit_keys():
    model = HealthModel.from_document({
        "version": 2, "weights": {"established": {"C1": 0}},
        "thresholds": {"E1": {"healthy": 14}}, "bands": {"green": 80}})
    assert model.version == 2
    assert (model.established["C1"], model.established["C2"]) == (0, 20)
    assert model.thresholds["E1"] == (60.0, 14.0)
    assert (model.green, model.yellow, model.caps["G2"]) == (80, 50, 49)
    assert HealthModel.from_document({}) == DEFAULT_MODEL


def test_zero_weight_component_is_outside_coverage():
    model = HealthModel.from_document({"weights": {"established": {"C1": 0}}})
    health = evaluate(model, acme(usage=False).build(), T)
    assert health.coverage == 1.0


@pytest.mark.parametrize(("document", "message"), [
    ({"weights": {"established": {"C1": -1}}}, "must be a finite number >= 0"),
    ({"weights": {"onboarding": dict.fromkeys(["C1", "C2", "C3", "C4", "C5", "C6"], 0)}},
     "weights of profile onboarding are all zero"),
    ({"thresholds": {"U1": {"poor": 0.5, "healthy": 0.5}}}, "poor and healthy must differ"),
    ({"bands": {"green": 50, "yellow": 60}}, "bands out of order"),
    ({"bands": {"green": 101}}, "bands out of order"),
    ({"caps": {"G2": 120}}, "cap of G2 must be within 0-100"),
    ({"caps": {"G1": -1}}, "cap of G1 must be within 0-100"),
    ({"colour": "red"}, "unknown key 'colour' in model document"),
    ({"weights": {"established": {"C7": 1}}}, "unknown key 'C7' in weights.established"),
    ({"weights": {"trial": {}}}, "unknown key 'trial' in weights"),
    ({"thresholds": {"U1": {"low": 1}}}, "unknown key 'low' in thresholds.U1"),
    ({"caps": {"G9": 10}}, "unknown key 'G9' in caps"),
    ({"weights": {"established": {"C1": "20"}}}, "weights.established.C1 must be a finite"),
    ({"caps": {"G1": True}}, "caps.G1 must be a finite number"),
    ({"coverage_floor": 1.5}, "coverage_floor must be within 0-1"),
    ({"hysteresis_closes": 0}, "hysteresis_closes must be an integer >= 1"),
    ({"csat_min_responses": 2.5}, "csat_min_responses must be an integer"),
    ({"version": 0}, "model version must be a positive integer"),
    ({"weights": []}, "weights must be an object"),
])
def test_model_document_validation_errors(document, message):
    with pytest.raises(InvalidInputError, match=message):
        HealthModel.from_document(document)


def test_model_document_must_be_an_object():
    with pytest.raises(InvalidInputError, match="model document must be an object"):
        HealthModel.from_document([])  # type: ignore[arg-type]


# Explaining a change -------------------------------------------------------------------------


def test_change_decomposes_exactly_for_the_worked_example_and_a_gate():
    before = at_t(acme())
    b = acme(usage=False)
    b.add(RenewalRiskSet("risk", ago(1), "at_risk", "staff:ann"))
    after = at_t(b)

    change = explain_change(before, after)
    total = sum(c.score_effect + c.renormalisation_effect for c in change.components)
    assert math.isclose(total + change.gate_effect, after.value - before.value, abs_tol=1e-9)
    assert change.gate_effect == pytest.approx(49 - after.h0)
    c1 = change.components[0]
    assert c1.score_effect == 0.0
    assert c1.renormalisation_effect == pytest.approx(-0.2 * ACME_C1)
    assert change.score_delta == 49 - 68
    assert math.isclose(change.value_delta + change.rounding_effect, change.score_delta)
    json.dumps(change.to_dict())


def random_facts(rng: random.Random) -> AccountFacts:
    b = FactsBuilder("r", contract_start=ago(rng.uniform(0, 800)) if rng.random() < 0.8 else None,
                     arr=rng.choice([0.0, 100_000.0, 2_000_000.0]))
    for n in range(rng.randint(0, 40)):
        opened = ago(rng.uniform(-10, 500))
        t = Ticket(f"t{n}", f"e{n}", opened, rng.choice(["urgent", "high", "normal", "low"]))
        if rng.random() < 0.3:
            t = t.escalated(f"esc{n}", opened + timedelta(hours=rng.uniform(0, 48)))
        if rng.random() < 0.7:
            t = t.resolved(f"r{n}", opened + timedelta(days=rng.uniform(0, 20)))
        b.put(t)
        for kind in ("first_response", "resolution"):
            due = opened + timedelta(hours=rng.uniform(1, 200))
            met = due + timedelta(hours=rng.uniform(-50, 50)) if rng.random() < 0.8 else None
            b.put(SlaTarget(t.ticket_id, kind, t.priority, f"s{n}{kind}", due,
                            met if met is None or met > opened else opened))
    for n in range(rng.randint(0, 8)):
        b.add(CsatResponse(f"c{n}", ago(rng.uniform(0, 120)), rng.randint(1, 5)))
    for n in range(rng.randint(0, 6)):
        b.add(NpsResponse(f"n{n}", f"k{rng.randint(0, 3)}", ago(rng.uniform(0, 200)),
                          rng.randint(0, 10), rng.random() < 0.3))
    for n in range(rng.randint(0, 6)):
        roles = frozenset(rng.sample(["champion", "executive_sponsor", "user"], rng.randint(0, 2)))
        b.add(Touchpoint(f"p{n}", ago(rng.uniform(0, 150)), rng.random() < 0.7, roles))
    for n in range(rng.randint(0, 6)):
        b.add(UsageReport(f"u{n}", ago(rng.uniform(0, 70)), rng.randint(0, 120),
                          rng.choice([None, 100])))
    if rng.random() < 0.7:
        b.name_champion("ch", "named", ago(rng.uniform(30, 400)))
        if rng.random() < 0.5:
            b.end_champion("ch", "left", ago(rng.uniform(0, 30)), left=rng.random() < 0.7)
    for n in range(rng.randint(0, 4)):
        issued = ago(rng.uniform(0, 200))
        paid = issued + timedelta(days=rng.uniform(0, 120)) if rng.random() < 0.7 else None
        b.put(Invoice(f"i{n}", f"ie{n}", issued, issued + timedelta(days=30), 1.0, paid))
    if rng.random() < 0.3:
        b.add(PaymentFailure("f", ago(rng.uniform(0, 50)), rng.choice([None, "i0"])))
    if rng.random() < 0.3:
        b.add(ContractionRequest("cut", ago(rng.uniform(0, 120))))
    if rng.random() < 0.5:
        b.add(RenewalRiskSet("risk", ago(rng.uniform(0, 50)), rng.choice(
            ["none", "early_warning", "at_risk", "churn_notice"]), "staff:x"))
    return b.build()


@pytest.mark.parametrize("seed", range(200))
def test_change_decomposition_is_exact_on_random_inputs(seed):
    rng = random.Random(seed)
    first, second = random_facts(rng), random_facts(rng)
    before = evaluate(DEFAULT_MODEL, first, ago(rng.uniform(0, 10)), rng.choice([None, 1.0]))
    after = evaluate(DEFAULT_MODEL, second, T, rng.choice([None, 2.0]))

    change = explain_change(before, after)
    total = sum(c.score_effect + c.renormalisation_effect for c in change.components)
    assert math.isclose(total + change.gate_effect, after.value - before.value,
                        rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(change.value_delta + change.rounding_effect, change.score_delta,
                        rel_tol=1e-9, abs_tol=1e-9)
    assert 0 <= after.value <= after.h0 <= 100 + 1e-9
    assert 0 <= after.coverage <= 1
    json.dumps(after.to_dict())


# Hysteresis and trend ------------------------------------------------------------------------


def fake_health(score: float, band: str | None = None, h0: float | None = None) -> Health:
    value = float(score)
    return Health("a", T, round_half_up(value), value, h0 if h0 is not None else value, 1.0,
                  band or DEFAULT_MODEL.band(round_half_up(value)), "established", 1,
                  (), (), ())


DAY1 = date(2026, 6, 1)


def closes(*healths: Health) -> list[Close]:
    result: list[Close] = []
    for n, health in enumerate(healths):
        result.append(confirm(result[-1] if result else None, health, DAY1 + timedelta(days=n)))
    return result


def test_first_close_confirms_its_band():
    (close,) = closes(fake_health(80))
    assert (close.band, close.confirmed_band, close.gated, close.streak) == (
        "green", "green", False, 1)


def test_a_new_band_is_confirmed_after_two_consecutive_closes():
    result = closes(fake_health(80), fake_health(73), fake_health(72), fake_health(71))
    assert [c.band for c in result] == ["green", "yellow", "yellow", "yellow"]
    assert [c.confirmed_band for c in result] == ["green", "green", "yellow", "yellow"]


def test_a_one_day_dip_does_not_change_the_confirmed_band():
    result = closes(fake_health(80), fake_health(74), fake_health(78), fake_health(74))
    assert [c.confirmed_band for c in result] == ["green"] * 4


def test_a_drop_of_10_points_is_confirmed_at_once():
    result = closes(fake_health(80), fake_health(70))
    assert result[1].confirmed_band == "yellow"
    result = closes(fake_health(80), fake_health(71))
    assert result[1].confirmed_band == "green"


def test_a_gate_that_caps_into_a_band_is_confirmed_at_once():
    gated = fake_health(49, h0=80)
    result = closes(fake_health(80), gated)
    assert (result[1].band, result[1].confirmed_band, result[1].gated) == ("red", "red", True)


def test_a_binding_gate_that_does_not_change_the_band_is_not_a_shortcut():
    result = closes(fake_health(70), fake_health(76, h0=90), fake_health(74))
    assert (result[1].gated, result[1].band) == (True, "green")
    assert [c.confirmed_band for c in result] == ["yellow", "yellow", "yellow"]


def test_recovery_from_a_gate_needs_two_closes():
    result = closes(fake_health(80), fake_health(49, h0=80), fake_health(80), fake_health(80))
    assert [c.confirmed_band for c in result] == ["green", "red", "red", "green"]


def test_grey_needs_two_closes_and_is_never_immediate():
    result = closes(fake_health(80), fake_health(60, band="grey"),
                    fake_health(60, band="grey"))
    assert [c.confirmed_band for c in result] == ["green", "green", "grey"]


def test_leaving_grey_by_a_drop_is_immediate():
    result = closes(fake_health(80, band="grey"), fake_health(60))
    assert result[1].confirmed_band == "yellow"


def test_hysteresis_closes_come_from_the_model():
    model = HealthModel(hysteresis_closes=3)
    c1 = confirm(None, fake_health(80), DAY1, model)
    c2 = confirm(c1, fake_health(73), DAY1 + timedelta(days=1), model)
    c3 = confirm(c2, fake_health(73), DAY1 + timedelta(days=2), model)
    c4 = confirm(c3, fake_health(73), DAY1 + timedelta(days=3), model)
    assert [c.confirmed_band for c in (c1, c2, c3, c4)] == ["green", "green", "green", "yellow"]


def test_confirm_refuses_a_close_that_does_not_follow_the_previous():
    (close,) = closes(fake_health(80))
    with pytest.raises(InvalidInputError, match="must follow"):
        confirm(close, fake_health(80), DAY1)


def daily(scores: list[int]) -> list[Close]:
    return [Close(DAY1 + timedelta(days=n), s, float(s), DEFAULT_MODEL.band(s),
                  DEFAULT_MODEL.band(s), False) for n, s in enumerate(scores)]


@pytest.mark.parametrize(("now", "week_ago", "arrow"), [
    (73, 70, "up"), (72, 70, "flat"), (68, 70, "flat"), (67, 70, "down")])
def test_trend_arrow_from_the_7_day_delta(now, week_ago, arrow):
    scores = [50] * 23 + [week_ago] * 7 + [now]
    day = DAY1 + timedelta(days=30)
    assert trend(daily(scores), day) == (now - week_ago, now - 50, arrow)


def test_trend_uses_the_latest_close_on_or_before_each_day():
    history = daily(list(range(40)))[::2]  # closes on every other day, score = day number
    day = DAY1 + timedelta(days=39)
    # day 39 -> the close of day 38; day 32 -> its own close; day 9 -> the close of day 8
    assert trend(history, day) == (38 - 32, 38 - 8, "up")


def test_trend_without_history_is_flat():
    assert trend(daily([60, 61]), DAY1 + timedelta(days=1)) == (None, None, "flat")
    assert trend([], DAY1) == (None, None, "flat")


# Performance ---------------------------------------------------------------------------------


def big_account() -> AccountFacts:
    rng = random.Random(7)
    b = acme()
    for n in range(100):
        opened = ago(rng.uniform(0, 500))
        t = Ticket(f"x{n}", f"xe{n}", opened, rng.choice(["urgent", "high", "normal", "low"]))
        if n % 10 == 0:
            t = t.escalated(f"xesc{n}", opened + HOUR)
        b.put(t.resolved(f"xr{n}", opened + timedelta(days=3)))
        b.put(SlaTarget(t.ticket_id, "first_response", t.priority, f"xs{n}",
                        opened + HOUR, opened + HOUR * rng.uniform(0.5, 1.5)))
        b.put(SlaTarget(t.ticket_id, "resolution", t.priority, f"xt{n}",
                        opened + 48 * HOUR, opened + HOUR * rng.uniform(10, 60)))
    for n in range(30):
        b.add(CsatResponse(f"xc{n}", ago(rng.uniform(0, 300)), rng.randint(1, 5)))
        b.add(UsageReport(f"xu{n}", ago(n * 7), 60 + n, 100))
        b.add(Touchpoint(f"xp{n}", ago(n * 10), n % 2 == 0))
    return b.build()


def test_evaluate_is_fast_for_an_account_with_100_tickets():
    facts = big_account()
    evaluate(DEFAULT_MODEL, facts, T)  # builds the index once
    days = [T - timedelta(days=n) for n in range(400)]

    def history() -> None:
        for at in days:
            evaluate(DEFAULT_MODEL, facts, at)

    best = min(timeit.repeat(history, number=1, repeat=5)) / len(days) * 1e6
    print(f"\nevaluate: {best:.1f} us per call, best of 5 x 400 days "
          f"({len(facts.tickets)} tickets, {len(facts.sla_targets)} SLA targets)")
    assert best < 1000  # generous, to stay stable on a loaded CI machine
