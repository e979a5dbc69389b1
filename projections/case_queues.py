"""Read model `case_queues`: every case with its state, queue, SLA due times and thread.

Serves GraphQL `cases` (queues by line, assignee and status) and `case` with its interactions.
First response time is measured from opening to the first reply, in wall-clock seconds;
business-hours metrics belong to the support-metrics read model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import InvalidInputError
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table, from_sqlite, stamp
from projections.store import ViewStore

CASES = Table(
    "cases",
    columns=(
        Column("id"), Column("account_id"), Column("channel"), Column("subject"),
        Column("topic"), Column("priority"), Column("line", "int"), Column("department"),
        Column("status"), Column("assignee"), Column("escalated", "bool"),
        Column("escalation_reason"), Column("contact_id"),
        Column("opened_at", "timestamp"), Column("first_response_due", "timestamp"),
        Column("resolution_due", "timestamp"), Column("first_response_at", "timestamp"),
        Column("first_response_seconds", "int"), Column("resolved_at", "timestamp"),
        Column("closed_at", "timestamp"), Column("reopened_count", "int"),
        Column("reply_count", "int"), Column("csat", "int"), Column("csat_comment"),
        Column("last_activity_at", "timestamp"), Column("version", "int"),
        Column("position", "int"), Column("waiting", "bool"),
        Column("first_response_breached", "bool"), Column("resolution_breached", "bool"),
    ),
    key=("id",),
    indexes=(
        ("status", "resolution_due"),
        ("opened_at", "id"),
        ("account_id", "opened_at", "id"),
        ("status", "line", "opened_at", "id"),
        ("assignee", "opened_at", "id"),
    ),
)

INTERACTIONS = Table(
    "case_interactions",
    columns=(
        Column("id"), Column("case_id"), Column("account_id"), Column("channel"),
        Column("direction"), Column("sender"), Column("contact_id"), Column("text"),
        Column("channel_allowed", "bool"), Column("occurred_at", "timestamp"),
        Column("position", "int"),
    ),
    key=("id",),
    indexes=(("case_id", "position"), ("account_id", "position")),
)


class CaseQueuesProjection(Projection):
    name = "case_queues"
    version = 2
    tables = (CASES, INTERACTIONS)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic.startswith("carelog:Case.") and topic != "carelog:Case.Opened":
            yield CASES, (str(event.originator_id),)

    def _case(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(CASES, str(e.originator_id))
        if row is None:
            raise LookupError(f"case {e.originator_id} has no Opened event before {e}")
        return row

    def _save(self, rows: Rows, row: dict[str, Any], e: Any, position: int) -> None:
        row.update(version=e.originator_version, last_activity_at=e.occurred_at,
                   position=position)
        rows.put(CASES, row)

    @handles("carelog:Case.Opened")
    def opened(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {
            "id": str(e.originator_id), "account_id": str(e.account_id), "channel": e.channel,
            "subject": e.subject, "topic": e.topic, "priority": e.priority, "line": e.line,
            "department": None, "status": "open", "assignee": None, "escalated": False,
            "escalation_reason": None,
            "contact_id": str(e.contact_id) if e.contact_id else None,
            "opened_at": e.occurred_at, "first_response_due": e.first_response_due,
            "resolution_due": e.resolution_due, "first_response_at": None,
            "first_response_seconds": None, "resolved_at": None, "closed_at": None,
            "reopened_count": 0, "reply_count": 0, "csat": None, "csat_comment": None,
            "waiting": False, "first_response_breached": False, "resolution_breached": False,
        }, e, position)

    @handles("carelog:Case.Paused")
    def paused(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "waiting": True}, e, position)

    @handles("carelog:Case.Resumed")
    def resumed(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "waiting": False}, e, position)

    @handles("carelog:Case.PriorityChanged")
    def priority_changed(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "priority": e.priority}, e, position)

    @handles("carelog:Case.SlaTargetsSet")
    def sla_targets_set(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "first_response_due": e.first_response_due,
                          "resolution_due": e.resolution_due}, e, position)

    @handles("carelog:Case.SlaBreached")
    def sla_breached(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), f"{e.kind}_breached": True}, e, position)

    @handles("carelog:Case.Assigned")
    def assigned(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "assignee": e.agent}, e, position)

    @handles("carelog:Case.Replied")
    def replied(self, e: Any, rows: Rows, position: int) -> None:
        row = self._case(rows, e)
        row["reply_count"] += 1
        if row["first_response_at"] is None:
            row["first_response_at"] = e.occurred_at
            row["first_response_seconds"] = int(
                (e.occurred_at - row["opened_at"]).total_seconds())
        self._save(rows, row, e, position)

    @handles("carelog:Case.Escalated")
    def escalated(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "line": e.line, "department": e.department,
                          "escalated": True, "escalation_reason": e.reason}, e, position)

    @handles("carelog:Case.EscalationResolved")
    def escalation_resolved(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "escalated": False}, e, position)

    @handles("carelog:Case.Resolved")
    def resolved(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "status": "resolved", "waiting": False,
                          "resolved_at": e.occurred_at}, e, position)

    @handles("carelog:Case.Reopened")
    def reopened(self, e: Any, rows: Rows, position: int) -> None:
        row = self._case(rows, e)
        row.update(status="open", resolved_at=None, reopened_count=row["reopened_count"] + 1,
                   resolution_breached=False)
        self._save(rows, row, e, position)

    @handles("carelog:Case.Closed")
    def closed(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "status": "closed",
                          "closed_at": e.occurred_at}, e, position)

    @handles("carelog:Case.Rated")
    def rated(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._case(rows, e), "csat": e.csat, "csat_comment": e.comment},
                   e, position)

    @handles("carelog:Interaction.Recorded")
    def interaction_recorded(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(INTERACTIONS, {
            "id": str(e.originator_id), "case_id": str(e.case_id) if e.case_id else None,
            "account_id": str(e.account_id), "channel": e.channel, "direction": e.direction,
            "sender": e.sender, "contact_id": str(e.contact_id) if e.contact_id else None,
            "text": e.text, "channel_allowed": e.channel_allowed,
            "occurred_at": e.occurred_at, "position": position,
        })


_CASE_TYPES = {c.name: c.type for c in CASES.columns}
_INTERACTION_TYPES = {c.name: c.type for c in INTERACTIONS.columns}
_ORDERS = {
    "OPENED_DESC": ("c.opened_at DESC, c.id DESC",
                    "(c.opened_at < ? OR (c.opened_at = ? AND c.id < ?))"),
    "OPENED_ASC": ("c.opened_at, c.id", "(c.opened_at > ? OR (c.opened_at = ? AND c.id > ?))"),
}


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases a queue shows; every field narrows the list."""

    account_id: str | None = None
    statuses: tuple[str, ...] = ()
    line: int | None = None
    assignee: str | None = None
    unassigned: bool = False
    priority: str | None = None
    channel: str | None = None
    escalated: bool | None = None


