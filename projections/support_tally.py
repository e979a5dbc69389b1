"""The maths of support metrics: what one case contributes, and tallies that add contributions up.

A case contributes one item per measured fact, each dated by the business time of the event that
settles it: opened (Opened), first response (first agent reply), resolution (first Resolved),
rating (its latest CSAT), and each SLA target once met or breached (dated by its due time).
Durations are tallied in exact microseconds and reported in (fractional) seconds.
A `Tally` adds items up for one group and period; tallies merge, so the weekly and monthly
rollups of the read model and a tally computed straight from case rows give the same numbers.
Medians and p90 are exact: tallies keep every value.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import combinations
from typing import Any

GRAINS = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class RollupSet:
    """Rollups of one combination of dimensions: a tally per combination of their values (and
    per period of each grain kept). A report reads the rollups of a set that holds every
    dimension it groups or filters by."""

    dims: tuple[str, ...]
    grains: tuple[str, ...]
    name: str = field(init=False)
    """What the `dim` column of its rollups holds: the dimensions joined by '+'."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", "+".join(self.dims))


FEW_VALUED = ("channel", "line", "priority", "topic")
"""The dimensions of few values: rolled up by day as well, alone and in pairs. Agents and
accounts (many values, each with few cases a day) by week and month alone, and with one of
these by month. Each rollup set costs the fold a tally per item and grain: the sets are those
that keep 12-month reports small to read, and no more. An agent with an account (tens of
thousands of combinations a year, hardly fewer than cases) is left to the case rows, which a
filter on either narrows to a few thousand."""

ROLLUP_SETS = (
    # "line" first: every case is on a line (of two), so its rollups add up to all cases cheaply.
    RollupSet(("line",), GRAINS), *(RollupSet((d,), GRAINS) for d in FEW_VALUED if d != "line"),
    RollupSet(("agent",), GRAINS[1:]), RollupSet(("account",), GRAINS[1:]),
    *(RollupSet(pair, ("day", "month")) for pair in combinations(FEW_VALUED, 2)),
    *(RollupSet((many, d), ("month",)) for many in ("agent", "account") for d in FEW_VALUED),
    RollupSet(FEW_VALUED, ("month",)),
)


DIMENSIONS = ("channel", "agent", "line", "account", "priority", "topic")
PRIORITY_WEIGHTS = {"urgent": 4, "high": 3, "normal": 2, "low": 1}
SLA_KINDS = ("first_response", "resolution")

# An item: (kind, business time, values...). Kinds and their values:
#   ("opened", at)
#   ("first_response", at, microseconds, business microseconds)
#   ("resolved", at, microseconds, replies before resolution, reopened since: 0 or 1,
#    business microseconds)
#   ("csat", at, score 1-5)
#   ("sla", due at, priority weight, met: 0 or 1)
Item = tuple[Any, ...]


MICROS = 1_000_000
_MICROSECOND = timedelta(microseconds=1)


def seconds_between(start: datetime, end: datetime) -> int:
    """Wall-clock whole seconds from `start` to `end` (floored), as case rows show them."""
    return (end - start) // timedelta(seconds=1)


def micros_between(start: datetime, end: datetime) -> int:
    """Wall-clock microseconds from `start` to `end`: exact for any stored timestamps."""
    return (end - start) // _MICROSECOND


def period_start(at: datetime, grain: str) -> date:
    """The first day (UTC) of the day, ISO week (Monday) or month holding `at`."""
    return _first_day(at.astimezone(UTC).date(), grain)


def period_key(at: datetime, grain: str) -> str:
    """`period_start` as ISO text, the form rollups and reports keep periods in."""
    return _period_text(at.astimezone(UTC).date(), grain)


