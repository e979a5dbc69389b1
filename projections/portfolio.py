"""Revenue-linked KPIs of the key-account portfolio, read across three views.

ARR and its history come from `accounts`, health bands and renewal dates from
`account_health`, ticket counts from `case_queues`; the formulas are `projections.revenue_math`.
Nothing here keeps tables of its own: every figure is computed from the views it reads, as of
the moment those views stand at (or, over replayed views, as of a past moment).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import InvalidInputError
from projections.account_health import AccountHealthProjection
from projections.accounts import AccountsProjection
from projections.case_queues import CaseQueuesProjection
from projections.money import ReportingRates, from_cents
from projections.revenue_math import (
    AccountSnapshot,
    Band,
    Movement,
    Retention,
    RevenueAtRisk,
    RevenueTimeline,
    Waterfall,
    Weighted,
    arr_waterfall,
    classify,
    cost_to_serve,
    retention,
    revenue_at_risk,
    share_by_band,
    ticket_intensity,
    weighted_csat,
    weighted_health,
    weighted_sla_attainment,
)
from projections.schema import from_sqlite, stamp
from projections.store import ViewStore, ViewTransaction

_SELECT = (
    "WITH ranked AS (SELECT id, ROW_NUMBER() OVER (ORDER BY arr_reporting_cents DESC, id) AS rank"
    " FROM accounts WHERE churned = ?) "
    "SELECT r.rank, a.id, a.name, a.manager, a.tier, a.arr_reporting_cents, "
    "h.score, h.band, h.confirmed_band, h.coverage, h.delta7, h.delta30, h.arrow, "
    "h.renewal_on, h.renewal_risk, h.renewal_likelihood, h.sentiment, h.disagreement, "
    "h.as_of{explanation} "
    "FROM accounts a LEFT JOIN ranked r ON r.id = a.id "
    "LEFT JOIN account_health h ON h.account_id = a.id "
)
_TOP = f"{_SELECT} WHERE r.rank <= ? ORDER BY r.rank"
_ONE = f"{_SELECT} WHERE a.id = ?"
_LEAN, _FULL = {"explanation": ""}, {"explanation": ", h.explanation"}
MAX_TOP = 1000
RISK_HORIZON_DAYS = 180


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """One account's revenue-linked figures: ARR over the year, support load, cost."""

    arr: Decimal
    arr_year_ago: Decimal
    movement: Movement
    tickets_90d: int
    tickets_per_100k_arr: Decimal | None
    csat: Decimal | None
    csat_responses: int
    sla_attainment: Decimal | None
    cost_to_serve: Decimal
    cost_ratio: Decimal | None


@dataclass(frozen=True, slots=True)
class Kpis:
    """The revenue-based Care KPIs of one period, over the key accounts."""

    start: date
    end: date
    key_accounts: int
    arr: Decimal
    retention: Retention
    waterfall: Waterfall
    at_risk: RevenueAtRisk
    share_by_band: dict[str, Decimal] | None
    weighted_health: Weighted
    weighted_csat: Weighted
    weighted_sla: Weighted
    ticket_intensity: Decimal | None
    cost_to_serve: Decimal
    cost_ratio: Decimal | None


