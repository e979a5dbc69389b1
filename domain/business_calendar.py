"""Business-hours calendars: when a support team works, and how much business time lies between
two instants. The SLA clock (`domain/sla_clock.py`) counts its targets in a calendar's hours.

A calendar is local wall-clock hours per weekday in one IANA time zone, minus holidays (local
dates). Business time is real elapsed time, measured on UTC instants, while the wall clock of
the zone says "open". So a 09:00-17:00 day is 8 business hours on both daylight-saving days, and
a 00:00-24:00 Sunday in Berlin is 23 hours in March and 25 in October.

Wall-clock times that a daylight-saving change makes ambiguous or skip are read as `zoneinfo`
reads them with `fold=0`: the first of two 02:30s, and a 02:30 that does not exist as 03:30.

All instants returned are timezone-aware UTC datetimes; naive datetimes are refused.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from types import MappingProxyType
from typing import cast
from zoneinfo import ZoneInfo

from domain.errors import InvalidInputError
from domain.values import Tier

DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_ZONE = "Europe/Berlin"
DEFAULT_OFFICE_HOURS = "09:00-18:00"

_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)
_ZERO = timedelta(0)
_OPENING = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DOCUMENT_KEYS = frozenset({"zone", "hours", "holidays"})

Span = tuple[datetime, datetime]

_READ_LIMIT = 1024
_DAY_SPANS_LIMIT = 20_000  # about fifty years of days


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True, order=True)
class Opening:
    """One opening interval of a day, in local minutes after midnight, the end excluded.

    `Opening.parse("09:00-17:00") == Opening(540, 1020)`; the end may be 24:00 (1440).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise InvalidInputError(
                f"an opening must run forward within one day (00:00-24:00), "
                f"not from minute {self.start} to minute {self.end}")

    @classmethod
    def parse(cls, text: str) -> Opening:
        match = _OPENING.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInputError(f"an opening is written HH:MM-HH:MM, not {text!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise InvalidInputError(f"{text!r} is not a time of day range (00:00-24:00)")
        if h1 * 60 + m1 >= h2 * 60 + m2:
            raise InvalidInputError(f"opening {text!r} ends before it starts")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    @property
    def length(self) -> timedelta:
        """Nominal length on a day without a daylight-saving change."""
        return timedelta(minutes=self.end - self.start)

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _load_zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise InvalidInputError("a calendar needs an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInputError(f"unknown time zone {name!r}; expected an IANA name") from None


def _utc(at: datetime, what: str = "instant") -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidInputError(f"the {what} must be a timezone-aware datetime, not {at!r}")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours per weekday (Monday first) in one time zone, minus holidays.

    Immutable and validated on construction: a calendar that exists is usable. The derived
    fields after `holidays` are caches: the week-skipping arithmetic, the document's text, and
    each local day's open spans (a day's spans never change, and zone conversions are slow).
    """

    zone: str
    week: tuple[tuple[Opening, ...], ...]
    holidays: frozenset[date] = frozenset()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _daily: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)
    _weekly: timedelta = field(init=False, repr=False, compare=False)
    _holiday_list: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    _hours_text: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _day_spans: dict[date, tuple[Span, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tz = _load_zone(self.zone)
        week = tuple(tuple(sorted(day)) for day in self.week)
        if len(week) != 7:
            raise InvalidInputError("a calendar lists the openings of all seven weekdays")
        for name, day in zip(WEEKDAYS, week, strict=True):
            if not all(isinstance(o, Opening) for o in day):
                raise InvalidInputError(f"{name}: openings must be Opening values")
            for before, after in pairwise(day):
                if before.end > after.start:
                    raise InvalidInputError(f"{name}: openings {before} and {after} overlap")
        if not any(week):
            raise InvalidInputError("a calendar needs working hours on at least one weekday")
        holidays = frozenset(self.holidays)
        if not all(isinstance(d, date) and not isinstance(d, datetime) for d in holidays):
            raise InvalidInputError("holidays must be dates")
        daily = tuple(sum((o.length for o in day), _ZERO) for day in week)
        set_ = object.__setattr__
        set_(self, "week", week)
        set_(self, "holidays", holidays)
        set_(self, "_tz", tz)
        set_(self, "_daily", daily)
        set_(self, "_weekly", sum(daily, _ZERO))
        set_(self, "_holiday_list", tuple(sorted(holidays)))
        set_(self, "_always_open", not holidays and all(d == (Opening(0, DAY_MINUTES),)
                                                         for d in week))
        set_(self, "_hours_text", tuple(tuple(str(o) for o in day) for day in week))
        set_(self, "_day_spans", {})

    # -- construction -------------------------------------------------------------------

    @classmethod
    def office_hours(cls, zone: str = DEFAULT_ZONE, *openings: str,
                     holidays: Iterable[date] = ()) -> BusinessCalendar:
        """Monday to Friday with the same openings each day (default 09:00-18:00)."""
        day = tuple(Opening.parse(o) for o in (openings or (DEFAULT_OFFICE_HOURS,)))
        return cls(zone, (day,) * 5 + ((), ()), frozenset(holidays))

    @classmethod
    def around_the_clock(cls, zone: str = "UTC") -> BusinessCalendar:
        """Open every minute of every day: business time is elapsed time."""
        return cls(zone, ((Opening(0, DAY_MINUTES),),) * 7)

    def with_zone(self, zone: str) -> BusinessCalendar:
        """The same local hours and holidays in another zone (the account's)."""
        return replace(self, zone=zone)

    def with_holidays(self, holidays: Iterable[date]) -> BusinessCalendar:
        return replace(self, holidays=frozenset(holidays))

    def to_document(self) -> dict[str, object]:
        """`{"zone": ..., "hours": {"mon": ["09:00-17:00"], ...}, "holidays": ["2026-12-25"]}`."""
        return {
            "zone": self.zone,
            "hours": {name: list(day) for name, day in zip(WEEKDAYS, self._hours_text,
                                                           strict=True)},
            "holidays": [d.isoformat() for d in self._holiday_list],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> BusinessCalendar:
        """Reads `to_document()` output; weekdays left out are closed. Raises InvalidInputError.

        Every case carries its calendar's document and rebuilds its SLA clock from it, so the
        calendars read are kept (they are immutable): the same document is parsed once.
        """
        key = _document_key(document) if isinstance(document, Mapping) else None
        if key is None:
            return cls._read_document(document)
        calendar = _READ.get(key)
        if calendar is None:
            calendar = cls._read_document(document)
            if len(_READ) >= _READ_LIMIT:
                _READ.clear()
            _READ[key] = calendar
        return calendar

    @classmethod
    def _read_document(cls, document: Mapping[str, object]) -> BusinessCalendar:
        if not isinstance(document, Mapping):
            raise InvalidInputError("a calendar document must be an object")
        unknown = set(document) - _DOCUMENT_KEYS
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise InvalidInputError(f"unknown calendar fields: {names}")
        hours = document.get("hours")
        if not isinstance(hours, Mapping):
            raise InvalidInputError("a calendar document needs 'hours' by weekday (mon..sun)")
        bad_days = set(hours) - set(WEEKDAYS)
        if bad_days:
            raise InvalidInputError(
                f"unknown weekdays {', '.join(sorted(map(str, bad_days)))}; use mon..sun")
        week: list[tuple[Opening, ...]] = []
        for name in WEEKDAYS:
            raw = hours.get(name, [])
            if not isinstance(raw, list | tuple):
                raise InvalidInputError(f"{name}: openings must be a list such as ['09:00-17:00']")
            week.append(tuple(Opening.parse(cast(str, o)) for o in raw))
        raw_holidays = document.get("holidays", [])
        if not isinstance(raw_holidays, list | tuple):
            raise InvalidInputError("holidays must be a list of ISO dates")
        holidays: set[date] = set()
        for text in raw_holidays:
            try:
                holidays.add(date.fromisoformat(text))
            except (TypeError, ValueError):
                raise InvalidInputError(
                    f"holiday {text!r} is not an ISO date (YYYY-MM-DD)") from None
        return cls(cast(str, document.get("zone")), tuple(week), frozenset(holidays))

    # -- queries ------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        return any(s <= at < e for s, e in self._spans(self._local_date(at)))

    def next_open(self, at: datetime) -> datetime:
        """The first instant at or after `at` when the calendar is open."""
        at = _utc(at)
        day = self._local_date(at)
        while True:
            for s, e in self._spans(day):
                if e > at:
                    return max(s, at)
            day += _ONE_DAY

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which `duration` of business time has elapsed since `start`.

        Counting starts at the next opening when `start` falls outside hours; a duration that
        runs out exactly at closing time ends at closing time, not at the next opening.
        """
        start = _utc(start, "start")
        if duration < _ZERO:
            raise InvalidInputError("a business duration cannot be negative")
        if self._always_open or duration == _ZERO:
            return start + duration
        remaining = duration
        day = self._local_date(start)
        for s, e in self._spans(day):
            if e > start:
                s = max(s, start)
                if remaining <= e - s:
                    return s + remaining
                remaining -= e - s
        day += _ONE_DAY
        # Skip whole weeks while more than a week remains; short durations go day by day.
        while remaining > self._weekly and remaining > (week := self._week_time(day)):
            remaining -= week
            day += _ONE_WEEK
        while True:  # a week or so of days at most, unless holidays pile up
            for s, e in self._spans(day):
                if remaining <= e - s:
                    return s + remaining
                remaining -= e - s
            day += _ONE_DAY

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); negative when `b` is before `a`, like `b - a`."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.business_time_between(b, a)
        if self._always_open:
            return b - a
        first, last = self._local_date(a), self._local_date(b)
        if first == last:
            return _clipped(self._spans(first), a, b)
        total = _clipped(self._spans(first), a, b)
        day = first + _ONE_DAY
        while day + _ONE_WEEK <= last:
            total += self._week_time(day)
            day += _ONE_WEEK
        while day < last:
            total += self._day_time(day)
            day += _ONE_DAY
        return total + _clipped(self._spans(last), a, b)

    # -- internals ----------------------------------------------------------------------

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._tz).date()

    def _instant(self, day: date, minute: int) -> datetime:
        if minute == DAY_MINUTES:
            day, minute = day + _ONE_DAY, 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._tz)
        return local.astimezone(UTC)

    def _spans(self, day: date) -> tuple[Span, ...]:
        """The open UTC intervals of one local day, sorted and merged."""
        spans = self._day_spans.get(day)
        if spans is None:
            if len(self._day_spans) >= _DAY_SPANS_LIMIT:
                self._day_spans.clear()
            spans = self._day_spans[day] = self._measure_spans(day)
        return spans

    def _measure_spans(self, day: date) -> tuple[Span, ...]:
        if day in self.holidays:
            return ()
        raw = sorted((self._instant(day, o.start), self._instant(day, o.end))
                     for o in self.week[day.weekday()])
        spans: list[Span] = []
        for s, e in raw:
            if e <= s:  # wholly inside a skipped daylight-saving hour
                continue
            if spans and s <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
            else:
                spans.append((s, e))
        return tuple(spans)

    def _day_time(self, day: date) -> timedelta:
        return sum((e - s for s, e in self._spans(day)), _ZERO)

    def _offset(self, day: date) -> timedelta | None:
        return datetime.combine(day, time(0), tzinfo=self._tz).utcoffset()

    def _week_time(self, day: date) -> timedelta:
        """Business time of the seven local days from `day`, in O(log holidays).

        When the zone's offset is the same at both ends of the week, no daylight-saving change
        falls inside it (zones never change twice within a week), so the week is its nominal
        hours minus its holidays; otherwise the seven days are measured one by one.
        """
        end = day + _ONE_WEEK
        if self._offset(day) != self._offset(end):
            return sum((self._day_time(day + i * _ONE_DAY) for i in range(7)), _ZERO)
        lo = bisect.bisect_left(self._holiday_list, day)
        hi = bisect.bisect_left(self._holiday_list, end, lo)
        return self._weekly - sum((self._daily[h.weekday()] for h in self._holiday_list[lo:hi]),
                                  _ZERO)


def _clipped(spans: tuple[Span, ...], a: datetime, b: datetime) -> timedelta:
    total = _ZERO
    for s, e in spans:
        s, e = max(s, a), min(e, b)
        if e > s:
            total += e - s
    return total


_READ: dict[Hashable, BusinessCalendar] = {}
"""Calendars read by `from_document`, by `_document_key`; emptied when it reaches its limit."""


def _document_key(document: Mapping[str, object]) -> Hashable | None:
    """Everything `from_document` reads, as one hashable value; None unless the document is
    plain data (a zone name, lists of strings), so anything else is read, and refused, each
    time. Lists and tuples read alike, so they may share a key; nothing else may."""
    zone, hours = document.get("zone"), document.get("hours")
    holidays = document.get("holidays", ())
    if (type(zone) is not str or not isinstance(hours, Mapping)
            or not isinstance(holidays, list | tuple)):
        return None
    days = tuple(hours.items())
    if not all(isinstance(openings, list | tuple) for _, openings in days):
        return None
    key: Hashable = (zone, frozenset(document),
                     tuple((day, tuple(openings)) for day, openings in days), tuple(holidays))
    try:
        hash(key)
    except TypeError:
        return None
    return key


TWENTY_FOUR_SEVEN = BusinessCalendar.around_the_clock("UTC")
"""Open around the clock, no holidays: business time equals elapsed time. VIP plans use it."""


@cache
def default_calendar(tier: Tier, zone: str = DEFAULT_ZONE) -> BusinessCalendar:
    """The calendar a tier's SLA targets are counted in until the account sets its own.

    VIP: `TWENTY_FOUR_SEVEN` (zone irrelevant). Enterprise, Business and Standard: Monday to
    Friday 09:00-18:00 in the account's zone (Europe/Berlin unless it sets one), no holidays;
    an account adds its public holidays with `with_holidays`.
    """
    if tier is Tier.VIP:
        return TWENTY_FOUR_SEVEN
    return BusinessCalendar.office_hours(zone)


DEFAULT_CALENDARS: Mapping[Tier, BusinessCalendar] = MappingProxyType(
    {tier: default_calendar(tier) for tier in Tier})
"""`default_calendar(tier)` for every tier, in Europe/Berlin."""