def _first_day(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


@lru_cache(maxsize=4096)
def _period_text(day: date, grain: str) -> str:
    return _first_day(day, grain).isoformat()


@lru_cache(maxsize=4096)
def period_holding(period: str, grain: str) -> str:
    """The period of `grain` (ISO text of its first day) holding the period that starts on the
    day `period`: a day's week or month, a week's week."""
    return _period_text(date.fromisoformat(period), grain)


def is_boundary(at: datetime, grain: str) -> bool:
    """Whether `at` is exactly where a period of `grain` begins (UTC midnight, Monday, 1st)."""
    utc = at.astimezone(UTC)
    midnight = (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0)
    return midnight and period_start(utc, grain) == utc.date()


def items_of(case: dict[str, Any]) -> list[Item]:
    """What a case row (see `support_metrics.CASES`) contributes to the metrics."""
    items: list[Item] = [("opened", case["opened_at"])]
    opened, answered, resolved = case["opened_at"], case["first_response_at"], case["resolved_at"]
    if answered is not None:
        wall = micros_between(opened, answered)
        items.append(("first_response", answered, wall,
                      _or(case.get("first_response_business_micros"), wall)))
    if resolved is not None:
        wall = micros_between(opened, resolved)
        items.append(("resolved", resolved, wall, case["replies_before_resolution"],
                      1 if case["reopened_count"] else 0,
                      _or(case.get("resolution_business_micros"), wall)))
    if case["csat"] is not None:
        items.append(("csat", case["rated_at"], case["csat"]))
    weight = PRIORITY_WEIGHTS.get(case["priority"], 1)
    for kind in SLA_KINDS:
        state, due = case[f"{kind}_sla"], case[f"{kind}_due"]
        if state is not None and due is not None:  # dated by its due time
            items.append(("sla", due, weight, 1 if state == "met" else 0))
    return items


def _or(value: int | None, default: int) -> int:
    """A case without a calendar (opened before calendars existed) counts around the clock."""
    return default if value is None else value


def sla_state(due: datetime | None, done_at: datetime | None, breached: bool) -> str | None:
    """'met', 'breached', or None while the target is still running.

    A breach reported by the SLA clock stands; otherwise a target done by its due time is met
    and one done later is breached. An unfinished target waits for the clock's breach event.
    """
    if breached:
        return "breached"
    if done_at is None or due is None:
        return None
    return "met" if done_at <= due else "breached"


# Exact quantiles ----------------------------------------------------------------------------

MEDIAN = Fraction(1, 2)
P90 = Fraction(9, 10)


def quantile(ordered: Sequence[int], q: Fraction, unit: int = 1) -> float | None:
    """The q-quantile of sorted values by linear interpolation between closest ranks, / unit.

    The same definition as PostgreSQL's percentile_cont and numpy's default: the median of an
    even count is the mean of the two middle values. Worked out in integers, so the one
    rounding is the final division. None for no values.
    """
    return _interpolated(ordered, q.numerator, q.denominator, unit) if ordered else None


def _median_and_p90(ordered: Sequence[int], unit: int) -> tuple[float | None, float | None]:
    """`quantile` at MEDIAN and P90 (reports read thousands of tallies: no Fraction here)."""
    if not ordered:
        return None, None
    return _interpolated(ordered, 1, 2, unit), _interpolated(ordered, 9, 10, unit)


def _interpolated(ordered: Sequence[int], numerator: int, denominator: int, unit: int) -> float:
    lo, rest = divmod(numerator * (len(ordered) - 1), denominator)
    low = ordered[lo]
    if rest == 0:
        return low / unit
    return (low * denominator + rest * (ordered[lo + 1] - low)) / (denominator * unit)


def mean(total: int, count: int, unit: int = 1) -> float | None:
    return total / (count * unit) if count else None


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Packed tallies (a rollup row keeps its whole tally, every duration included, in one text) ------


def pack(numbers: Sequence[int]) -> str:
    """Whole numbers (64-bit) as compact text, the same on SQLite and PostgreSQL."""
    data = array("q", numbers)
    if sys.byteorder == "big":
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def unpack(text: str | None) -> list[int]:
    return _numbers(text).tolist()


def _numbers(text: str | None) -> array[int]:
    data = array("q")
    if text:
        data.frombytes(binascii.a2b_base64(text))
        if sys.byteorder == "big":
            data.byteswap()
    return data


# Tallies ------------------------------------------------------------------------------------

COUNTERS = ("opened", "resolved", "reopened", "replies", "first_response_count",
            "first_response_sum", "resolution_sum", "csat_count", "csat_good", "sla_targets",
            "sla_met", "sla_weight", "sla_met_weight", "first_response_business_sum",
            "resolution_business_sum")
DURATIONS = ("first_responses", "resolutions", "first_responses_business",
             "resolutions_business")


@dataclass(slots=True)
class Tally:
    """Sums, counts and every duration of the items of one group in one period."""

    opened: int = 0
    resolved: int = 0
    reopened: int = 0
    """Of the resolved cases, how many were reopened since."""
    replies: int = 0
    """Agent replies before resolution, summed over the resolved cases."""
    first_response_count: int = 0
    first_response_sum: int = 0
    resolution_sum: int = 0
    csat_count: int = 0
    csat_good: int = 0
    sla_targets: int = 0
    sla_met: int = 0
    sla_weight: int = 0
    sla_met_weight: int = 0
    first_response_business_sum: int = 0
    resolution_business_sum: int = 0
    first_responses: list[int] = field(default_factory=list)
    resolutions: list[int] = field(default_factory=list)
    first_responses_business: list[int] = field(default_factory=list)
    """In business time of the case's calendar (the one its SLA targets count in)."""
    resolutions_business: list[int] = field(default_factory=list)

    def add(self, item: Item, sign: int = 1) -> None:
        """Count an item in (sign 1) or take it out again (sign -1)."""
        self.add_many(((item, sign),))

    def add_many(self, changes: Iterable[tuple[Item, int]]) -> None:
        """Count items in (sign 1) or take them out again (-1): the same as `add` for each.

        Counters are summed in locals and durations going in merged with one sort: a busy
        rollup that a page changes thousands of times is shifted once, not once per value.
        """
        c = [0] * len(COUNTERS)  # in COUNTERS order
        into: tuple[list[int], ...] = ([], [], [], [])  # in DURATIONS order
        out: tuple[list[int], ...] = ([], [], [], [])
        for item, sign in changes:
            kind = item[0]
            if kind == "opened":
                c[0] += sign
            elif kind == "first_response":
                c[4] += sign
                c[5] += sign * item[2]
                c[13] += sign * item[3]
                lists = into if sign > 0 else out
                lists[0].append(item[2])
                lists[2].append(item[3])
            elif kind == "resolved":
                c[1] += sign
                c[6] += sign * item[2]
                c[3] += sign * item[3]
                c[2] += sign * item[4]
                c[14] += sign * item[5]
                lists = into if sign > 0 else out
                lists[1].append(item[2])
                lists[3].append(item[5])
            elif kind == "csat":
                c[7] += sign
                c[8] += sign * (1 if item[2] >= 4 else 0)
            elif kind == "sla":
                c[9] += sign
                c[10] += sign * item[3]
                c[11] += sign * item[2]
                c[12] += sign * item[2] * item[3]
        for name, change in zip(COUNTERS, c, strict=True):
            if change:
                setattr(self, name, getattr(self, name) + change)
        for name, new, gone in zip(DURATIONS, into, out, strict=True):
            values: list[int] = getattr(self, name)
            if new:
                values.extend(new)
                values.sort()  # two sorted runs: timsort merges them in linear time
            for value in gone:
                at = bisect_left(values, value)
                if at == len(values) or values[at] != value:
                    raise ValueError(f"{value} is not among the tallied values")
                del values[at]

    def merge(self, other: Tally) -> None:
        """Add another tally in; value lists are only appended (call `finish` before reading)."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in DURATIONS:
            getattr(self, name).extend(getattr(other, name))

    def finish(self) -> Tally:
        for name in DURATIONS:
            getattr(self, name).sort()
        return self

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in COUNTERS)

    def pack(self) -> str:
        """The counters, then how many durations of each kind, then the durations."""
        counts = [getattr(self, name) for name in COUNTERS]
        lists = [getattr(self, name) for name in DURATIONS]
        return pack([*counts, *(len(values) for values in lists),
                     *(v for values in lists for v in values)])

    @classmethod
    def unpack(cls, text: str) -> Tally:
        counts, lists = _split(unpack(text))
        fields: dict[str, Any] = dict(zip(COUNTERS, counts, strict=True))
        fields.update((name, list(values)) for name, values in zip(DURATIONS, lists, strict=True))
        return cls(**fields)

    def figures(self) -> dict[str, Any]:
        """The metrics of this tally (call on a finished one); ratios without data are None."""
        return figures_of([getattr(self, name) for name in COUNTERS],
                          *(getattr(self, name) for name in DURATIONS))


def _split(numbers: Sequence[int]) -> tuple[Sequence[int], list[Sequence[int]]]:
    """A packed tally's counters and its duration lists."""
    n, k = len(COUNTERS), len(DURATIONS)
    lists = []
    at = n + k
    for length in numbers[n:n + k]:
        lists.append(numbers[at:at + length])
        at += length
    return numbers[:n], lists


def figures_of(counts: Sequence[int], first_responses: Sequence[int],
               resolutions: Sequence[int], first_responses_business: Sequence[int],
               resolutions_business: Sequence[int]) -> dict[str, Any]:
    """The metrics of a tally's counters (in `COUNTERS` order) and sorted durations.

    Durations are tallied in microseconds and reported in seconds; the business ones count
    only the opening hours of the case's calendar.
    """
    (opened, resolved, reopened, replies, answered, answered_sum, resolution_sum, csat_count,
     csat_good, targets, met, weight, met_weight, answered_business_sum,
     resolution_business_sum) = counts
    frb_median, frb_p90 = _median_and_p90(first_responses_business, MICROS)
    rb_median, rb_p90 = _median_and_p90(resolutions_business, MICROS)
    fr_median, fr_p90 = _median_and_p90(first_responses, MICROS)
    r_median, r_p90 = _median_and_p90(resolutions, MICROS)
    return {
        "first_response_business_median": frb_median,
        "first_response_business_mean": mean(answered_business_sum, answered, MICROS),
        "first_response_business_p90": frb_p90,
        "resolution_business_median": rb_median,
        "resolution_business_mean": mean(resolution_business_sum, resolved, MICROS),
        "resolution_business_p90": rb_p90,
        "opened": opened, "resolved": resolved, "first_responses": answered,
        "first_response_median": fr_median,
        "first_response_mean": mean(answered_sum, answered, MICROS),
        "first_response_p90": fr_p90,
        "resolution_median": r_median,
        "resolution_mean": mean(resolution_sum, resolved, MICROS),
        "resolution_p90": r_p90,
        "replies_to_resolution_mean": mean(replies, resolved),
        "reopen_rate": ratio(reopened, resolved),
        "csat": ratio(csat_good, csat_count), "csat_responses": csat_count,
        "sla_attainment": ratio(met_weight, weight),
        "sla_targets": targets, "sla_targets_met": met,
    }


def packed_figures(texts: Sequence[str]) -> dict[str, Any]:
    """The figures of the packed tallies `texts` merged, without building tallies.

    The same as merging `Tally.unpack` of each and reading `figures()`: counters are summed,
    durations gathered in arrays (slices of an array are arrays: no list is made) and sorted.
    """
    if len(texts) == 1:
        counts, lists = _split(_numbers(texts[0]))  # rollups keep their lists sorted
        return figures_of(counts, *lists)
    total = [0] * len(COUNTERS)
    gathered = [array("q") for _ in DURATIONS]
    for text in texts:
        counts, lists = _split(_numbers(text))
        total = [a + b for a, b in zip(total, counts, strict=True)]
        for into, values in zip(gathered, lists, strict=True):
            into.extend(values)
    return figures_of(total, *(sorted(values) for values in gathered))


def tally_items(items: Iterable[Item]) -> Tally:
    tally = Tally()
    tally.add_many((item, 1) for item in items)
    return tally


# NPS ----------------------------------------------------------------------------------------


def nps(scores: Iterable[int]) -> tuple[float | None, int]:
    """(promoters 9-10 minus detractors 0-6 in percent of the responses, responses)."""
    counted = list(scores)
    if not counted:
        return None, 0
    promoters = sum(1 for s in counted if s >= 9)
    detractors = sum(1 for s in counted if s <= 6)
    return 100 * (promoters - detractors) / len(counted), len(counted)
