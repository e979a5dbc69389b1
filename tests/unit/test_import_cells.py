"""Reading imported cells: dates in the common formats and across daylight-saving changes,
booleans, amounts, vocabularies; an empty cell is missing, never zero."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from integrations.importers import cells
from integrations.importers.cells import BadCell
from integrations.importers.records import Origin, RevenueSpan
from integrations.importers.replayer import monthly_revenue
from integrations.importers.vocabulary import PRIORITIES

BERLIN = cells.zone("Europe/Berlin")


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("2026-01-05T10:30:00+01:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("2026-01-05 09:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
    ("1/5/2026", datetime(2026, 1, 5, tzinfo=UTC)),
    ("1/5/2026 9:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
    ("12/31/2025 11:59 PM", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
    ("12/31/2025 12:05 AM", datetime(2025, 12, 31, 0, 5, tzinfo=UTC)),
])
def test_common_date_formats(raw: str, expected: datetime) -> None:
    assert cells.moment(raw, "opened") == expected


@pytest.mark.parametrize("raw", ["13/45/2026", "yesterday", "2026-02-30", "1/5/2026 13:00 PM"])
def test_bad_dates_name_the_column(raw: str) -> None:
    with pytest.raises(BadCell, match="opened"):
        cells.moment(raw, "opened")


def test_empty_cells_are_missing_not_zero() -> None:
    assert cells.moment("  ", "opened") is None
    assert cells.boolean("", "churned") is None
    assert cells.integer("", "seats") is None
    assert cells.money(" ", "mrr") is None
    assert cells.choice("", "priority", PRIORITIES) is None


def test_local_times_across_daylight_saving_changes() -> None:
    # Berlin moves from 02:00 to 03:00 on 29 March 2026: 01:30 to 03:30 is one hour.
    before = cells.moment("3/29/2026 1:30", "opened", BERLIN)
    after = cells.moment("3/29/2026 3:30", "first_response", BERLIN)
    assert before is not None
    assert after is not None
    assert (after - before).total_seconds() == 3600
    with pytest.raises(BadCell, match="does not exist"):
        cells.moment("2026-03-29 02:30", "opened", BERLIN)
    # 02:30 happens twice on 25 October 2026: the first one (summer time) is meant.
    assert cells.moment("2026-10-25 02:30", "opened", BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC)
    # An explicit offset wins over the zone.
    assert cells.moment("2026-03-29T02:30:00+01:00", "opened", BERLIN) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "expected"), [
    ("TRUE", True), ("false", False), ("yes", True), ("No", False), ("1", True), ("0", False)])
def test_booleans(raw: str, expected: bool) -> None:
    assert cells.boolean(raw, "churned") is expected


def test_bad_values_are_refused_with_their_column() -> None:
    with pytest.raises(BadCell, match="churned: 'maybe'"):
        cells.boolean("maybe", "churned")
    with pytest.raises(BadCell, match="mrr"):
        cells.money("-5", "mrr")
    with pytest.raises(BadCell, match="priority: unknown value 'asap'"):
        cells.choice("asap", "priority", PRIORITIES)
    with pytest.raises(BadCell, match="unknown time zone"):
        cells.zone("Mars/Olympus")
    assert cells.money("1,250.50", "mrr") == Decimal("1250.50")
    assert cells.choice(" Medium ", "priority", PRIORITIES) == "normal"


def _span(start: str, end: str | None, mrr: int) -> RevenueSpan:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    return RevenueSpan(at(start), at(end) if end else None, Decimal(mrr), "EUR",
                       Origin("revenue.csv", 2))


def test_subscriptions_become_monthly_revenue_changes() -> None:
    changes = monthly_revenue([_span("2025-01-15", None, 1000), _span("2025-03-01", "2025-04-30",
                                                                      500)],
                              until=date(2025, 7, 1))
    assert changes == [(date(2025, 1, 1), 1000), (date(2025, 3, 1), 1500),
                       (date(2025, 5, 1), 1000)]
    ended = monthly_revenue([_span("2025-01-01", "2025-02-28", 300)], until=date(2025, 7, 1))
    assert ended == [(date(2025, 1, 1), 300), (date(2025, 3, 1), 0)]
    assert monthly_revenue([], until=date(2025, 7, 1)) == []


def test_a_date_alone_is_that_day_in_any_zone() -> None:
    assert cells.moment("2/1/2025", "start", BERLIN) == datetime(2025, 2, 1, tzinfo=UTC)
    assert cells.moment("2025-02-01", "start", BERLIN) == datetime(2025, 2, 1, tzinfo=UTC)
