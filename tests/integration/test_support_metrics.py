"""The support-metrics view on real SQLite and PostgreSQL: incremental equals rebuilt, rollups
equal case rows, and medians equal an independent computation."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from api.demo import DemoGenerator
from api.runtime import Runtime
from projections.case_queues import CaseFilter
from projections.support_metrics import MetricFilter, MetricQuery
from projections.support_tally import DIMENSIONS
from tests.conftest import START
from tests.integration.test_projections import dump

pytestmark = pytest.mark.integration


def _nps_answers(runtime: Runtime) -> None:
    desk = runtime.desk
    account_id = desk.open_account(name="Survey Corp", tier="business", manager="Anna Berg",
                                   currency="EUR", actor="staff:ann",
                                   occurred_at=START - timedelta(days=90)).ids["accountId"]
    contacts = [desk.add_contact(account_id=account_id, name=n, email=f"{n}@survey.example",
                                 role="user", actor="staff:ann",
                                 occurred_at=START - timedelta(days=89)).ids["contactId"]
                for n in ("ann", "bob", "cid")]
    for n, contact in enumerate(contacts * 3):
        desk.record_nps(account_id=account_id, contact_id=contact, score=(n * 7) % 11,
                        survey=f"wave-{n // 3}", actor="contact:x",
                        occurred_at=START - timedelta(days=80 - 9 * n))


def test_incremental_folding_equals_a_rebuild(runtime: Runtime) -> None:
    runner = runtime.runner("support_metrics")
    runner.page_size = 7  # many page boundaries inside cases' histories
    original = runtime.desk.save

    def save_and_fold(*args: Any, **kwargs: Any) -> Any:
        recordings = original(*args, **kwargs)
        runner.run_page()
        return recordings

    runtime.desk.save = save_and_fold  # type: ignore[method-assign]
    try:
        DemoGenerator(runtime.desk, accounts=6, months=2, seed=11, until=date(2026, 3, 1)).run()
        _nps_answers(runtime)
    finally:
        del runtime.desk.save
    runner.catch_up()
    kept = dump(runtime.store, runner.projection)
    runner.rebuild()
    assert dump(runtime.store, runner.projection) == kept
    assert all(kept.values()), "cases, rollups and NPS answers were all folded"


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    DemoGenerator(runtime.desk, accounts=10, months=3, seed=5, until=date(2026, 3, 1)).run()
    _nps_answers(runtime)
    for runner in runtime.runners:
        runner.catch_up()
    return runtime


@pytest.mark.parametrize("grain", ["day", "week", "month", None])
def test_rollups_and_case_rows_give_the_same_report(seeded: Runtime, grain: str | None) -> None:
    view = seeded.services.support
    ranges = [(None, None), (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
              if grain != "week" else
              (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),
              # cuts weeks and months: read from day rollups
              (datetime(2025, 12, 10, tzinfo=UTC), datetime(2026, 2, 19, tzinfo=UTC))]
    cases = view.report(MetricQuery(group_by=("account", "agent", "line", "priority", "channel")))
    some = next(r["dimensions"] for r in cases if r["dimensions"]["agent"] is not None)
    filters = [MetricFilter(account_id=some["account"]), MetricFilter(agent=some["agent"]),
               MetricFilter(line=some["line"]), MetricFilter(priority=some["priority"]),
               MetricFilter(channel=some["channel"])]
    queries = [MetricQuery(group_by=dims, grain=grain, start=start, end=end, where=where)
               for start, end in ranges
               for where in [MetricFilter(), *filters]
               for dims in ([(), *((d,) for d in DIMENSIONS)] if where.empty
                            else [(), (where.narrowing()[0][0],)])]
    # Two dimensions: the cells (by month, or the whole range).
    queries += [MetricQuery(group_by=dims, grain=grain, start=start, end=end, where=where)
                for start, end in ranges
                for dims, where in [
                    (("channel", "priority"), MetricFilter()),
                    (("topic", "line", "channel"), MetricFilter()),
                    (("priority",), MetricFilter(channel=some["channel"])),
                    ((), MetricFilter(channel=some["channel"], line=some["line"])),
                    (("topic",), MetricFilter(priority=some["priority"], line=some["line"])),
                    # an agent or an account with another dimension
                    (("agent",), MetricFilter(channel=some["channel"])),
                    (("agent", "topic"), MetricFilter()),
                    (("priority",), MetricFilter(agent=some["agent"])),
                    (("account", "line"), MetricFilter()),
                    (("channel",), MetricFilter(account_id=some["account"])),
                    (("agent",), MetricFilter(account_id=some["account"])),
                    (("account", "agent"), MetricFilter())]]
    # (which queries rollups answer: test_rollups_answer_whole_days_of_the_dimensions_of_a_set)
    crossed = 0
    for query in queries:
        source = query.rollups()
        if source is None:
            continue
        crossed += len(source[0].dims) > 1
        fast = view.report(query)
        assert fast, query
        assert fast == view.report(query, rollups=False), query
    assert crossed >= {"day": 9, "week": 9}.get(grain or "", 23)


def test_median_first_response_per_priority_equals_an_independent_computation(
        seeded: Runtime) -> None:
    cases = seeded.services.cases.page(CaseFilter(), first=200, after=None).rows
    by_priority: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        if case["first_response_at"] is not None:  # demo replies fall on fractions of seconds
            by_priority[case["priority"]].append(
                (case["first_response_at"] - case["opened_at"]).total_seconds())
    report = seeded.services.support.report(MetricQuery(group_by=("priority",)))
    assert len(cases) < 200
    assert {r["dimensions"]["priority"]: r["first_response_median"] for r in report} == {
        p: pytest.approx(statistics.median(v), rel=1e-12) for p, v in by_priority.items()}
    assert {r["dimensions"]["priority"]: r["opened"] for r in report} == {
        p: sum(1 for c in cases if c["priority"] == p) for p in by_priority}


def test_filters_narrow_the_cases(seeded: Runtime) -> None:
    view = seeded.services.support
    everything = view.report(MetricQuery(group_by=("channel", "line"), grain="month"))
    for row in everything[:5]:
        dims = row["dimensions"]
        only = view.report(MetricQuery(
            grain="month", start=datetime.combine(row["period_start"], datetime.min.time(), UTC),
            where=MetricFilter(channel=dims["channel"], line=dims["line"])))[0]
        assert only["opened"] == row["opened"]
        assert only["first_response_median"] == row["first_response_median"]
    nothing = view.report(MetricQuery(where=MetricFilter(agent="nobody at all")))
    assert nothing == []
