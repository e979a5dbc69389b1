"""The demo seeds a believable portfolio: green, yellow and red accounts, churn and expansion,
folded by the real projections; and seeding again with the same seed adds nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.demo import DemoGenerator
from domain.application import CareDesk
from integrations.clock import FakeClock
from projections.money import ReportingRates
from projections.registry import all_projections
from projections.runner import ApplicationLog, ProjectionRunner
from projections.store import SQLiteViewStore, ViewStore
from tests.unit.helpers import head, new_desk

UNTIL = date(2026, 3, 1)
ACCOUNTS, MONTHS, SEED = 30, 5, 7


@pytest.fixture(scope="module")
def seeded() -> Any:
    desk = new_desk(FakeClock(datetime(2026, 3, 1, 12, tzinfo=UTC)))
    summary = DemoGenerator(desk, accounts=ACCOUNTS, months=MONTHS, seed=SEED,
                            until=UNTIL).run()
    yield desk, summary, fold(desk)
    desk.close()


def fold(desk: CareDesk) -> ViewStore:
    store = SQLiteViewStore.in_memory()
    rates = ReportingRates("EUR", {"USD": Decimal("0.9")})
    for projection in all_projections(rates):
        runner = ProjectionRunner(projection, store, ApplicationLog(desk), 1000)
        runner.prepare()
        runner.catch_up()
    return store


def rows(store: ViewStore, sql: str) -> list[dict[str, Any]]:
    with store.reader() as tx:
        return tx.fetch_all(sql, ())


def test_the_live_accounts_are_green_yellow_and_red(seeded: Any) -> None:
    _, summary, store = seeded
    live = rows(store, "SELECT h.confirmed_band FROM accounts a JOIN account_health h "
                       "ON h.account_id = a.id WHERE a.churned = 0")
    bands = Counter(r["confirmed_band"] for r in live)
    assert summary.accounts == ACCOUNTS
    assert bands["green"] > len(live) / 2, bands
    assert bands["yellow"] >= 2, bands
    assert bands["red"] >= 2, bands
    assert bands["green"] > bands["yellow"] + bands["red"], bands


def test_some_accounts_churn_and_some_expand(seeded: Any) -> None:
    _, summary, store = seeded
    churned = rows(store, "SELECT id FROM accounts WHERE churned = 1")
    assert churned, "a few clients leave"
    assert len(churned) == summary.churned
    revenue = rows(store, "SELECT account_id, period, mrr_cents FROM account_revenue "
                          "ORDER BY account_id, period")
    history: dict[str, list[int]] = {}
    for r in revenue:
        history.setdefault(r["account_id"], []).append(r["mrr_cents"])
    expanded = [a for a, mrr in history.items() if max(mrr) > mrr[0]]
    contracted = [a for a, mrr in history.items() if min(mrr) < mrr[0]]
    assert expanded, "some accounts grow during the period"
    assert contracted, "some ask to pay less"


def test_health_is_explained_by_the_signals_the_demo_sends(seeded: Any) -> None:
    _, _, store = seeded
    health = rows(store, "SELECT h.band, h.renewal_risk, h.explanation FROM accounts a "
                         "JOIN account_health h ON h.account_id = a.id WHERE a.churned = 0")
    gated_red = [h for h in health if h["band"] == "red" and h["renewal_risk"] == "at_risk"]
    assert gated_red, "the manager flags the renewal of the accounts going bad"
    risks = Counter(h["renewal_risk"] for h in health)
    assert risks["none"] > len(health) / 2, risks
    closes = rows(store, "SELECT account_id, COUNT(DISTINCT band) AS n FROM health_closes "
                         "WHERE day >= '2025-09-01' GROUP BY account_id")
    assert any(r["n"] > 1 for r in closes), "health moves over time"


def test_seeding_again_adds_nothing(seeded: Any) -> None:
    desk, _, _ = seeded
    before = head(desk)
    again = DemoGenerator(desk, accounts=ACCOUNTS, months=MONTHS, seed=SEED, until=UNTIL).run()
    assert head(desk) == before
    assert (again.accounts, again.cases, again.touchpoints, again.invoices) == (0, 0, 0, 0)