class PortfolioView:
    """The top accounts by ARR with their health, and the KPIs computed over them."""

    projections = (AccountsProjection.name, AccountHealthProjection.name,
                   CaseQueuesProjection.name)

    def __init__(self, store: ViewStore, rates: ReportingRates, key_accounts: int) -> None:
        self.store = store
        self.rates = rates
        self.key_accounts = key_accounts
        self._kept_timelines: tuple[str | None, dict[str, RevenueTimeline]] | None = None
        self._building = threading.Lock()

    def warm(self) -> None:
        """Build what every dashboard load needs (the revenue timelines) before one asks."""
        self._timelines(None)

    def top(self, n: int) -> list[dict[str, Any]]:
        """The `n` largest live accounts by ARR, with health; rank 1 is the largest."""
        return self._top(n, _LEAN)

    def _top(self, n: int, columns: dict[str, str]) -> list[dict[str, Any]]:
        if not 1 <= n <= MAX_TOP:
            raise InvalidInputError(f"top must be between 1 and {MAX_TOP}")
        return self._rows(_TOP.format(**columns), (False, n))

    def band_history(self, n: int, days: int) -> list[tuple[date, dict[str, tuple[int, Decimal]]]]:
        """Day by day over the last `days` closed days: how many of today's top-`n` accounts
        were in each confirmed band, and their ARR on that day (a day on which an account had
        no close yet leaves it out of that day)."""
        if not 1 <= days <= 730:
            raise InvalidInputError("days must be between 1 and 730")
        ids = [r["id"] for r in self._top(n, _LEAN)]
        if not ids:
            return []
        with self.store.reader() as tx:
            through = tx.fetch_one(
                "SELECT value FROM health_settings WHERE key = 'closed_through'")
            if through is None:
                return []
            since = date.fromisoformat(through["value"]) - timedelta(days=days - 1)
            # Unordered: sorting 18,000 rows by text costs PostgreSQL more than the read.
            rows = tx.fetch_tuples(
                "SELECT account_id, day, confirmed_band FROM health_closes WHERE day >= ? "
                f"AND account_id IN ({', '.join('?' * len(ids))})", [since.isoformat(), *ids])
        closes: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for account_id, day, band in rows:
            closes[account_id].append((day, band))
        timelines = {t.account_id: t for t in self._timelines(ids)}
        totals: dict[tuple[str, str], list[Any]] = {}
        for account_id, in_order in closes.items():
            in_order.sort()
            steps, step = timelines[account_id].steps, 0
            for day, band in in_order:  # in day order: ARR steps are passed once
                on = date.fromisoformat(day)
                while step < len(steps) and steps[step][0] <= on:
                    step += 1
                total = totals.setdefault((day, band or "grey"), [0, Decimal(0)])
                total[0] += 1
                if step:
                    total[1] += steps[step - 1][1]
        by_day: dict[date, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
        for (day, band), (count, arr) in totals.items():
            by_day[date.fromisoformat(day)][band] = (count, arr)
        return sorted(by_day.items())

    def account_kpis(self, account_id: str, end: date) -> AccountFigures | None:
        """One account's revenue figures over the year to `end` (None: no such account)."""
        rows = self._rows(_ONE.format(**_FULL), (False, account_id))
        if not rows:
            return None
        row = rows[0]
        since = datetime.combine(end - timedelta(days=90), time(), UTC)
        snapshot = self._snapshot(row, self._case_figures([account_id], since)[0])
        (timeline,) = self._timelines([account_id])
        year_ago = end - timedelta(days=365)
        cost = cost_to_serve([snapshot], 90)
        answered = snapshot.csat_satisfied + snapshot.csat_unsatisfied
        return AccountFigures(
            arr=timeline.arr_at(end), arr_year_ago=timeline.arr_at(year_ago),
            movement=classify(timeline, year_ago, end), tickets_90d=snapshot.tickets,
            tickets_per_100k_arr=ticket_intensity([snapshot], 90),
            csat=(Decimal(snapshot.csat_satisfied) / answered) if answered else None,
            csat_responses=answered,
            sla_attainment=(None if snapshot.sla_breach_rate is None
                            else 1 - snapshot.sla_breach_rate),
            cost_to_serve=cost.cost, cost_ratio=cost.ratio)

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.store.reader() as tx:
            rows = tx.fetch_all(sql, params)
        for row in rows:
            if self.store.dialect == "sqlite":
                row["as_of"] = from_sqlite(row["as_of"], "timestamp")
                row["disagreement"] = from_sqlite(row["disagreement"], "bool")
        return rows

    def kpis(self, start: date, end: date) -> Kpis:
        """Retention over [start, end] and the portfolio's state at `end`, key accounts only."""
        if start >= end:
            raise InvalidInputError("the period must end after it starts")
        top = self._top(self.key_accounts, _FULL)
        ids = [r["id"] for r in top]
        window_start = datetime.combine(end - timedelta(days=90), time(), UTC)
        snapshots = [self._snapshot(r, extra) for r, extra in
                     zip(top, self._case_figures(ids, window_start), strict=True)]
        timelines = self._key_timelines(start, set(ids))
        arr = sum((s.arr for s in snapshots), Decimal(0))
        cost = cost_to_serve(snapshots, 90)
        return Kpis(
            start=start, end=end, key_accounts=len(snapshots), arr=arr,
            retention=retention(timelines, start, end),
            waterfall=arr_waterfall(timelines, start, end),
            at_risk=revenue_at_risk(snapshots, end),
            share_by_band={str(k): v for k, v in (share_by_band(snapshots) or {}).items()}
            or None,
            weighted_health=weighted_health(snapshots),
            weighted_csat=weighted_csat(snapshots),
            weighted_sla=weighted_sla_attainment(snapshots),
            ticket_intensity=ticket_intensity(snapshots, 90),
            cost_to_serve=cost.cost, cost_ratio=cost.ratio)

    def _snapshot(self, row: dict[str, Any], cases: dict[str, Any]) -> AccountSnapshot:
        explanation = json.loads(row["explanation"]) if row["explanation"] else None
        breach_rate = _sub_metric(explanation, "A1")
        renewal = date.fromisoformat(row["renewal_on"]) if row["renewal_on"] else None
        return AccountSnapshot(
            account_id=row["id"], arr=from_cents(row["arr_reporting_cents"]),
            band=Band(row["confirmed_band"] or "grey"), health_score=row["score"],
            csat_satisfied=cases["satisfied"], csat_unsatisfied=cases["unsatisfied"],
            sla_breach_rate=None if breach_rate is None else Decimal(str(breach_rate)),
            renewal_date=renewal, renewal_likelihood=row["renewal_likelihood"],
            tickets=cases["tickets"], tickets_by_kind=cases["by_kind"])

    def _case_figures(self, ids: list[str], since: datetime) -> list[dict[str, Any]]:
        """Tickets opened and CSAT answers per account in the 90 days before the period end."""
        figures: dict[str, dict[str, Any]] = {
            i: {"tickets": 0, "satisfied": 0, "unsatisfied": 0, "by_kind": defaultdict(int)}
            for i in ids}
        if ids:
            marks = ", ".join("?" * len(ids))
            at = stamp(since, self.store.dialect)
            with self.store.reader() as tx:
                rows = tx.fetch_all(
                    "SELECT account_id, priority, channel, COUNT(*) AS n, "
                    "SUM(CASE WHEN csat >= 4 THEN 1 ELSE 0 END) AS satisfied, "
                    "SUM(CASE WHEN csat <= 3 THEN 1 ELSE 0 END) AS unsatisfied "
                    f"FROM cases WHERE account_id IN ({marks}) AND opened_at >= ? "
                    "GROUP BY account_id, priority, channel", (*ids, at))
            for r in rows:
                f = figures[r["account_id"]]
                f["tickets"] += r["n"]
                f["satisfied"] += r["satisfied"] or 0
                f["unsatisfied"] += r["unsatisfied"] or 0
                f["by_kind"][(r["priority"], r["channel"])] += r["n"]
        for f in figures.values():
            f["by_kind"] = dict(f["by_kind"])
        return [figures[i] for i in ids]

    def _key_timelines(self, start: date, key_at_end: set[str]) -> list[RevenueTimeline]:
        """Timelines of the key accounts at `start` (the cohort) and of those at the end.

        The cohort is taken at the start of the period: an account that churned during it has
        left today's top list, and leaving it out would hide exactly the churn GRR measures.
        """
        timelines = self._timelines(None)
        at_start = sorted((t for t in timelines if t.arr_at(start) > 0),
                          key=lambda t: (-t.arr_at(start), t.account_id))[:self.key_accounts]
        cohort = {t.account_id for t in at_start}
        return [t for t in timelines if t.account_id in cohort or t.account_id in key_at_end]

    def _timelines(self, ids: list[str] | None) -> list[RevenueTimeline]:
        """Revenue timelines of these accounts (None: of every account).

        Every account's timeline is built at once and kept while the accounts view keeps its
        version (read in the same transaction as the rows): the KPIs and the health history
        need them on every dashboard load, and revenue changes far more rarely than health.
        """
        # One reader builds them; the others (a dashboard asks for several figures at once)
        # wait for its timelines rather than build the same again beside it.
        with self._building, self.store.reader() as tx:
            found = tx.fetch_one("SELECT version FROM view_versions WHERE name = ?",
                                 (AccountsProjection.name,))
            version = None if found is None else str(found["version"])
            kept = self._kept_timelines
            if version is None or kept is None or kept[0] != version:
                kept = (version, self._read_timelines(tx))
                if version is not None:
                    self._kept_timelines = kept
        everyone = kept[1]
        if ids is None:
            return list(everyone.values())
        return [everyone.get(i) or RevenueTimeline(i, []) for i in ids]

    def _read_timelines(self, tx: ViewTransaction) -> dict[str, RevenueTimeline]:
        revenue = tx.fetch_all("SELECT account_id, period, mrr_cents, currency "
                               "FROM account_revenue ORDER BY account_id, period")
        accounts = tx.fetch_all("SELECT id, churned_at FROM accounts")
        by_account: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
        for r in revenue:
            mrr = from_cents(self.rates.convert_cents(r["mrr_cents"], r["currency"]))
            by_account[r["account_id"]].append((r["period"], mrr))
        return {r["id"]: RevenueTimeline(
                    r["id"], by_account.get(r["id"], []),
                    churns=[_day(r["churned_at"])] if r["churned_at"] is not None else [])
                for r in accounts}


def _day(value: Any) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _sub_metric(explanation: dict[str, Any] | None, key: str) -> float | None:
    if explanation is None:
        return None
    for component in explanation["components"]:
        for metric in component["sub_metrics"]:
            if metric["key"] == key:
                raw = metric["raw"]
                return None if raw is None else float(raw)
    return None
