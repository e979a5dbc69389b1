"""Revenue-linked KPIs as pure functions, for the revenue projection and its GraphQL fields.

Definitions follow customer-success-anchors.md section 3: ARR over time, movement classes,
GRR / NRR, the monthly ARR waterfall, and portfolio figures (revenue at risk, expected renewal,
revenue-weighted health, CSAT and SLA, share of ARR by band, ticket intensity, cost to serve).
Standard library only, no I/O.

Numbers:
- Money is `Decimal` in the one reporting currency (convert at the budget rate before calling,
  unrounded, so FX noise is not movement). Money arithmetic here never rounds: it runs in a
  context that traps `Inexact`. Round for display only (`projections.money.to_cents`).
- Ratios (GRR, NRR, churn rates, shares, coverage, CSAT, attainment, probabilities, intensity,
  cost ratio) are `Decimal` too: computed exactly as fractions, then rounded once to 28
  significant digits, half-even. A ratio over a zero denominator is `None`, never 0.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, Inexact, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import reduce
from itertools import pairwise
from types import MappingProxyType

from domain.values import RenewalLikelihood as Likelihood

_ZERO = Decimal(0)
_ONE = Decimal(1)
_EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN,
                 traps=[Inexact, InvalidOperation, DivisionByZero])
_RATIO = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero])
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

NET_BASIS = "net: each account's ARR at the period end against the period start"
GROSS_BASIS = "gross: sum of month-to-month movements"
RISK_HORIZONS = (90, 180)
DAYS_PER_YEAR = 365
INTENSITY_ARR = Decimal(100_000)
INTENSITY_DAYS = 90


# Number helpers ---------------------------------------------------------------------------


def _total(amounts: Iterable[Decimal]) -> Decimal:
    return reduce(_EXACT.add, amounts, _ZERO)


def _fraction(numerator: Fraction | Decimal | int, denominator: Fraction | Decimal | int,
              ) -> Fraction | None:
    return None if denominator == 0 else Fraction(numerator) / Fraction(denominator)


def _decimal(ratio: Fraction | None) -> Decimal | None:
    if ratio is None:
        return None
    return _RATIO.divide(Decimal(ratio.numerator), Decimal(ratio.denominator))


def _cents(amount: Fraction) -> Decimal:
    return Decimal(round(amount * 100)).scaleb(-2)  # round() on a Fraction is half-even


def _money(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal):  # a float here would make every total inexact
        raise TypeError(f"{what} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{what} must be a finite, non-negative amount, not {value}")
    return value


def _unit(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValueError(f"{what} must be a Decimal between 0 and 1, not {value!r}")
    return value


def _count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def _day(value: date) -> date:
    """A datetime counts on its own calendar date: pass UTC datetimes for UTC days."""
    return value.date() if isinstance(value, datetime) else value


def _period(t0: date, t1: date) -> tuple[date, date]:
    start, end = _day(t0), _day(t1)
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    return start, end


# ARR over time ----------------------------------------------------------------------------

_RECORD, _RETURN, _CHURN = 0, 1, 2  # the order of changes on one day: a churn applies last


def _effective(when: str | date) -> date:
    if isinstance(when, str):
        match = _PERIOD.match(when)
        if match is None:
            raise ValueError(f"a revenue period is YYYY-MM, not {when!r}")
        return date(int(match[1]), int(match[2]), 1)
    return _day(when)


class RevenueTimeline:
    """One account's ARR over time: ARR(t) = 12 x the MRR in force at t, 0 while churned.

    - A month's MRR ('YYYY-MM') applies from the 1st of the month, a dated MRR from its date,
      until the next record. Months without a record carry the last MRR forward: a gap is not
      a zero. Record MRR 0 to stop revenue without a churn.
    - Two records for the same date: the one given last wins, as re-recording a period does.
    - A churn sets ARR to 0 from its date. A record dated after it brings the account back; a
      return date does too, at the MRR then in force. On one day a churn applies last, so a
      churn and a record (or return) on the same day leave ARR at 0.
    - ARR is 0 before the first record.
    """

    __slots__ = ("_arr", "_days", "_first_positive", "account_id")

    def __init__(self, account_id: str, revenue: Iterable[tuple[str | date, Decimal]],
                 churns: Iterable[date] = (), returns: Iterable[date] = ()) -> None:
        self.account_id = account_id
        changes: list[tuple[date, int, int, Decimal | None]] = [
            (_effective(when), _RECORD, seq, _money(mrr, f"MRR of {account_id} for {when}"))
            for seq, (when, mrr) in enumerate(revenue)
        ]
        changes += [(_day(d), _RETURN, 0, None) for d in returns]
        changes += [(_day(d), _CHURN, 0, None) for d in churns]
        changes.sort(key=lambda change: change[:3])
        mrr: Decimal | None = None
        active = False
        arr_from: dict[date, Decimal] = {}  # later changes on the same day overwrite earlier ones
        for day, kind, _, amount in changes:
            if kind == _RECORD:
                mrr, active = amount, True
            else:
                active = kind == _RETURN
            arr_from[day] = _EXACT.multiply(12, mrr) if active and mrr is not None else _ZERO
        self._days = tuple(arr_from)
        self._arr = tuple(arr_from.values())
        self._first_positive = next((d for d, a in arr_from.items() if a > 0), None)

    @property
    def steps(self) -> tuple[tuple[date, Decimal], ...]:
        """(from, ARR) pairs: each ARR holds from its date until the next pair's date."""
        return tuple(zip(self._days, self._arr, strict=True))

    def arr_at(self, t: date) -> Decimal:
        i = bisect_right(self._days, _day(t)) - 1
        return self._arr[i] if i >= 0 else _ZERO

    def had_arr_before(self, t: date) -> bool:
        return self._first_positive is not None and self._first_positive < _day(t)


