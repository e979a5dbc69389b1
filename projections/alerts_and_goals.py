"""Read model `alerts_and_goals`: health alerts for managers, and the team's KPI goals.

An alert is raised by the health-alerts reactor and acknowledged and resolved by a manager;
every step is an event, so the view keeps its whole history. A goal keeps its latest target
and deadline; its progress is computed when asked, from the KPIs at that moment.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.errors import InvalidInputError
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table, stamp
from projections.store import ViewStore

ALERTS = Table(
    "alerts",
    columns=(
        Column("id"), Column("account_id"), Column("manager"), Column("kind"), Column("day"),
        Column("score_before", "int"), Column("score_after", "int"), Column("band_before"),
        Column("band_after"), Column("drivers"), Column("model_version", "int"),
        Column("status"), Column("raised_at", "timestamp"),
        Column("acknowledged_at", "timestamp"), Column("acknowledged_by"),
        Column("resolved_at", "timestamp"), Column("resolved_by"), Column("note"),
        Column("position", "int"),
    ),
    key=("id",),
    indexes=(("status", "raised_at", "id"), ("account_id", "day")),
)
GOALS = Table(
    "goals",
    columns=(
        Column("id"), Column("title"), Column("metric"), Column("target"),
        Column("deadline"), Column("owner"), Column("status"), Column("set_at", "timestamp"),
        Column("set_by"), Column("revised_at", "timestamp"), Column("note"),
        Column("position", "int"),
    ),
    key=("id",),
    indexes=(("status", "deadline"),),
)


class AlertsAndGoalsProjection(Projection):
    name = "alerts_and_goals"
    version = 1
    tables = (ALERTS, GOALS)

    def reads(self, topic: str, event: Any) -> Any:
        if topic in ("carelog:Alert.Acknowledged", "carelog:Alert.Resolved"):
            yield ALERTS, (str(event.originator_id),)
        elif topic in ("carelog:Goal.Revised", "carelog:Goal.Cancelled"):
            yield GOALS, (str(event.originator_id),)

    @staticmethod
    def _row(rows: Rows, table: Table, e: Any) -> dict[str, Any]:
        row = rows.get(table, str(e.originator_id))
        if row is None:
            raise LookupError(f"{table.name} has no row for {e.originator_id} before {e}")
        return row

    @handles("carelog:Alert.Raised")
    def raised(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(ALERTS, {
            "id": str(e.originator_id), "account_id": str(e.account_id), "manager": e.manager,
            "kind": e.kind, "day": e.day.isoformat(), "score_before": e.score_before,
            "score_after": e.score_after, "band_before": e.band_before,
            "band_after": e.band_after, "drivers": json.dumps(e.drivers),
            "model_version": e.model_version, "status": "open", "raised_at": e.occurred_at,
            "position": position})

    @handles("carelog:Alert.Acknowledged")
    def acknowledged(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(ALERTS, {**self._row(rows, ALERTS, e), "status": "acknowledged",
                          "acknowledged_at": e.occurred_at, "acknowledged_by": e.actor,
                          "note": e.note or None, "position": position})

    @handles("carelog:Alert.Resolved")
    def resolved(self, e: Any, rows: Rows, position: int) -> None:
        row = self._row(rows, ALERTS, e)
        rows.put(ALERTS, {**row, "status": "resolved", "resolved_at": e.occurred_at,
                          "resolved_by": e.actor, "note": e.note or row["note"],
                          "position": position})

    @handles("carelog:Goal.Set")
    def goal_set(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(GOALS, {
            "id": str(e.originator_id), "title": e.title, "metric": e.metric,
            "target": str(e.target), "deadline": e.deadline.isoformat(), "owner": e.owner,
            "status": "active", "set_at": e.occurred_at, "set_by": e.actor,
            "position": position})

    @handles("carelog:Goal.Revised")
    def goal_revised(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(GOALS, {**self._row(rows, GOALS, e), "target": str(e.target),
                         "deadline": e.deadline.isoformat(), "revised_at": e.occurred_at,
                         "position": position})

    @handles("carelog:Goal.Cancelled")
    def goal_cancelled(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(GOALS, {**self._row(rows, GOALS, e), "status": "cancelled",
                         "note": e.reason, "position": position})


_ALERT_TYPES = {c.name: c.type for c in ALERTS.columns}
_GOAL_TYPES = {c.name: c.type for c in GOALS.columns}
ALERT_STATUSES = ("open", "acknowledged", "resolved")


class AlertsAndGoalsView:
    projection = AlertsAndGoalsProjection.name

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def alerts(self, statuses: tuple[str, ...], account_id: str | None, first: int,
               after: str | None) -> Page:
        """Alerts, newest first."""
        check_first(first)
        unknown = set(statuses) - set(ALERT_STATUSES)
        if unknown:
            raise InvalidInputError(f"unknown alert status {sorted(unknown)[0]!r}")
        clauses, params = [], []
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += list(statuses)
        if account_id is not None:
            clauses.append("account_id = ?")
            params.append(account_id)
        if after is not None:
            raised, ident = decode_cursor(after, "ALERTS", 2)
            try:
                at = stamp(datetime.fromisoformat(raised), self.store.dialect)
            except (TypeError, ValueError):
                raise InvalidInputError("the cursor is not one this API handed out") from None
            clauses.append("(raised_at < ? OR (raised_at = ? AND id < ?))")
            params += [at, at, ident]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.store.reader() as tx:
            rows = tx.fetch_all(f"SELECT * FROM alerts{where} ORDER BY raised_at DESC, id DESC "
                                "LIMIT ?", [*params, first + 1])
            decoded = [tx.decode(r, _ALERT_TYPES) for r in rows]
        return Page(decoded[:first], len(decoded) > first)

    @staticmethod
    def alert_cursor(row: dict[str, Any]) -> str:
        return encode_cursor("ALERTS", [row["raised_at"].isoformat(), row["id"]])

    def alert_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        with self.store.reader() as tx:
            rows = tx.fetch_all(f"SELECT id FROM alerts WHERE id IN ({', '.join('?' * len(ids))})",
                                ids)
        return {r["id"] for r in rows}

    def goals(self, include_cancelled: bool) -> list[dict[str, Any]]:
        where = "" if include_cancelled else " WHERE status = 'active'"
        with self.store.reader() as tx:
            rows = tx.fetch_all(f"SELECT * FROM goals{where} ORDER BY deadline, id")
            return [tx.decode(r, _GOAL_TYPES) for r in rows]