class CaseQueuesView:
    """Queries on the `case_queues` read model."""

    projection = CaseQueuesProjection.name

    def by_reference(self, account_id: str, prefix: str) -> list[str]:
        """The account's cases whose id starts with these hex digits (a `CL-1A2B3C4D` tag)."""
        prefix = prefix.lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return []
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT id FROM cases WHERE account_id = ? AND id LIKE ? "
                                "ORDER BY id", [account_id, prefix + "%"])
        return [str(r["id"]) for r in rows]

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def page(self, where: CaseFilter, first: int, after: str | None,
             order: str = "OPENED_DESC") -> Page:
        check_first(first)
        order_by, keyset = _ORDERS[order]
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("account_id", where.account_id), ("line", where.line),
                              ("assignee", where.assignee), ("priority", where.priority),
                              ("channel", where.channel), ("escalated", where.escalated)):
            if value is not None:
                clauses.append(f"c.{column} = ?")
                params.append(value)
        if where.statuses:
            clauses.append(f"c.status IN ({', '.join('?' * len(where.statuses))})")
            params += list(where.statuses)
        if where.unassigned:
            clauses.append("c.assignee IS NULL")
        if after is not None:
            opened, ident = decode_cursor(after, order, 2)
            try:
                at = datetime.fromisoformat(opened)
            except (TypeError, ValueError):
                raise InvalidInputError("the cursor is not one this API handed out") from None
            clauses.append(keyset)
            key = stamp(at, self.store.dialect)
            params += [key, key, ident]
        sql = "SELECT c.* FROM cases c"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order_by} LIMIT ?"
        with self.store.reader() as tx:
            rows = [tx.decode(r, _CASE_TYPES) for r in tx.fetch_all(sql, [*params, first + 1])]
        return Page(rows[:first], len(rows) > first)

    @staticmethod
    def cursor(row: dict[str, Any], order: str = "OPENED_DESC") -> str:
        return encode_cursor(order, [row["opened_at"].isoformat(), row["id"]])

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                f"SELECT * FROM cases WHERE id IN ({', '.join('?' * len(ids))})", ids)
            return {r["id"]: tx.decode(r, _CASE_TYPES) for r in rows}

    def interactions(self, case_id: str) -> list[dict[str, Any]]:
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT * FROM case_interactions WHERE case_id = ? ORDER BY position", (case_id,))
            return [tx.decode(r, _INTERACTION_TYPES) for r in rows]

    def sla_candidates(self, now: datetime, limit: int = 500) -> list[str]:
        """Open cases a due time has passed for, whose breach is not recorded yet.

        The case itself decides (its clock knows pauses and cycles); this only narrows the
        search so the SLA clock worker loads few cases.
        """
        at = stamp(now, self.store.dialect)
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT id FROM cases WHERE status = 'open' AND ("
                "(first_response_at IS NULL AND NOT first_response_breached "
                " AND first_response_due < ?) OR "
                "(NOT resolution_breached AND NOT waiting AND resolution_due < ?)) "
                "ORDER BY resolution_due LIMIT ?", (at, at, limit))
        return [r["id"] for r in rows]

    def queue_summary(self) -> list[dict[str, Any]]:
        """Open cases per line: how many, how many unassigned, escalated, oldest."""
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT line, COUNT(*) AS open_count, "
                "SUM(CASE WHEN assignee IS NULL THEN 1 ELSE 0 END) AS unassigned, "
                "SUM(CASE WHEN escalated THEN 1 ELSE 0 END) AS escalated, "
                "MIN(opened_at) AS oldest_opened_at "
                "FROM cases WHERE status = 'open' GROUP BY line ORDER BY line")
        if self.store.dialect == "sqlite":
            for r in rows:
                r["oldest_opened_at"] = from_sqlite(r["oldest_opened_at"], "timestamp")
        return rows