# Movements --------------------------------------------------------------------------------


class Movement(StrEnum):
    """How an account's ARR moved between two dates (Mattermost's five classes, plus two)."""

    NEW = "new"  # 0 -> >0, never had ARR before the start
    EXPANSION = "expansion"
    CONTRACTION = "contraction"  # decreased, still > 0
    CHURN = "churn"  # >0 -> 0, by a churn or an MRR of 0
    RESURRECTION = "resurrection"  # 0 -> >0, had ARR at some time before the start
    FLAT = "flat"  # >0 and unchanged
    NONE = "none"  # 0 at both ends, whatever happened between


_FLOWS = ("new", "resurrection", "expansion", "contraction", "churn")


@dataclass(frozen=True, slots=True)
class Flows:
    """ARR movements as non-negative amounts; `net` is what they add to the opening ARR."""

    new: Decimal = _ZERO
    resurrection: Decimal = _ZERO
    expansion: Decimal = _ZERO
    contraction: Decimal = _ZERO
    churn: Decimal = _ZERO

    @property
    def net(self) -> Decimal:
        return _total((self.new, self.resurrection, self.expansion,
                       -self.contraction, -self.churn))

    def __add__(self, other: Flows) -> Flows:
        return Flows(**{f: _EXACT.add(getattr(self, f), getattr(other, f)) for f in _FLOWS})


def classify(timeline: RevenueTimeline, t0: date, t1: date) -> Movement:
    """The movement class from ARR at t0 to ARR at t1 (period-end values, not the path)."""
    start, end = _period(t0, t1)
    return _movement(timeline, start, timeline.arr_at(start), timeline.arr_at(end))


def _movement(timeline: RevenueTimeline, start: date, a0: Decimal, a1: Decimal) -> Movement:
    if a0 == 0:
        if a1 == 0:
            return Movement.NONE
        return Movement.RESURRECTION if timeline.had_arr_before(start) else Movement.NEW
    if a1 == 0:
        return Movement.CHURN
    if a1 == a0:
        return Movement.FLAT
    return Movement.EXPANSION if a1 > a0 else Movement.CONTRACTION


