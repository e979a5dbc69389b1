"""Revenue-linked KPIs: ARR over time, movements, GRR / NRR, waterfall, portfolio figures.

Expected numbers are worked out by hand in the comments; ratios are 28 significant digits.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.values import Channel, Priority, RenewalLikelihood
from projections.revenue_math import (
    DEFAULT_COST_RATES,
    GROSS_BASIS,
    NET_BASIS,
    AccountSnapshot,
    Band,
    CostRates,
    Flows,
    Likelihood,
    Movement,
    RenewalFactors,
    Retention,
    RevenueTimeline,
    arr_by_band,
    arr_waterfall,
    classify,
    cost_to_serve,
    expected_renewal,
    renewal_rate,
    retention,
    revenue_at_risk,
    share_by_band,
    ticket_intensity,
    top_n,
    weighted_csat,
    weighted_health,
    weighted_sla_attainment,
)

D = Decimal
T0 = date(2026, 1, 1)
T1 = date(2026, 12, 31)


def timeline(account_id, *revenue, churns=(), returns=()):
    return RevenueTimeline(account_id, [(when, D(mrr)) for when, mrr in revenue],
                           churns=churns, returns=returns)


# ARR over time ----------------------------------------------------------------------------


def test_a_months_mrr_applies_from_the_first_and_carries_forward_over_gaps():
    acme = timeline("acme", ("2026-01", "1000"), ("2026-04", "1500"))

    assert acme.arr_at(date(2025, 12, 31)) == 0
    assert acme.arr_at(date(2026, 1, 1)) == D("12000")
    assert acme.arr_at(date(2026, 3, 31)) == D("12000")  # February and March carry January
    assert acme.arr_at(date(2026, 4, 1)) == D("18000")
    assert acme.arr_at(date(2030, 1, 1)) == D("18000")


def test_a_churn_sets_arr_to_zero_from_its_date_and_stops_the_carry_forward():
    acme = timeline("acme", ("2026-01", "1000"), churns=[date(2026, 2, 10)])

    assert acme.arr_at(date(2026, 2, 9)) == D("12000")
    assert acme.arr_at(date(2026, 2, 10)) == 0
    assert acme.arr_at(date(2026, 9, 1)) == 0


def test_a_record_dated_after_the_churn_brings_the_account_back():
    acme = timeline("acme", ("2026-01", "1000"), ("2026-04", "800"), churns=[date(2026, 2, 10)])

    assert acme.arr_at(date(2026, 3, 31)) == 0
    assert acme.arr_at(date(2026, 4, 1)) == D("9600")


def test_a_record_for_the_month_of_the_churn_does_not_bring_the_account_back():
    acme = timeline("acme", ("2026-01", "1000"), ("2026-02", "1200"), churns=[date(2026, 2, 10)])

    assert acme.arr_at(date(2026, 2, 5)) == D("14400")
    assert acme.arr_at(date(2026, 2, 28)) == 0


def test_a_churn_wins_over_a_record_on_the_same_day():
    acme = timeline("acme", ("2026-03", "1000"), churns=[date(2026, 3, 1)])

    assert acme.arr_at(date(2026, 3, 1)) == 0
    assert not acme.had_arr_before(date(2026, 4, 1))


def test_a_return_date_reapplies_the_mrr_in_force():
    acme = timeline("acme", ("2026-01", "1000"), churns=[date(2026, 2, 10)],
                    returns=[date(2026, 3, 15)])

    assert acme.arr_at(date(2026, 3, 14)) == 0
    assert acme.arr_at(date(2026, 3, 15)) == D("12000")


def test_a_period_recorded_twice_takes_the_last_amount():
    acme = timeline("acme", ("2026-01", "1000"), ("2026-01", "1100"))

    assert acme.arr_at(date(2026, 1, 1)) == D("13200")
    assert acme.steps == ((date(2026, 1, 1), D("13200")),)


def test_dated_records_and_datetimes_count_on_their_own_day():
    acme = timeline("acme", (date(2026, 1, 15), "500"),
                    churns=[datetime(2026, 2, 10, 23, 30, tzinfo=UTC)])

    assert acme.arr_at(date(2026, 1, 14)) == 0
    assert acme.arr_at(datetime(2026, 1, 15, 8, 0, tzinfo=UTC)) == D("6000")
    assert acme.arr_at(date(2026, 2, 10)) == 0


@pytest.mark.parametrize(("revenue", "error"), [
    ([("2026-01", 1000.0)], TypeError),
    ([("2026-01", 1000)], TypeError),
    ([("2026-01", D("-1"))], ValueError),
    ([("2026-01", D("NaN"))], ValueError),
    ([("2026-13", D("1"))], ValueError),
    ([("2026-1", D("1"))], ValueError),
])
def test_a_timeline_refuses_bad_records(revenue, error):
    with pytest.raises(error):
        RevenueTimeline("acme", revenue)


# Movement classes -------------------------------------------------------------------------


@pytest.mark.parametrize(("acme", "movement"), [
    (timeline("acme", ("2026-03", "100")), Movement.NEW),
    (timeline("acme", ("2025-06", "100"), ("2026-06", "150")), Movement.EXPANSION),
    (timeline("acme", ("2025-06", "100"), ("2026-06", "60")), Movement.CONTRACTION),
    (timeline("acme", ("2025-06", "100"), churns=[date(2026, 5, 1)]), Movement.CHURN),
    (timeline("acme", ("2025-06", "100"), ("2026-05", "0")), Movement.CHURN),
    (timeline("acme", ("2025-03", "100"), ("2026-04", "120"), churns=[date(2025, 9, 1)]),
     Movement.RESURRECTION),
    (timeline("acme", ("2025-06", "100"), ("2026-06", "100.00")), Movement.FLAT),
    (timeline("acme", ("2025-06", "100"), ("2026-05", "100"), churns=[date(2026, 3, 1)]),
     Movement.FLAT),
    (timeline("acme"), Movement.NONE),
    (timeline("acme", ("2026-03", "100"), churns=[date(2026, 6, 1)]), Movement.NONE),
    (timeline("acme", ("2027-01", "100")), Movement.NONE),
])
def test_classify_compares_the_period_end_values(acme, movement):
    assert classify(acme, T0, T1) is movement


def test_classify_refuses_a_period_that_ends_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        classify(timeline("acme"), T1, T0)


# Retention --------------------------------------------------------------------------------


def cohort():
    return [
        # A: 12,000 -> 18,000: expansion 6,000
        timeline("A", ("2025-06", "1000"), ("2026-07", "1500")),
        # B: 24,000 -> 18,000: contraction 6,000
        timeline("B", ("2025-01", "2000"), ("2026-04", "1500")),
        # C: 6,000 -> 0: churn 6,000
        timeline("C", ("2025-01", "500"), churns=[date(2026, 3, 15)]),
        # D: 12,000, churns in February, back in May at 12,000: flat, stays in the cohort
        timeline("D", ("2025-01", "1000"), ("2026-05", "1000"), churns=[date(2026, 2, 1)]),
        # E: new logo, 36,000
        timeline("E", ("2026-02", "3000")),
        # F: customer in 2024, back in September 2026 at 3,000: resurrection
        timeline("F", ("2024-01", "400"), ("2026-09", "250"), churns=[date(2024, 6, 1)]),
        # G: not yet a customer
        timeline("G", ("2027-01", "900")),
    ]


def test_retention_of_the_start_cohort_by_hand():
    r = retention(cohort(), T0, T1)

    # S = 12,000 + 24,000 + 6,000 + 12,000; at the end the cohort has 18,000 + 18,000 + 0 + 12,000
    assert (r.cohort_logos, r.starting_arr, r.cohort_ending_arr) == (4, D("54000"), D("48000"))
    assert r.flows == Flows(new=D("36000"), resurrection=D("3000"), expansion=D("6000"),
                            contraction=D("6000"), churn=D("6000"))
    assert r.grr == D("0.7777777777777777777777777778")  # 42,000 / 54,000 = 7/9
    assert r.grr_uncapped == r.grr
    assert not r.grr_over_cap
    assert r.nrr == D("0.8888888888888888888888888889")  # 48,000 / 54,000 = 8/9
    assert r.gross_revenue_churn == D("0.2222222222222222222222222222")
    assert r.net_revenue_churn == D("0.1111111111111111111111111111")
    assert (r.churned_logos, r.logo_churn) == (1, D("0.25"))
    assert (r.new_logos, r.resurrected_logos) == (1, 1)
    assert r.ending_arr == D("87000")  # 48,000 + 36,000 new + 3,000 resurrected
    assert r.basis == NET_BASIS


def test_new_logos_and_resurrections_stay_out_of_the_cohort_ratios():
    with_new = retention(cohort(), T0, T1)
    without = retention([t for t in cohort() if t.account_id not in {"E", "F"}], T0, T1)

    assert (with_new.grr, with_new.nrr, with_new.logo_churn) == (
        without.grr, without.nrr, without.logo_churn)
    assert without.flows.new == without.flows.resurrection == 0


def test_an_account_that_churned_and_came_back_counts_by_its_end_value():
    back_smaller = timeline("D", ("2025-01", "1000"), ("2026-05", "800"),
                            churns=[date(2026, 2, 1)])

    r = retention([back_smaller], T0, T1)

    assert (r.cohort_logos, r.churned_logos) == (1, 0)
    assert r.flows == Flows(contraction=D("2400"))
    assert r.nrr == r.grr == D("0.8")


def test_ratios_are_none_without_starting_arr():
    r = retention([timeline("E", ("2026-02", "3000"))], T0, T1)

    assert (r.starting_arr, r.cohort_logos, r.flows.new) == (0, 0, D("36000"))
    assert r.grr is r.grr_uncapped is r.nrr is r.logo_churn is None
    assert r.gross_revenue_churn is r.net_revenue_churn is None
    assert not r.grr_over_cap


def test_expansion_gives_nrr_above_one_and_negative_net_churn_but_grr_stays_at_one():
    r = retention([timeline("A", ("2025-06", "1000"), ("2026-07", "1500"))], T0, T1)

    assert (r.grr, r.nrr, r.net_revenue_churn) == (D("1"), D("1.5"), D("-0.5"))


def test_an_inconsistent_grr_is_capped_and_flagged():
    broken = Retention(start=T0, end=T1, cohort_logos=1, starting_arr=D("100"),
                       cohort_ending_arr=D("110"), flows=Flows(contraction=D("-10")),
                       churned_logos=0, new_logos=0, resurrected_logos=0)

    assert (broken.grr, broken.grr_uncapped, broken.grr_over_cap) == (D("1"), D("1.1"), True)
    assert broken.gross_revenue_churn == 0


def test_retention_refuses_an_account_given_twice():
    with pytest.raises(ValueError, match="twice"):
        retention([timeline("A"), timeline("A")], T0, T1)


def random_timeline(rng, account_id):
    revenue = [(f"{rng.randint(2024, 2027)}-{rng.randint(1, 12):02d}",
                D(rng.choice([0, rng.randint(1, 900_000)])) / 100)
               for _ in range(rng.randint(0, 8))]
    start = date(2024, 1, 1)
    churns = [start + timedelta(days=rng.randint(0, 1400)) for _ in range(rng.randint(0, 2))]
    returns = [start + timedelta(days=rng.randint(0, 1400)) for _ in range(rng.randint(0, 1))]
    return RevenueTimeline(account_id, revenue, churns=churns, returns=returns)


@pytest.mark.parametrize("seed", range(40))
def test_grr_never_exceeds_one_and_the_arr_bridges_balance(seed):
    rng = random.Random(seed)
    timelines = [random_timeline(rng, f"acct-{i}") for i in range(rng.randint(1, 25))]
    t0 = date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
    t1 = t0 + timedelta(days=rng.randint(0, 700))

    r = retention(timelines, t0, t1)
    w = arr_waterfall(timelines, t0, t1)

    total_at_end = sum((t.arr_at(t1) for t in timelines), D(0))
    if r.starting_arr:
        assert r.grr_uncapped is not None
        assert 0 <= r.grr_uncapped <= 1
        assert r.grr == r.grr_uncapped
        assert r.nrr is not None
        assert r.nrr >= r.grr
    else:
        assert r.grr is None
    f = r.flows
    assert r.starting_arr + f.expansion - f.contraction - f.churn == r.cohort_ending_arr
    assert r.starting_arr + f.net == r.ending_arr == total_at_end
    assert w.opening == r.starting_arr
    assert w.closing == total_at_end
    for step, following in zip(w.steps, w.steps[1:], strict=False):
        assert step.closing == following.opening


# Waterfall --------------------------------------------------------------------------------


def waterfall_accounts():
    return [
        # X: 12,000 -> contracts to 9,600 in February -> back to 12,000 in April
        timeline("X", ("2025-12", "1000"), ("2026-02", "800"), ("2026-04", "1000")),
        # Y: new in March at 6,000
        timeline("Y", ("2026-03", "500")),
        # Z: 1,200, churns 20 January, back in March at 1,200
        timeline("Z", ("2025-01", "100"), ("2026-03", "100"), churns=[date(2026, 1, 20)]),
    ]


def test_the_waterfall_sums_month_to_month_movements():
    w = arr_waterfall(waterfall_accounts(), T0, date(2026, 4, 30))

    assert w.basis == GROSS_BASIS
    assert [(s.period, s.start, s.end) for s in w.steps] == [
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-02", date(2026, 1, 31), date(2026, 2, 28)),
        ("2026-03", date(2026, 2, 28), date(2026, 3, 31)),
        ("2026-04", date(2026, 3, 31), date(2026, 4, 30)),
    ]
    assert [s.flows for s in w.steps] == [
        Flows(churn=D("1200")),
        Flows(contraction=D("2400")),
        Flows(new=D("6000"), resurrection=D("1200")),
        Flows(expansion=D("2400")),
    ]
    assert [(s.opening, s.closing) for s in w.steps] == [
        (D("13200"), D("12000")), (D("12000"), D("9600")), (D("9600"), D("16800")),
        (D("16800"), D("19200")),
    ]
    assert w.flows == Flows(new=D("6000"), resurrection=D("1200"), expansion=D("2400"),
                            contraction=D("2400"), churn=D("1200"))
    assert (w.opening, w.closing) == (D("13200"), D("19200"))


def test_the_period_end_comparison_of_the_same_accounts_nets_the_moves_out():
    r = retention(waterfall_accounts(), T0, date(2026, 4, 30))

    assert r.flows == Flows(new=D("6000"))
    assert (r.cohort_logos, r.churned_logos, r.nrr) == (2, 0, D("1"))


@pytest.mark.parametrize(("t0", "t1", "periods"), [
    (date(2026, 1, 15), date(2026, 3, 10), ["2026-01", "2026-02", "2026-03"]),
    (date(2026, 1, 31), date(2026, 3, 31), ["2026-02", "2026-03"]),
    (date(2025, 12, 31), date(2026, 1, 1), ["2026-01"]),
    (date(2026, 5, 5), date(2026, 5, 5), []),
])
def test_waterfall_steps_end_at_month_ends_inside_the_period_and_at_its_end(t0, t1, periods):
    w = arr_waterfall(waterfall_accounts(), t0, t1)

    assert [s.period for s in w.steps] == periods
    assert w.steps == () or (w.steps[0].start, w.steps[-1].end) == (t0, t1)
    assert w.closing == sum((t.arr_at(t1) for t in waterfall_accounts()), D(0))


# Portfolio figures ------------------------------------------------------------------------

AS_OF = date(2026, 1, 1)


def portfolio():
    return [
        AccountSnapshot("a1", D("400000"), Band.RED, health_score=30, csat_satisfied=2,
                        csat_unsatisfied=2, sla_breach_rate=D("0.5"),
                        renewal_date=date(2026, 3, 1), renewal_likelihood=Likelihood.LOW,
                        tickets=20),
        AccountSnapshot("a2", D("300000"), Band.RED, health_score=45, csat_satisfied=9,
                        csat_unsatisfied=1, renewal_date=date(2026, 5, 15), tickets=6),
        AccountSnapshot("a3", D("200000"), Band.RED, csat_satisfied=1, csat_unsatisfied=1,
                        sla_breach_rate=D("0.1")),
        AccountSnapshot("a4", D("100000"), Band.YELLOW, health_score=70, csat_satisfied=3,
                        sla_breach_rate=D("0"), renewal_date=date(2026, 2, 1),
                        renewal_likelihood=Likelihood.MEDIUM, tickets=4),
        AccountSnapshot("a5", D("1000000"), Band.GREEN, health_score=90,
                        sla_breach_rate=D("0.02"), renewal_date=date(2026, 12, 31),
                        renewal_likelihood=Likelihood.HIGH),
        AccountSnapshot("a6", D("50000"), Band.GREY),
    ]  # 2,050,000 of ARR in all


def test_top_n_ranks_by_arr_then_account_id():
    tied = [*portfolio(), AccountSnapshot("a0", D("300000"), Band.GREEN)]

    assert [s.account_id for s in top_n(tied, 4)] == ["a5", "a1", "a0", "a2"]
    assert top_n(tied, 0) == []
    assert len(top_n(tied, 100)) == 7


def test_revenue_at_risk_by_horizon_with_the_undated_and_all_red_beside_it():
    rar = revenue_at_risk(portfolio(), AS_OF)

    # a1 renews in 59 days, a2 in 134, a3 has no renewal date
    assert rar.by_horizon == {90: D("400000"), 180: D("700000")}
    assert (rar.no_renewal_date, rar.all_red, rar.watch) == (
        D("200000"), D("900000"), D("100000"))


def test_an_overdue_renewal_is_inside_every_horizon():
    rar = revenue_at_risk(portfolio(), date(2026, 4, 1), horizons=(0, 30))

    assert rar.by_horizon == {0: D("400000"), 30: D("400000")}


def test_expected_renewal_uses_the_likelihood_then_the_band_default():
    e = expected_renewal(portfolio())

    # a1 low 0.25, a2 red 0.4, a3 red 0.4, a4 medium 0.5, a5 high 1, a6 grey 0.75
    # 100,000 + 120,000 + 80,000 + 50,000 + 1,000,000 + 37,500
    assert e.expected_arr == D("1387500")
    assert e.expected_loss == D("662500")
    assert e.expected_arr + e.expected_loss == e.total_arr == D("2050000")
    assert e.likelihood_arr == D("1500000")
    assert e.likelihood_coverage == D("0.7317073170731707317073170732")  # 30/41


def test_renewal_factors_are_configurable_and_checked():
    factors = RenewalFactors(band={Band.GREEN: D("1"), Band.YELLOW: D("0.5"),
                                   Band.RED: D("0.5"), Band.GREY: D("0")})

    # a2 and a3 now 0.5 (+30,000 and +20,000), a6 0 (-37,500): 1,387,500 + 12,500
    assert expected_renewal(portfolio(), factors).expected_arr == D("1400000")
    with pytest.raises(ValueError, match="red"):
        RenewalFactors(band={Band.GREEN: D("1"), Band.YELLOW: D("1"), Band.GREY: D("1")})
    with pytest.raises(ValueError, match="between 0 and 1"):
        RenewalFactors(likelihood={level: D("1.5") for level in Likelihood})


def test_revenue_weighted_health_over_the_accounts_with_a_score():
    h = weighted_health(portfolio())

    # (400k x 30 + 300k x 45 + 100k x 70 + 1,000k x 90) / 1,800k = 122.5M / 1.8M = 1225/18
    assert h.value == D("68.05555555555555555555555556")
    assert (h.accounts, h.covered_arr, h.total_arr) == (4, D("1800000"), D("2050000"))
    assert h.coverage == D("0.8780487804878048780487804878")  # 36/41


def test_revenue_weighted_csat_counts_accounts_with_enough_responses():
    c = weighted_csat(portfolio())

    # a1 2/4, a2 9/10, a4 3/3; a3 has 2 responses. (200k + 270k + 100k) / 800k
    assert c.value == D("0.7125")
    assert (c.accounts, c.covered_arr) == (3, D("800000"))
    assert c.coverage == D("0.3902439024390243902439024390")  # 16/41
    assert weighted_csat(portfolio(), min_responses=2).value == D("0.67")  # + a3 1/2 at 200k


def test_revenue_weighted_sla_attainment_over_the_accounts_with_a_breach_rate():
    s = weighted_sla_attainment(portfolio())

    # (400k x 0.5 + 200k x 0.9 + 100k x 1 + 1,000k x 0.98) / 1,700k = 73/85
    assert s.value == D("0.8588235294117647058823529412")
    assert s.coverage == D("0.8292682926829268292682926829")  # 34/41


def test_weighted_figures_are_none_without_covered_arr():
    nobody = [AccountSnapshot("a", D("0"), Band.GREY, health_score=50)]

    assert weighted_health(nobody).value is None
    assert weighted_health(nobody).coverage is None
    assert weighted_csat([]).value is None
    with pytest.raises(ValueError, match="at least 1"):
        weighted_csat(portfolio(), min_responses=0)


def test_shares_of_arr_by_band_sum_to_one():
    shares = share_by_band(portfolio())

    assert arr_by_band(portfolio()) == {Band.GREEN: D("1000000"), Band.YELLOW: D("100000"),
                                        Band.RED: D("900000"), Band.GREY: D("50000")}
    assert shares is not None
    assert shares[Band.GREEN] == D("0.4878048780487804878048780488")  # 20/41
    assert abs(sum(shares.values()) - 1) <= D("1e-27")


def test_shares_are_exact_when_the_arr_divides_evenly_and_none_without_arr():
    even = [AccountSnapshot("g", D("50"), "green"), AccountSnapshot("y", D("25"), "yellow"),
            AccountSnapshot("r", D("25"), "red")]

    assert share_by_band(even) == {Band.GREEN: D("0.5"), Band.YELLOW: D("0.25"),
                                   Band.RED: D("0.25"), Band.GREY: D("0")}
    assert sum(share_by_band(even).values()) == 1
    assert share_by_band([AccountSnapshot("z", D("0"), Band.RED)]) is None


def test_ticket_intensity_is_tickets_per_100k_arr_per_90_days():
    a1, a4 = portfolio()[0], portfolio()[3]

    assert ticket_intensity([a1], window_days=90) == D("5")  # 20 tickets / 4 x 100k
    assert ticket_intensity([a1], window_days=30) == D("15")  # the same in a third of the time
    assert ticket_intensity([a1, a4], window_days=90) == D("4.8")  # 24 / 5, pooled
    assert ticket_intensity([AccountSnapshot("z", D("0"), Band.RED, tickets=3)], 90) is None
    with pytest.raises(ValueError, match="one day"):
        ticket_intensity([a1], window_days=0)


def test_cost_to_serve_prices_tickets_by_priority_and_channel():
    acme = AccountSnapshot("acme", D("400000"), Band.GREEN, tickets=20, tickets_by_kind={
        ("urgent", "phone"): 2, ("normal", "email"): 10, ("low", "web_chat"): 8})

    cts = cost_to_serve([acme], window_days=73)

    # 2 x 50 + 10 x 12 + 8 x 6 = 268; revenue of 73 days = 400,000 x 73/365 = 80,000
    assert (cts.cost, cts.revenue, cts.ratio) == (D("268"), D("80000.00"), D("0.00335"))
    quarter = cost_to_serve([acme], window_days=90)
    # 400,000 x 90/365 = 98,630.1369...; 268 / that = 97,820 / 36,000,000
    assert quarter.revenue == D("98630.14")
    assert quarter.ratio == D("0.002717222222222222222222222222")


def test_cost_rates_are_configurable_and_a_missing_rate_is_an_error():
    acme = AccountSnapshot("acme", D("365"), Band.GREEN, tickets_by_kind={("high", "email"): 3})
    rates = CostRates({("high", "email"): D("30")})

    assert cost_to_serve([acme], 365, rates).cost == D("90")
    assert cost_to_serve([acme], 365, rates).ratio == D("0.2465753424657534246575342466")
    with pytest.raises(ValueError, match="no cost per ticket"):
        cost_to_serve([acme], 365, CostRates({}))
    assert cost_to_serve([AccountSnapshot("z", D("0"), Band.RED)], 90).ratio is None


def test_the_default_cost_table_prices_every_priority_on_every_channel():
    assert {(p.value, c.value) for p in Priority for c in Channel} == set(
        DEFAULT_COST_RATES.table)
    assert DEFAULT_COST_RATES.per_ticket("urgent", "phone") == D("50")
    assert DEFAULT_COST_RATES.per_ticket("low", "api") == D("4.5")


def test_the_renewal_rate_caps_each_renewal_at_its_due_arr_for_gross():
    rate = renewal_rate([(D("100"), D("120")), (D("200"), D("150")), (D("50"), D("0"))])

    assert (rate.due, rate.renewed, rate.renewed_up_to_due) == (D("350"), D("270"), D("250"))
    assert rate.gross == D("0.7142857142857142857142857143")  # 250/350
    assert rate.net == D("0.7714285714285714285714285714")  # 270/350
    assert renewal_rate([]).gross is None


# Inputs and exactness ---------------------------------------------------------------------


def test_money_stays_exact_where_floats_would_drift():
    dimes = [timeline(f"a{i}", ("2025-01", "0.10")) for i in range(3)]

    r = retention(dimes, T0, T1)

    assert r.starting_arr == D("3.60")  # 3 x 12 x 0.10; as floats 0.1 + 0.1 + 0.1 != 0.3
    assert str(r.starting_arr) == "3.60"
    cents = [AccountSnapshot(f"c{i}", D("0.10"), Band.GREEN) for i in range(3)]
    assert str(expected_renewal(cents).expected_arr) == "0.2850"  # 0.30 x 0.95, not rounded
    assert str(revenue_at_risk(cents, AS_OF).all_red) == "0"


def test_a_snapshot_takes_strings_for_band_and_likelihood():
    s = AccountSnapshot("a", D("1"), "red", renewal_likelihood="medium",
                        renewal_date=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))

    assert (s.band, s.renewal_likelihood, s.renewal_date) == (
        Band.RED, Likelihood.MEDIUM, date(2026, 3, 1))


def test_the_enumerations_match_the_domain():
    assert {level.value for level in Likelihood} == {v.value for v in RenewalLikelihood}


@pytest.mark.parametrize("bad", [
    {"arr": 1000.0},
    {"arr": D("-1")},
    {"band": "blue"},
    {"health_score": 101},
    {"health_score": True},
    {"sla_breach_rate": D("1.2")},
    {"sla_breach_rate": 0.1},
    {"tickets": -1},
    {"csat_satisfied": 1.0},
    {"renewal_likelihood": "certain"},
    {"tickets_by_kind": {("high", "email"): -2}},
])
def test_a_snapshot_refuses_bad_inputs(bad):
    fields = {"account_id": "a", "arr": D("1"), "band": "green", **bad}

    with pytest.raises((TypeError, ValueError)):
        AccountSnapshot(**fields)


def test_portfolio_figures_refuse_an_account_given_twice():
    twice = [AccountSnapshot("a", D("1"), Band.RED), AccountSnapshot("a", D("2"), Band.RED)]

    with pytest.raises(ValueError, match="twice"):
        revenue_at_risk(twice, AS_OF)
