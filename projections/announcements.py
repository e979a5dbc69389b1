"""Read model `announcements`: maintenance and incidents, what each account was sent, and the
cases linked to each.

Serves GraphQL `announcements` and `announcement`, and tells the announcement reactor which
revisions are not fanned out yet and which current announcements may take new cases. Who may
read is part of every query (`Audience`): a client sees only current announcements that
affect its own account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.announcement import AnnouncementStatus
from domain.errors import InvalidInputError
from projections.accounts import AccountsProjection
from projections.case_queues import CaseQueuesProjection
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table, stamp
from projections.store import ViewStore

ANNOUNCEMENTS = Table(
    "announcements",
    columns=(
        Column("id"), Column("kind"), Column("title"), Column("text"), Column("services"),
        Column("plans"), Column("accounts"), Column("starts_at", "timestamp"),
        Column("ends_at", "timestamp"), Column("status"), Column("revision", "int"),
        Column("fanned_out", "int"), Column("recipients", "int"),
        Column("published_at", "timestamp"), Column("resolved_at", "timestamp"),
        Column("updated_at", "timestamp"), Column("updated_by"), Column("version", "int"),
        Column("position", "int"),
    ),
    key=("id",),
    indexes=(("status", "starts_at", "id"),),
)

DELIVERIES = Table(
    "announcement_deliveries",
    columns=(
        Column("announcement_id"), Column("revision", "int"), Column("account_id"),
        Column("channel"), Column("recipient"), Column("interaction_id"), Column("error"),
        Column("recorded_at", "timestamp"), Column("position", "int"),
    ),
    key=("announcement_id", "revision", "account_id", "channel", "recipient"),
    indexes=(("account_id",),),
)

LINKED_CASES = Table(
    "announcement_cases",
    columns=(
        Column("announcement_id"), Column("case_id"), Column("account_id"),
        Column("linked_at", "timestamp"), Column("position", "int"),
    ),
    key=("announcement_id", "case_id"),
    indexes=(("case_id",),),
)


def _listed(values: Iterable[Any]) -> str:
    """Values as `,a,b,`: one value is found with LIKE '%,a,%'."""
    items = [str(v) for v in values]
    return "," + ",".join(items) + "," if items else ""


def services_of(row: dict[str, Any]) -> list[str]:
    return [s for s in (row["services"] or "").split(",") if s]


def accounts_of(row: dict[str, Any]) -> list[str]:
    return [a for a in (row["accounts"] or "").split(",") if a]


class AnnouncementsProjection(Projection):
    name = "announcements"
    version = 1
    tables = (ANNOUNCEMENTS, DELIVERIES, LINKED_CASES)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic != "carelog:Announcement.Published":
            yield ANNOUNCEMENTS, (str(event.originator_id),)

    def _announcement(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(ANNOUNCEMENTS, str(e.originator_id))
        if row is None:
            raise LookupError(f"announcement {e.originator_id} has no Published event before {e}")
        return row

    def _save(self, rows: Rows, row: dict[str, Any], e: Any, position: int) -> None:
        row.update(version=e.originator_version, updated_at=e.occurred_at, updated_by=e.actor,
                   position=position)
        rows.put(ANNOUNCEMENTS, row)

    @staticmethod
    def _what(e: Any) -> dict[str, Any]:
        return {"title": e.title, "text": e.text, "services": _listed(e.services),
                "plans": _listed(e.plans), "accounts": _listed(e.accounts),
                "starts_at": e.starts_at, "ends_at": e.ends_at}

    @handles("carelog:Announcement.Published")
    def published(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {
            "id": str(e.originator_id), "kind": e.kind, **self._what(e),
            "status": AnnouncementStatus.CURRENT.value, "revision": 1, "fanned_out": 0,
            "recipients": 0, "published_at": e.occurred_at, "resolved_at": None}, e, position)

    @handles("carelog:Announcement.Updated")
    def updated(self, e: Any, rows: Rows, position: int) -> None:
        row = self._announcement(rows, e)
        self._save(rows, {**row, **self._what(e), "revision": row["revision"] + 1}, e,
                   position)

    @handles("carelog:Announcement.Resolved")
    def resolved(self, e: Any, rows: Rows, position: int) -> None:
        row = self._announcement(rows, e)
        self._save(rows, {**row, "text": e.text, "status": AnnouncementStatus.RESOLVED.value,
                          "revision": row["revision"] + 1, "resolved_at": e.occurred_at},
                   e, position)

    @handles("carelog:Announcement.Delivered")
    def delivered(self, e: Any, rows: Rows, position: int) -> None:
        for outcome in [*e.sent, *e.failed]:
            rows.put(DELIVERIES, {
                "announcement_id": str(e.originator_id), "revision": e.revision,
                "account_id": str(e.account_id), "channel": outcome["channel"],
                "recipient": outcome["recipient"],
                "interaction_id": outcome.get("interactionId"), "error": outcome.get("error"),
                "recorded_at": e.occurred_at, "position": position})
        self._save(rows, self._announcement(rows, e), e, position)

    @handles("carelog:Announcement.FannedOut")
    def fanned_out(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._announcement(rows, e), "fanned_out": e.revision,
                          "recipients": e.accounts}, e, position)

    @handles("carelog:Announcement.CaseLinked")
    def case_linked(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(LINKED_CASES, {"announcement_id": str(e.originator_id),
                                "case_id": str(e.case_id), "account_id": str(e.account_id),
                                "linked_at": e.occurred_at, "position": position})
        self._save(rows, self._announcement(rows, e), e, position)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is reading. Staff (`account_id` None) see every announcement; a client only the
    current ones that affect its account (named, its plan, or everyone)."""

    account_id: str | None = None
    plan: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        if self.account_id is None:
            return "1 = 1", []
        return ("n.status = ? AND (n.accounts LIKE ? OR n.plans LIKE ? "
                "OR (n.accounts = '' AND n.plans = ''))",
                [AnnouncementStatus.CURRENT.value, f"%,{self.account_id},%",
                 f"%,{self.plan},%"])


