"""The `account_health` read model folded by the real runner from a CareDesk log: gates with
the events behind them, daily closes, model versions, late history, and memory between pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from projections.account_health import AccountHealthProjection
from projections.runner import ApplicationLog, ProjectionRunner
from projections.store import SQLiteViewStore, ViewStore
from tests.unit.helpers import CLIENT, STAFF, START, notifications

DAY = timedelta(days=1)


def fold(desk: Any, page_size: int = 1000, store: ViewStore | None = None) -> ViewStore:
    store = store or SQLiteViewStore.in_memory()
    runner = ProjectionRunner(AccountHealthProjection(), store, ApplicationLog(desk), page_size)
    runner.prepare()
    runner.catch_up()
    return store


def health(store: ViewStore, account_id: UUID) -> dict[str, Any]:
    with store.reader() as tx:
        row = tx.fetch_one("SELECT * FROM account_health WHERE account_id = ?",
                           (str(account_id),))
    assert row is not None
    row["explanation"] = json.loads(row["explanation"])
    row["change7"] = json.loads(row["change7"])
    return row


def closes(store: ViewStore, account_id: UUID) -> list[dict[str, Any]]:
    with store.reader() as tx:
        return tx.fetch_all("SELECT * FROM health_closes WHERE account_id = ? ORDER BY day",
                            (str(account_id),))


def dump(store: ViewStore) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with store.reader() as tx:
        for table in AccountHealthProjection.tables:
            rows = tx.fetch_all(f"SELECT * FROM {table.name} ORDER BY {', '.join(table.key)}")
            out[table.name] = [tuple(r.values()) for r in rows]
    return out


@pytest.fixture
def account(desk: Any) -> UUID:
    result = desk.open_account(name="Acme", tier="vip", manager="Ann", currency="EUR",
                               actor=STAFF)
    return result.ids["accountId"]


def _position_of(desk: Any, topic: str) -> int:
    return [n.id for n in notifications(desk) if n.topic == topic][-1]


def test_renewal_risk_at_risk_caps_the_score_red_and_names_its_event(desk, clock, account):
    desk.report_usage(account_id=account, active_users=40, licensed_seats=50, actor=STAFF)
    clock.advance(timedelta(hours=2))
    desk.set_renewal_risk(account_id=account, level="at_risk", note="budget freeze",
                          actor=STAFF)

    row = health(fold(desk), account)

    assert float(row["coverage"]) >= 0.6, "usage, support, engagement and billing are known"
    assert row["score"] <= 49
    assert row["band"] == "red"
    gate = next(g for g in row["explanation"]["gates"] if g["key"] == "G2")
    assert gate["binding"] is True
    assert gate["evidence"] == str(_position_of(desk, "carelog:Account.RenewalRiskSet"))
    assert gate["actor"] == STAFF
    assert row["renewal_risk"] == "at_risk"


def test_each_passed_day_gets_one_close_and_the_trend_reads_them(desk, clock, account):
    for _ in range(10):
        clock.advance(DAY)
        desk.log_touchpoint(account_id=account, kind="call", two_way=True, actor=STAFF)

    store = fold(desk)

    days = [c["day"] for c in closes(store, account)]
    # From the first day with activity (the opening alone is none) to the day before the last.
    assert days == [(START + i * DAY).date().isoformat() for i in range(1, 10)]
    row = health(store, account)
    assert row["as_of"] is not None
    assert row["delta7"] is not None
    assert row["arrow"] in ("up", "down", "flat")


def test_the_view_is_the_same_however_the_log_is_paged(desk, clock, account):
    case = desk.open_case(account_id=account, channel="email", subject="Down", text="Help",
                          actor=CLIENT, priority="urgent").ids["caseId"]
    for hours in (1, 5, 30, 49):
        clock.advance(timedelta(hours=hours))
        desk.log_touchpoint(account_id=account, kind="meeting", two_way=True, actor=STAFF)
    desk.escalate_case(case_id=case, reason="db", actor=STAFF)
    clock.advance(timedelta(days=3))
    desk.resolve_case(case_id=case, actor=STAFF)
    desk.rate_case(case_id=case, csat=2, actor=CLIENT)

    assert dump(fold(desk, page_size=1)) == dump(fold(desk, page_size=1000))


def test_two_runners_taking_turns_agree_with_one(desk, clock, account):
    """Memory kept between pages is dropped when another process folded the pages between."""
    store = SQLiteViewStore.in_memory()
    log = ApplicationLog(desk)
    first = ProjectionRunner(AccountHealthProjection(), store, log, 1)
    second = ProjectionRunner(AccountHealthProjection(), store, log, 1)
    first.prepare()
    second.prepare()
    for step in range(12):
        clock.advance(timedelta(hours=7))
        desk.log_touchpoint(account_id=account, kind="call", two_way=step % 2 == 0,
                            actor=STAFF)
        (first if step % 3 else second).run_page()
        (second if step % 3 else first).run_page()
    first.catch_up()

    assert dump(store) == dump(fold(desk))


def test_history_recorded_late_recomputes_the_closes_from_its_day(desk, clock, account):
    clock.advance(10 * DAY)
    desk.log_touchpoint(account_id=account, kind="call", two_way=True, actor=STAFF)
    store = fold(desk)
    before = {c["day"]: c["score"] for c in closes(store, account)}

    desk.set_renewal_risk(account_id=account, level="churn_notice", actor=STAFF,
                          occurred_at=START + 2 * DAY)
    runner = ProjectionRunner(AccountHealthProjection(), store, ApplicationLog(desk))
    runner.prepare()
    runner.catch_up()

    after = {c["day"]: c["score"] for c in closes(store, account)}
    late = (START + 2 * DAY).date().isoformat()
    assert all(after[d] == before[d] for d in after if d < late)
    assert all(after[d] <= 49 for d in after if d >= late)
    assert dump(store) == dump(fold(desk))


def test_publishing_a_model_recomputes_history_under_the_new_version(desk, clock, account):
    for _ in range(5):
        clock.advance(DAY)
        desk.log_touchpoint(account_id=account, kind="call", two_way=True, actor=STAFF)

    result = desk.publish_health_model(document={"caps": {"G2": 30}}, note="stricter",
                                       actor=STAFF)
    store = fold(desk)

    assert result.extra == {"modelVersion": 2}
    assert {c["model_version"] for c in closes(store, account)} == {2}
    assert health(store, account)["model_version"] == 2



def test_accounts_untouched_by_a_page_keep_a_score_that_does_not_depend_on_paging(desk, clock,
                                                                                   account):
    other = desk.open_account(name="Birch", tier="business", manager="Bo", currency="EUR",
                              actor=STAFF).ids["accountId"]
    clock.advance(timedelta(days=2, minutes=5))
    desk.log_touchpoint(account_id=account, kind="call", two_way=True, actor=STAFF)
    clock.advance(timedelta(minutes=15))  # the same hour: no re-scoring of everyone
    desk.log_touchpoint(account_id=other, kind="call", two_way=True, actor=STAFF)

    paged, whole = fold(desk, page_size=1), fold(desk, page_size=1000)

    assert dump(paged) == dump(whole)
    assert health(paged, account)["as_of"] == health(whole, account)["as_of"]