def _flows(movement: Movement, a0: Decimal, a1: Decimal) -> Flows:
    match movement:
        case Movement.NEW:
            return Flows(new=a1)
        case Movement.RESURRECTION:
            return Flows(resurrection=a1)
        case Movement.EXPANSION:
            return Flows(expansion=_EXACT.subtract(a1, a0))
        case Movement.CONTRACTION:
            return Flows(contraction=_EXACT.subtract(a0, a1))
        case Movement.CHURN:
            return Flows(churn=a0)
        case _:
            return Flows()


def _unique_timelines(timelines: Iterable[RevenueTimeline]) -> list[RevenueTimeline]:
    listed = list(timelines)
    _check_unique(t.account_id for t in listed)
    return listed


def _check_unique(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for account_id in ids:
        if account_id in seen:
            raise ValueError(f"account {account_id} is given twice")
        seen.add(account_id)


# Retention --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Retention:
    """GRR, NRR and churn of the start cohort A0 = {a : ARR_a(t0) > 0}, on period-end values.

    `flows` holds the cohort's expansion, contraction and churn, and, outside the cohort and
    outside every ratio, the ARR of new logos and resurrections. An account that churned and
    came back within the period stays in the cohort and counts by its end value.
    """

    start: date
    end: date
    cohort_logos: int
    starting_arr: Decimal  # S
    cohort_ending_arr: Decimal  # sum of ARR_a(t1) over A0
    flows: Flows
    churned_logos: int
    new_logos: int
    resurrected_logos: int
    basis: str = NET_BASIS

    @property
    def ending_arr(self) -> Decimal:
        """All ARR at the end: the cohort's plus new logos' and resurrections'."""
        return _total((self.cohort_ending_arr, self.flows.new, self.flows.resurrection))

    def _grr(self) -> Fraction | None:
        lost = _total((self.flows.contraction, self.flows.churn))
        return _fraction(_EXACT.subtract(self.starting_arr, lost), self.starting_arr)

    @property
    def grr_uncapped(self) -> Decimal | None:
        """(S - contraction - churn) / S; above 1 only if the inputs are inconsistent (a bug)."""
        return _decimal(self._grr())

    @property
    def grr(self) -> Decimal | None:
        grr = self._grr()
        return None if grr is None else _decimal(min(grr, Fraction(1)))

    @property
    def grr_over_cap(self) -> bool:
        grr = self._grr()
        return grr is not None and grr > 1

    @property
    def nrr(self) -> Decimal | None:
        return _decimal(_fraction(self.cohort_ending_arr, self.starting_arr))

    @property
    def gross_revenue_churn(self) -> Decimal | None:
        grr = self._grr()
        return None if grr is None else _decimal(1 - min(grr, Fraction(1)))

    @property
    def net_revenue_churn(self) -> Decimal | None:
        """1 - NRR: negative when expansion outgrows contraction and churn."""
        nrr = _fraction(self.cohort_ending_arr, self.starting_arr)
        return None if nrr is None else _decimal(1 - nrr)

    @property
    def logo_churn(self) -> Decimal | None:
        return _decimal(_fraction(self.churned_logos, self.cohort_logos))


def retention(timelines: Iterable[RevenueTimeline], t0: date, t1: date) -> Retention:
    start, end = _period(t0, t1)
    starting: list[Decimal] = []
    ending: list[Decimal] = []
    flows = Flows()
    counts = dict.fromkeys(Movement, 0)
    for timeline in _unique_timelines(timelines):
        a0, a1 = timeline.arr_at(start), timeline.arr_at(end)
        movement = _movement(timeline, start, a0, a1)
        counts[movement] += 1
        flows += _flows(movement, a0, a1)
        if a0 > 0:
            starting.append(a0)
            ending.append(a1)
    return Retention(
        start=start, end=end, cohort_logos=len(starting), starting_arr=_total(starting),
        cohort_ending_arr=_total(ending), flows=flows, churned_logos=counts[Movement.CHURN],
        new_logos=counts[Movement.NEW], resurrected_logos=counts[Movement.RESURRECTION],
    )


# Waterfall --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """Movements over (start, end]: one calendar month, or the part of it inside the period."""

    period: str  # 'YYYY-MM' of `end`
    start: date
    end: date
    opening: Decimal
    flows: Flows

    @property
    def closing(self) -> Decimal:
        return _EXACT.add(self.opening, self.flows.net)


@dataclass(frozen=True, slots=True)
class Waterfall:
    """ARR from t0 to t1 as the sum of month-to-month movements (gross flows).

    An account that contracts in March and expands back in May shows both flows here, where
    the period-end comparison (`retention`) shows it flat. Moves within one month net out.
    """

    start: date
    end: date
    opening: Decimal
    steps: tuple[WaterfallStep, ...]
    basis: str = GROSS_BASIS

    @property
    def flows(self) -> Flows:
        return sum((s.flows for s in self.steps), Flows())

    @property
    def closing(self) -> Decimal:
        return _EXACT.add(self.opening, self.flows.net)


def _month_end(day: date) -> date:
    first_of_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def arr_waterfall(timelines: Iterable[RevenueTimeline], t0: date, t1: date) -> Waterfall:
    """Steps end at each month end strictly between t0 and t1, then at t1."""
    start, end = _period(t0, t1)
    listed = _unique_timelines(timelines)
    marks = [start]
    month_end = _month_end(start)
    while month_end < end:
        if month_end > start:
            marks.append(month_end)
        month_end = _month_end(month_end + timedelta(days=1))
    if end > start:
        marks.append(end)
    steps: list[WaterfallStep] = []
    for begin, finish in pairwise(marks):
        flows = Flows()
        for timeline in listed:
            a0, a1 = timeline.arr_at(begin), timeline.arr_at(finish)
            flows += _flows(_movement(timeline, begin, a0, a1), a0, a1)
        opening = _total(t.arr_at(begin) for t in listed)
        steps.append(WaterfallStep(f"{finish:%Y-%m}", begin, finish, opening, flows))
    return Waterfall(start, end, _total(t.arr_at(start) for t in listed), tuple(steps))


# Portfolio figures ------------------------------------------------------------------------


class Band(StrEnum):
    """The confirmed health band of an account."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    GREY = "grey"


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """One account's inputs to the portfolio figures; counts are for one window of days.

    `tickets_by_kind` maps (priority, channel) to tickets, for the cost-to-serve proxy.
    Strings are accepted for `band` and `renewal_likelihood` and turned into their enums.
    """

    account_id: str
    arr: Decimal
    band: Band
    health_score: int | None = None
    csat_satisfied: int = 0
    csat_unsatisfied: int = 0
    sla_breach_rate: Decimal | None = None
    renewal_date: date | None = None
    renewal_likelihood: Likelihood | None = None
    tickets: int = 0
    tickets_by_kind: Mapping[tuple[str, str], int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _money(self.arr, f"ARR of {self.account_id}")
        object.__setattr__(self, "band", Band(self.band))
        if self.renewal_likelihood is not None:
            object.__setattr__(self, "renewal_likelihood", Likelihood(self.renewal_likelihood))
        if self.renewal_date is not None:
            object.__setattr__(self, "renewal_date", _day(self.renewal_date))
        if self.health_score is not None and not 0 <= _count(self.health_score, "health") <= 100:
            raise ValueError(f"a health score is 0 to 100, not {self.health_score}")
        if self.sla_breach_rate is not None:
            _unit(self.sla_breach_rate, "the SLA breach rate")
        for what in ("csat_satisfied", "csat_unsatisfied", "tickets"):
            _count(getattr(self, what), what)
        for kind, tickets in self.tickets_by_kind.items():
            _count(tickets, f"tickets of {kind}")


def _unique_snapshots(snapshots: Iterable[AccountSnapshot]) -> list[AccountSnapshot]:
    listed = list(snapshots)
    _check_unique(s.account_id for s in listed)
    return listed


def top_n(snapshots: Iterable[AccountSnapshot], n: int) -> list[AccountSnapshot]:
    """The n largest accounts by ARR, ties by account id (the caller leaves out churned ones)."""
    if n < 0:
        raise ValueError(f"n must not be negative, not {n}")
    ranked = sorted(_unique_snapshots(snapshots),
                    key=lambda s: (_EXACT.minus(s.arr), s.account_id))
    return ranked[:n]


@dataclass(frozen=True, slots=True)
class RevenueAtRisk:
    """Red ARR by renewal horizon, with what no horizon can show beside it."""

    as_of: date
    by_horizon: Mapping[int, Decimal]  # red, renewal date <= as_of + H days (overdue included)
    no_renewal_date: Decimal  # red with no renewal date on record: in no horizon
    all_red: Decimal  # every red account, whatever its renewal date
    watch: Decimal  # yellow ARR, whatever its renewal date


def revenue_at_risk(snapshots: Iterable[AccountSnapshot], as_of: date,
                    horizons: Sequence[int] = RISK_HORIZONS) -> RevenueAtRisk:
    listed = _unique_snapshots(snapshots)
    today = _day(as_of)
    red = [s for s in listed if s.band is Band.RED]
    by_horizon: dict[int, Decimal] = {}
    for days in horizons:
        if days < 0:
            raise ValueError(f"a horizon must not be negative, not {days}")
        due = today + timedelta(days=days)
        by_horizon[days] = _total(
            s.arr for s in red if s.renewal_date is not None and s.renewal_date <= due)
    return RevenueAtRisk(
        as_of=today, by_horizon=by_horizon,
        no_renewal_date=_total(s.arr for s in red if s.renewal_date is None),
        all_red=_total(s.arr for s in red),
        watch=_total(s.arr for s in listed if s.band is Band.YELLOW),
    )


_LIKELIHOOD_FACTORS = {
    Likelihood.HIGH: Decimal("1"), Likelihood.MEDIUM: Decimal("0.5"),
    Likelihood.LOW: Decimal("0.25"), Likelihood.ZERO: Decimal("0"),
}
# Judgement calls until backtested against real renewals.
_BAND_FACTORS = {
    Band.GREEN: Decimal("0.95"), Band.YELLOW: Decimal("0.75"), Band.RED: Decimal("0.4"),
    Band.GREY: Decimal("0.75"),
}


@dataclass(frozen=True, slots=True)
class RenewalFactors:
    """Renewal probability: the manager's likelihood when set, else the band's default."""

    likelihood: Mapping[Likelihood, Decimal] = field(
        default_factory=lambda: dict(_LIKELIHOOD_FACTORS), hash=False)
    band: Mapping[Band, Decimal] = field(default_factory=lambda: dict(_BAND_FACTORS), hash=False)

    def __post_init__(self) -> None:
        for likelihood in Likelihood:
            _unit(self.likelihood.get(likelihood), f"the renewal factor for {likelihood}")
        for band in Band:
            _unit(self.band.get(band), f"the renewal factor for {band}")

    def probability(self, snapshot: AccountSnapshot) -> Decimal:
        if snapshot.renewal_likelihood is not None:
            return self.likelihood[snapshot.renewal_likelihood]
        return self.band[snapshot.band]


@dataclass(frozen=True, slots=True)
class ExpectedRenewal:
    total_arr: Decimal
    expected_arr: Decimal  # sum of ARR x p
    expected_loss: Decimal  # sum of ARR x (1 - p)
    likelihood_arr: Decimal  # ARR whose p is a manager's likelihood, not a band default

    @property
    def likelihood_coverage(self) -> Decimal | None:
        return _decimal(_fraction(self.likelihood_arr, self.total_arr))


def expected_renewal(snapshots: Iterable[AccountSnapshot],
                     factors: RenewalFactors | None = None) -> ExpectedRenewal:
    """Over the accounts given: pass the renewal cohort (say, renewing in 180 days)."""
    factors = factors or RenewalFactors()
    listed = _unique_snapshots(snapshots)
    probabilities = [factors.probability(s) for s in listed]
    return ExpectedRenewal(
        total_arr=_total(s.arr for s in listed),
        expected_arr=_total(_EXACT.multiply(s.arr, p) for s, p in zip(listed, probabilities,
                                                                       strict=True)),
        expected_loss=_total(_EXACT.multiply(s.arr, _EXACT.subtract(_ONE, p))
                             for s, p in zip(listed, probabilities, strict=True)),
        likelihood_arr=_total(s.arr for s in listed if s.renewal_likelihood is not None),
    )


@dataclass(frozen=True, slots=True)
class Weighted:
    """A revenue-weighted mean over the accounts that have the input, with its ARR coverage."""

    value: Decimal | None  # None when the accounts with the input have no ARR
    accounts: int  # accounts with the input
    covered_arr: Decimal
    total_arr: Decimal

    @property
    def coverage(self) -> Decimal | None:
        return _decimal(_fraction(self.covered_arr, self.total_arr))


def _weighted(snapshots: Iterable[AccountSnapshot],
              measure: Callable[[AccountSnapshot], Fraction | None]) -> Weighted:
    listed = _unique_snapshots(snapshots)
    covered = [(s.arr, m) for s in listed if (m := measure(s)) is not None]
    weight = _total(arr for arr, _ in covered)
    weighted_sum = sum((Fraction(arr) * m for arr, m in covered), Fraction(0))
    return Weighted(_decimal(_fraction(weighted_sum, weight)), len(covered), weight,
                    _total(s.arr for s in listed))


def weighted_health(snapshots: Iterable[AccountSnapshot]) -> Weighted:
    """sum ARR x H / sum ARR over the accounts with a health score."""
    return _weighted(snapshots, lambda s: None if s.health_score is None
                     else Fraction(s.health_score))


def weighted_csat(snapshots: Iterable[AccountSnapshot], min_responses: int = 3) -> Weighted:
    """Per account satisfied / responses, weighted by ARR, over accounts with enough responses.

    Weighting per account, not per response, keeps chatty accounts from dominating.
    """
    if min_responses < 1:
        raise ValueError(f"min_responses must be at least 1, not {min_responses}")

    def csat(s: AccountSnapshot) -> Fraction | None:
        responses = s.csat_satisfied + s.csat_unsatisfied
        return Fraction(s.csat_satisfied, responses) if responses >= min_responses else None

    return _weighted(snapshots, csat)


def weighted_sla_attainment(snapshots: Iterable[AccountSnapshot]) -> Weighted:
    """sum ARR x (1 - b) / sum ARR over the accounts with an SLA breach rate b."""
    return _weighted(snapshots, lambda s: None if s.sla_breach_rate is None
                     else 1 - Fraction(s.sla_breach_rate))


def arr_by_band(snapshots: Iterable[AccountSnapshot]) -> dict[Band, Decimal]:
    listed = _unique_snapshots(snapshots)
    return {band: _total(s.arr for s in listed if s.band is band) for band in Band}


def share_by_band(snapshots: Iterable[AccountSnapshot]) -> dict[Band, Decimal] | None:
    """Each band's share of ARR, every band present; None when there is no ARR at all.

    Each share is rounded on its own, so the sum is 1 to within 1e-27.
    """
    arr = arr_by_band(snapshots)
    total = _total(arr.values())
    if total == 0:
        return None
    return {band: _RATIO.divide(amount, total) for band, amount in arr.items()}


def _window(days: int) -> int:
    if days <= 0:
        raise ValueError(f"the window must be at least one day, not {days}")
    return days


def ticket_intensity(snapshots: Iterable[AccountSnapshot], window_days: int) -> Decimal | None:
    """Tickets per 100k of ARR per 90 days, pooled (the ARR-weighted mean of the accounts').

    Pass one snapshot for one account's figure; None when there is no ARR.
    """
    listed = _unique_snapshots(snapshots)
    tickets = sum(s.tickets for s in listed)
    per_100k = Fraction(_total(s.arr for s in listed)) / Fraction(INTENSITY_ARR)
    scale = Fraction(INTENSITY_DAYS, _window(window_days))
    intensity = _fraction(tickets, per_100k)
    return None if intensity is None else _decimal(intensity * scale)


# Cost per ticket at normal priority by channel, and the priority multipliers, in units of the
# reporting currency. Placeholders until handle time x loaded rate is measured: live channels
# cost more handling time, urgent tickets pull in escalation engineering.
_CHANNEL_COST = {
    "phone": Decimal("20"), "email": Decimal("12"), "web_form": Decimal("12"),
    "portal": Decimal("10"), "web_chat": Decimal("8"), "telegram": Decimal("8"),
    "api": Decimal("6"), "room": Decimal("8"),
}
_PRIORITY_FACTOR = {
    "urgent": Decimal("2.5"), "high": Decimal("1.5"), "normal": Decimal("1"),
    "low": Decimal("0.75"),
}


@dataclass(frozen=True, slots=True)
class CostRates:
    """Cost per ticket by (priority, channel): the cost-to-serve proxy without time tracking."""

    table: Mapping[tuple[str, str], Decimal] = field(hash=False)

    def __post_init__(self) -> None:
        for kind, rate in self.table.items():
            _money(rate, f"the cost per ticket of {kind}")

    def per_ticket(self, priority: str, channel: str) -> Decimal:
        rate = self.table.get((priority, channel))
        if rate is None:
            raise ValueError(f"no cost per ticket for priority {priority} on {channel}")
        return rate


DEFAULT_COST_RATES = CostRates(MappingProxyType({
    (priority, channel): _EXACT.multiply(factor, cost)
    for priority, factor in _PRIORITY_FACTOR.items() for channel, cost in _CHANNEL_COST.items()
}))


@dataclass(frozen=True, slots=True)
class CostToServe:
    cost: Decimal  # sum of tickets x cost per ticket
    revenue: Decimal  # ARR x window days / 365, to the cent (the ratio uses the exact value)
    ratio: Decimal | None  # cost / revenue of the same window; None without revenue


def cost_to_serve(snapshots: Iterable[AccountSnapshot], window_days: int,
                  rates: CostRates = DEFAULT_COST_RATES) -> CostToServe:
    """Pass one snapshot for one account's figure. A year is 365 days here."""
    listed = _unique_snapshots(snapshots)
    cost = _total(_EXACT.multiply(tickets, rates.per_ticket(priority, channel))
                  for s in listed for (priority, channel), tickets in s.tickets_by_kind.items())
    revenue = (Fraction(_total(s.arr for s in listed)) * _window(window_days)
               / DAYS_PER_YEAR)
    return CostToServe(cost, _cents(revenue), _decimal(_fraction(cost, revenue)))


# Renewal cohort ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenewalRate:
    """Renewal-cohort view, not the period GRR / NRR: label them apart."""

    due: Decimal
    renewed: Decimal
    renewed_up_to_due: Decimal  # sum of min(renewed, due): upsell does not count

    @property
    def gross(self) -> Decimal | None:
        return _decimal(_fraction(self.renewed_up_to_due, self.due))

    @property
    def net(self) -> Decimal | None:
        return _decimal(_fraction(self.renewed, self.due))


def renewal_rate(renewals: Iterable[tuple[Decimal, Decimal]]) -> RenewalRate:
    """From (ARR due, ARR renewed) per renewal in the cohort; Mattermost's MIN rule for gross."""
    pairs = [(_money(due, "ARR due"), _money(renewed, "ARR renewed"))
             for due, renewed in renewals]
    return RenewalRate(_total(d for d, _ in pairs), _total(r for _, r in pairs),
                       _total(min(d, r) for d, r in pairs))
