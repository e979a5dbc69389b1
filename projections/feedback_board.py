"""Read model `feedback_board`: every product request, who asks for it, its Jira issue.

Serves GraphQL `feedbackBoard` and `feedback`, and tells the Jira reactor which items Jira does
not show yet (`FeedbackBoardView.needing_sync`). ARR is not copied here: it is summed when read
from the `accounts` view, so a revenue change re-ranks the board without rewriting it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import InvalidInputError
from projections.account_health import AccountHealthProjection
from projections.accounts import AccountsProjection
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table
from projections.store import ViewStore

ITEMS = Table(
    "feedback_items",
    columns=(
        Column("id"), Column("product_area"), Column("title"), Column("text"),
        Column("status"), Column("merged_into"), Column("accounts_count", "int"),
        Column("revision", "int"), Column("jira_key"), Column("jira_revision", "int"),
        Column("jira_status_id"), Column("jira_status_name"),
        Column("create_attempted_at", "timestamp"), Column("sync_error"),
        Column("last_comment"), Column("last_comment_author"),
        Column("last_comment_at", "timestamp"), Column("submitted_at", "timestamp"),
        Column("updated_at", "timestamp"), Column("version", "int"), Column("position", "int"),
    ),
    key=("id",),
    indexes=(("submitted_at", "id"), ("status", "submitted_at"), ("jira_key",)),
)

REQUESTS = Table(
    "feedback_requests",
    columns=(
        Column("feedback_id"), Column("account_id"), Column("case_id"),
        Column("interaction_id"), Column("note"), Column("joined_at", "timestamp"),
        Column("position", "int"),
    ),
    key=("feedback_id", "account_id"),
    indexes=(("account_id",),),
)

RED_HEALTH_ACCOUNTS = "SELECT account_id FROM account_health WHERE confirmed_band = 'red'"
"""The accounts whose confirmed health band is red (the `account_health` view)."""


class FeedbackBoardProjection(Projection):
    name = "feedback_board"
    version = 1
    tables = (ITEMS, REQUESTS)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic != "carelog:Feedback.Submitted":
            yield ITEMS, (str(event.originator_id),)

    def _item(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(ITEMS, str(e.originator_id))
        if row is None:
            raise LookupError(f"feedback {e.originator_id} has no Submitted event before {e}")
        return row

    def _save(self, rows: Rows, row: dict[str, Any], e: Any, position: int) -> None:
        row.update(version=e.originator_version, updated_at=e.occurred_at, position=position)
        rows.put(ITEMS, row)

    def _request(self, rows: Rows, e: Any, account_id: Any, note: str | None,
                 position: int) -> None:
        rows.put(REQUESTS, {
            "feedback_id": str(e.originator_id), "account_id": str(account_id),
            "case_id": str(e.case_id) if e.case_id else None,
            "interaction_id": str(e.interaction_id) if e.interaction_id else None,
            "note": note, "joined_at": e.occurred_at, "position": position})

    @handles("carelog:Feedback.Submitted")
    def submitted(self, e: Any, rows: Rows, position: int) -> None:
        self._request(rows, e, e.account_id, None, position)
        self._save(rows, {
            "id": str(e.originator_id), "product_area": e.product_area, "title": e.title,
            "text": e.text, "status": "submitted", "merged_into": None, "accounts_count": 1,
            "revision": 1, "jira_key": None, "jira_revision": 0, "jira_status_id": None,
            "jira_status_name": None, "create_attempted_at": None, "sync_error": None,
            "last_comment": None, "last_comment_author": None, "last_comment_at": None,
            "submitted_at": e.occurred_at,
        }, e, position)

    @handles("carelog:Feedback.AccountJoined")
    def account_joined(self, e: Any, rows: Rows, position: int) -> None:
        row = self._item(rows, e)
        self._request(rows, e, e.account_id, e.note or None, position)
        row.update(accounts_count=row["accounts_count"] + 1, revision=row["revision"] + 1)
        self._save(rows, row, e, position)

    @handles("carelog:Feedback.Merged")
    def merged(self, e: Any, rows: Rows, position: int) -> None:
        row = self._item(rows, e)
        revision = row["revision"] + (1 if row["jira_key"] else 0)  # as `Feedback._merge`
        self._save(rows, {**row, "status": "merged", "merged_into": str(e.into_id),
                          "revision": revision}, e, position)

    @handles("carelog:Feedback.ResyncRequested")
    def resync_requested(self, e: Any, rows: Rows, position: int) -> None:
        row = self._item(rows, e)
        self._save(rows, {**row, "revision": row["revision"] + 1}, e, position)

    @handles("carelog:Feedback.JiraCreateAttempted")
    def create_attempted(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._item(rows, e), "create_attempted_at": e.occurred_at},
                   e, position)

    @handles("carelog:Feedback.JiraCreateFailed")
    def create_failed(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._item(rows, e), "create_attempted_at": None,
                          "sync_error": e.error}, e, position)

    @handles("carelog:Feedback.JiraIssueLinked")
    def linked(self, e: Any, rows: Rows, position: int) -> None:
        row = self._item(rows, e)
        status = "open" if row["status"] == "submitted" else row["status"]
        self._save(rows, {**row, "jira_key": e.key, "jira_revision": e.revision,
                          "status": status, "sync_error": None}, e, position)

    @handles("carelog:Feedback.JiraIssueSynced")
    def synced(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._item(rows, e), "jira_revision": e.revision,
                          "sync_error": None}, e, position)

    @handles("carelog:Feedback.JiraStatusChanged")
    def status_changed(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._item(rows, e), "status": e.status,
                          "jira_status_id": e.status_id, "jira_status_name": e.name},
                   e, position)

    @handles("carelog:Feedback.JiraCommented")
    def commented(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._item(rows, e), "last_comment": e.body,
                          "last_comment_author": e.author, "last_comment_at": e.created_at},
                   e, position)


_TYPES = {c.name: c.type for c in ITEMS.columns}
_REQUEST_TYPES = {c.name: c.type for c in REQUESTS.columns}
_BOARD = (
    "SELECT * FROM (SELECT f.*, "
    "COALESCE(SUM(a.arr_reporting_cents), 0) AS arr_cents, "
    "COALESCE(SUM(CASE WHEN r.account_id IN (" + RED_HEALTH_ACCOUNTS + ") "
    "THEN a.arr_reporting_cents ELSE 0 END), 0) AS red_arr_cents "
    "FROM feedback_items f "
    "LEFT JOIN feedback_requests r ON r.feedback_id = f.id "
    "LEFT JOIN accounts a ON a.id = r.account_id "
    "GROUP BY f.id) b"
)
_ORDERS = {
    # order name: (sort columns, ORDER BY, keyset condition after a cursor)
    "ARR_DESC": (("arr_cents", "id"), "b.arr_cents DESC, b.id",
                 "(b.arr_cents < ? OR (b.arr_cents = ? AND b.id > ?))"),
    "SUBMITTED_DESC": (("submitted_at", "id"), "b.submitted_at DESC, b.id",
                       "(b.submitted_at < ? OR (b.submitted_at = ? AND b.id > ?))"),
}


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    statuses: tuple[str, ...] = ()
    product_area: str | None = None
    account_id: str | None = None
    include_merged: bool = False


class FeedbackBoardView:
    """Queries on the `feedback_board` read model (joined with `accounts` for ARR)."""

    projection = FeedbackBoardProjection.name
    projections = (FeedbackBoardProjection.name, AccountsProjection.name,
                   AccountHealthProjection.name)
    """The views its answers depend on: ARR comes from `accounts`."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def _select(self, where: list[str], params: list[Any], order: str,
                limit: int) -> list[dict[str, Any]]:
        sql = _BOARD + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += f" ORDER BY {order} LIMIT ?"
        with self.store.reader() as tx:
            rows = tx.fetch_all(sql, [*params, limit])
            return [tx.decode(r, _TYPES) for r in rows]

    def page(self, where: FeedbackFilter, first: int, after: str | None,
             order: str = "ARR_DESC") -> Page:
        check_first(first)
        columns, order_by, keyset = _ORDERS[order]
        clauses: list[str] = []
        params: list[Any] = []
        if where.statuses:
            clauses.append(f"b.status IN ({', '.join('?' * len(where.statuses))})")
            params += list(where.statuses)
        elif not where.include_merged:
            clauses.append("b.merged_into IS NULL")
        if where.product_area is not None:
            clauses.append("b.product_area = ?")
            params.append(where.product_area)
        if where.account_id is not None:
            clauses.append("b.id IN (SELECT feedback_id FROM feedback_requests "
                           "WHERE account_id = ?)")
            params.append(where.account_id)
        if after is not None:
            value, ident = decode_cursor(after, order, len(columns))
            if order == "SUBMITTED_DESC":
                value = ITEMS.encode({"submitted_at": _timestamp(value)}, self.store.dialect)[
                    ITEMS.column_names.index("submitted_at")]
            clauses.append(keyset)
            params += [value, value, ident]
        rows = self._select(clauses, params, order_by, first + 1)
        return Page(rows[:first], len(rows) > first)

    @staticmethod
    def cursor(row: dict[str, Any], order: str = "ARR_DESC") -> str:
        columns = _ORDERS[order][0]
        return encode_cursor(order, [row[c] for c in columns])

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        rows = self._select([f"b.id IN ({', '.join('?' * len(ids))})"], list(ids), "b.id",
                            len(ids))
        return {r["id"]: r for r in rows}

    def requests(self, feedback_id: str) -> list[dict[str, Any]]:
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT * FROM feedback_requests WHERE feedback_id = ? "
                                "ORDER BY position, account_id", (feedback_id,))
            return [tx.decode(r, _REQUEST_TYPES) for r in rows]

    def by_jira_key(self, key: str) -> str | None:
        with self.store.reader() as tx:
            row = tx.fetch_one("SELECT id FROM feedback_items WHERE jira_key = ?", (key,))
        return None if row is None else str(row["id"])

    def needing_sync(self, limit: int = 100) -> list[str]:
        """Items Jira does not show as they are: no issue yet, or changes not pushed."""
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT id FROM feedback_items WHERE (jira_key IS NULL AND merged_into IS NULL) "
                "OR jira_revision < revision ORDER BY submitted_at, id "
                "LIMIT ?", (limit,))
        return [str(r["id"]) for r in rows]


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError("the cursor is not one this API handed out") from None