_TYPES = ANNOUNCEMENTS.column_types
_ORDER = "STARTS_DESC"


class AnnouncementsView:
    projection = AnnouncementsProjection.name
    projections = (AnnouncementsProjection.name, AccountsProjection.name,
                   CaseQueuesProjection.name)
    """The views its answers depend on: accounts and cases for the reactor's questions."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def page(self, audience: Audience, status: str | None, first: int,
             after: str | None, case_id: str | None = None) -> Page:
        """Announcements, the latest window first; with `case_id`, those linked to the case."""
        check_first(first)
        where, params = audience.where()
        if status is not None:
            where += " AND n.status = ?"
            params.append(status)
        if case_id is not None:
            where += (" AND n.id IN (SELECT announcement_id FROM announcement_cases "
                      "WHERE case_id = ?)")
            params.append(case_id)
        if after is not None:
            starts, ident = decode_cursor(after, _ORDER, 2)
            value = stamp(_moment(starts), self.store.dialect)
            where += " AND (n.starts_at < ? OR (n.starts_at = ? AND n.id > ?))"
            params += [value, value, ident]
        with self.store.reader() as tx:
            rows = tx.fetch_all(f"SELECT * FROM announcements n WHERE {where} "
                                "ORDER BY n.starts_at DESC, n.id LIMIT ?", [*params, first + 1])
            found = [tx.decode(r, _TYPES) for r in rows]
        return Page(found[:first], len(found) > first)

    @staticmethod
    def cursor(row: dict[str, Any]) -> str:
        return encode_cursor(_ORDER, [row["starts_at"], row["id"]])

    def get(self, audience: Audience, announcement_id: str) -> dict[str, Any] | None:
        where, params = audience.where()
        with self.store.reader() as tx:
            row = tx.fetch_one(f"SELECT * FROM announcements n WHERE n.id = ? AND {where}",
                               [announcement_id, *params])
            return None if row is None else tx.decode(row, _TYPES)

    def deliveries(self, announcement_id: str) -> list[dict[str, Any]]:
        types = DELIVERIES.column_types
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT * FROM announcement_deliveries WHERE announcement_id = ? "
                                "ORDER BY revision, position, channel, recipient",
                                (announcement_id,))
            return [tx.decode(r, types) for r in rows]

    def linked_cases(self, announcement_id: str) -> list[dict[str, Any]]:
        types = LINKED_CASES.column_types
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT * FROM announcement_cases WHERE announcement_id = ? "
                                "ORDER BY position, case_id", (announcement_id,))
            return [tx.decode(r, types) for r in rows]

    def needing_fan_out(self, limit: int = 100) -> list[str]:
        """Announcements with a revision not yet sent to every affected account."""
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT id FROM announcements WHERE fanned_out < revision "
                                "ORDER BY published_at, id LIMIT ?", (limit,))
        return [str(r["id"]) for r in rows]

    def current(self) -> list[str]:
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT id FROM announcements WHERE status = ? ORDER BY id",
                                (AnnouncementStatus.CURRENT.value,))
        return [str(r["id"]) for r in rows]

    def audience_accounts(self) -> list[tuple[str, str]]:
        """Every client account still with us, and its plan (the `accounts` view)."""
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT id, tier FROM accounts WHERE churned IS NULL OR "
                                "churned = ? ORDER BY id", (_false(self.store),))
        return [(str(r["id"]), str(r["tier"])) for r in rows]

    def cases_opened(self, start: datetime, end: datetime | None,
                     ) -> list[tuple[str, str, str]]:
        """The cases opened in a window: case, account and its plan (the `case_queues` and
        `accounts` views)."""
        dialect = self.store.dialect
        sql = ("SELECT c.id, c.account_id, a.tier FROM cases c JOIN accounts a "
               "ON a.id = c.account_id WHERE c.opened_at >= ?")
        params: list[Any] = [stamp(start, dialect)]
        if end is not None:
            sql += " AND c.opened_at < ?"
            params.append(stamp(end, dialect))
        with self.store.reader() as tx:
            rows = tx.fetch_all(sql + " ORDER BY c.opened_at, c.id", params)
        return [(str(r["id"]), str(r["account_id"]), str(r["tier"])) for r in rows]


def _false(store: ViewStore) -> Any:
    return 0 if store.dialect == "sqlite" else False


def _moment(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError("the cursor is not one this API handed out") from None
