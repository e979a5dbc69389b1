"""Parsing of the cells of imported rows: dates, booleans, numbers, enumerations.

An empty cell is missing (None), never zero or false. Every parser raises `BadCell` with a
message that names the column and the value, which becomes the row's rejection reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo


class BadCell(ValueError):
    """A cell that cannot be read; the message says which and why."""


_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?"
                      r"\s*([AaPp][Mm])?)?$")


def text(raw: str | None) -> str | None:
    """A cell's text with outer blanks removed; blank is missing."""
    if raw is None:
        return None
    value = raw.strip()
    return value or None


def boolean(raw: str | None, column: str) -> bool | None:
    value = text(raw)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadCell(f"{column}: {value!r} is not a boolean (TRUE/FALSE, yes/no, 1/0)")


def integer(raw: str | None, column: str) -> int | None:
    value = text(raw)
    if value is None:
        return None
    try:
        return int(value.replace(",", "").replace("_", ""))
    except ValueError:
        raise BadCell(f"{column}: {value!r} is not a whole number") from None


def money(raw: str | None, column: str) -> Decimal | None:
    value = text(raw)
    if value is None:
        return None
    try:
        amount = Decimal(value.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise BadCell(f"{column}: {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise BadCell(f"{column}: {value!r} must be a non-negative amount")
    return amount


def choice(raw: str | None, column: str, choices: Mapping[str, str]) -> str | None:
    """A value from a vocabulary (case and blanks ignored); `choices` maps spellings to ours."""
    value = text(raw)
    if value is None:
        return None
    key = "_".join(value.lower().replace("-", " ").split())
    if key not in choices:
        known = ", ".join(sorted(set(choices)))
        raise BadCell(f"{column}: unknown value {value!r}; expected one of: {known}")
    return choices[key]


def api_time(value: Any, what: str) -> datetime | None:
    """A time from a helpdesk's JSON: ISO 8601 with an offset (or `Z`), as UTC; None if empty."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadCell(f"{what}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadCell(f"{what}: {value!r} has no offset")
    return parsed.astimezone(UTC)


def zone(name: str) -> tzinfo:
    """The zone naive times are read in (`UTC`, `Europe/Berlin`, ...)."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as error:
        raise BadCell(f"unknown time zone {name!r}") from error


def moment(raw: str | None, column: str, local: tzinfo = UTC) -> datetime | None:
    """A point in time from ISO 8601, `M/D/YYYY`, `M/D/YYYY H:MM[:SS] [AM|PM]` or a date.

    Times without an offset are wall-clock times in `local`: a time skipped by a daylight-saving
    change (02:30 on the spring-forward night) is refused, a repeated one (autumn) is read as
    the first of the two. A date alone is that calendar day from midnight UTC, whatever the
    zone, so signup, subscription and churn dates land on the day written.
    """
    value = text(raw)
    if value is None:
        return None
    parsed = _parse(value)
    if parsed is not None and _is_date_only(value):
        return parsed.replace(tzinfo=UTC)
    if parsed is None:
        raise BadCell(f"{column}: {value!r} is not a date or time (ISO 8601, M/D/YYYY or "
                      f"M/D/YYYY H:MM)")
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    aware = parsed.replace(tzinfo=local)
    back = aware.astimezone(UTC).astimezone(local).replace(tzinfo=None)
    if back != parsed:
        raise BadCell(f"{column}: {value} does not exist in {local} (skipped by a "
                      f"daylight-saving change)")
    return aware.astimezone(UTC)


def _is_date_only(value: str) -> bool:
    return ":" not in value and len(value) <= 10


def _parse(value: str) -> datetime | None:
    us = _US_DATE.match(value)
    if us is not None:
        month, day, year, hour, minute, second, half = us.groups()
        try:
            hours = int(hour or 0)
            if half is not None:
                if not 1 <= hours <= 12:
                    return None
                hours = hours % 12 + (12 if half.lower() == "pm" else 0)
            return datetime(int(year), int(month), int(day), hours, int(minute or 0),
                            int(second or 0))
        except ValueError:
            return None
    candidate = value.replace("Z", "+00:00").replace("z", "+00:00")
    if " " in candidate and "T" not in candidate:
        candidate = candidate.replace(" ", "T", 1)
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    try:
        return datetime.combine(date.fromisoformat(value), time())
    except ValueError:
        return None
