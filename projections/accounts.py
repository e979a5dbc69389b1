"""Read model `accounts`: name, tier, manager, ARR from recorded revenue, contacts.

Serves GraphQL `accounts` and `account`. Rank by ARR and the key-account flag (top N by ARR in
the reporting currency, churned accounts excluded) are computed when read, so one revenue
change never rewrites every other row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.money import ReportingRates, to_cents
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table
from projections.store import ViewStore

ACCOUNTS = Table(
    "accounts",
    columns=(
        Column("id"), Column("name"), Column("tier"), Column("manager"), Column("currency"),
        Column("mrr_cents", "int"), Column("arr_cents", "int"),
        Column("arr_reporting_cents", "int"), Column("revenue_period"),
        Column("churned", "bool"), Column("churned_at", "timestamp"),
        Column("opened_at", "timestamp"), Column("contacts_count", "int"),
        Column("version", "int"), Column("updated_at", "timestamp"), Column("position", "int"),
    ),
    key=("id",),
    indexes=(("churned", "arr_reporting_cents", "id"), ("name", "id")),
)

CONTACTS = Table(
    "account_contacts",
    columns=(
        Column("account_id"), Column("contact_id"), Column("name"), Column("email"),
        Column("phone"), Column("role"), Column("active", "bool"),
        Column("added_at", "timestamp"), Column("left_at", "timestamp"),
    ),
    key=("account_id", "contact_id"),
    indexes=(("email",), ("phone",)),
)

REVENUE = Table(
    "account_revenue",
    columns=(
        Column("account_id"), Column("period"), Column("mrr_cents", "int"),
        Column("currency"), Column("recorded_at", "timestamp"), Column("position", "int"),
    ),
    key=("account_id", "period"),
)


class AccountsProjection(Projection):
    name = "accounts"
    version = 2
    tables = (ACCOUNTS, CONTACTS, REVENUE)

    def __init__(self, rates: ReportingRates) -> None:
        self.rates = rates

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic != "carelog:Account.Opened":
            yield ACCOUNTS, (str(event.originator_id),)

    def _touch(self, row: dict[str, Any], e: Any, position: int) -> dict[str, Any]:
        row.update(version=e.originator_version, updated_at=e.occurred_at, position=position)
        return row

    def _account(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(ACCOUNTS, str(e.originator_id))
        if row is None:  # the log is the truth: an account event always follows its opening
            raise LookupError(f"account {e.originator_id} has no Opened event before {e}")
        return row

    @handles("carelog:Account.Opened")
    def opened(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(ACCOUNTS, self._touch({
            "id": str(e.originator_id), "name": e.name, "tier": e.tier, "manager": e.manager,
            "currency": e.currency, "mrr_cents": 0, "arr_cents": 0, "arr_reporting_cents": 0,
            "revenue_period": None, "churned": False, "churned_at": None,
            "opened_at": e.occurred_at, "contacts_count": 0,
        }, e, position))

    @handles("carelog:Account.RevenueRecorded")
    def revenue_recorded(self, e: Any, rows: Rows, position: int) -> None:
        row = self._account(rows, e)
        cents = to_cents(e.mrr)
        rows.put(REVENUE, {
            "account_id": row["id"], "period": e.period, "mrr_cents": cents,
            "currency": e.currency, "recorded_at": e.occurred_at, "position": position,
        })
        # ARR is twelve times the MRR of the latest period on record (0 once churned).
        latest = row["revenue_period"] is None or e.period >= row["revenue_period"]
        if latest and not row["churned"]:
            row.update(revenue_period=e.period, mrr_cents=cents, arr_cents=12 * cents,
                       arr_reporting_cents=self.rates.convert_cents(12 * cents, e.currency))
        rows.put(ACCOUNTS, self._touch(row, e, position))

    @handles("carelog:Account.TierChanged")
    def tier_changed(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(ACCOUNTS, self._touch({**self._account(rows, e), "tier": e.tier}, e, position))

    @handles("carelog:Account.ManagerAssigned")
    def manager_assigned(self, e: Any, rows: Rows, position: int) -> None:
        row = self._account(rows, e)
        rows.put(ACCOUNTS, self._touch({**row, "manager": e.manager}, e, position))

    @handles("carelog:Account.ContactAdded")
    def contact_added(self, e: Any, rows: Rows, position: int) -> None:
        row = self._account(rows, e)
        rows.put(CONTACTS, {
            "account_id": row["id"], "contact_id": str(e.contact_id), "name": e.name,
            "email": e.email, "phone": e.phone, "role": e.role, "active": True,
            "added_at": e.occurred_at, "left_at": None,
        })
        row["contacts_count"] += 1
        rows.put(ACCOUNTS, self._touch(row, e, position))

    @handles("carelog:Account.ContactRoleChanged")
    def contact_role_changed(self, e: Any, rows: Rows, position: int) -> None:
        row = self._account(rows, e)
        contact = rows.get(CONTACTS, row["id"], str(e.contact_id))
        if contact is not None:
            rows.put(CONTACTS, {**contact, "role": e.role})
        rows.put(ACCOUNTS, self._touch(row, e, position))

    @handles("carelog:Account.ContactLeft")
    def contact_left(self, e: Any, rows: Rows, position: int) -> None:
        row = self._account(rows, e)
        contact = rows.get(CONTACTS, row["id"], str(e.contact_id))
        if contact is not None and contact["active"]:
            rows.put(CONTACTS, {**contact, "active": False, "left_at": e.occurred_at})
            row["contacts_count"] -= 1
        rows.put(ACCOUNTS, self._touch(row, e, position))

    @handles("carelog:Account.Churned")
    def churned(self, e: Any, rows: Rows, position: int) -> None:
        # A churned account recurs no revenue: ARR goes to 0, its history stays in REVENUE.
        row = self._account(rows, e)
        row.update(churned=True, churned_at=e.occurred_at, mrr_cents=0, arr_cents=0,
                   arr_reporting_cents=0)
        rows.put(ACCOUNTS, self._touch(row, e, position))


_RANKED = (
    "WITH ranked AS (SELECT id, ROW_NUMBER() OVER (ORDER BY arr_reporting_cents DESC, id) AS rank"
    " FROM accounts WHERE churned = ?) "
    "SELECT a.*, r.rank AS rank FROM accounts a LEFT JOIN ranked r ON r.id = a.id"
)
_TYPES = {c.name: c.type for c in ACCOUNTS.columns}
_ORDERS = {
    # order name: (sort columns, SQL ORDER BY, keyset condition after a cursor)
    "ARR_DESC": (("arr_reporting_cents", "id"), "a.arr_reporting_cents DESC, a.id",
                 "(a.arr_reporting_cents < ? OR (a.arr_reporting_cents = ? AND a.id > ?))"),
    "NAME_ASC": (("name", "id"), "a.name, a.id", "(a.name > ? OR (a.name = ? AND a.id > ?))"),
}


class AccountsView:
    """Queries on the `accounts` read model."""

    projection = AccountsProjection.name

    def __init__(self, store: ViewStore, key_accounts: int) -> None:
        self.store = store
        self.key_accounts = key_accounts

    def _rows(self, where: str, params: list[Any], order: str, limit: int) -> list[dict[str, Any]]:
        sql = f"{_RANKED}{where} ORDER BY {order} LIMIT ?"
        with self.store.reader() as tx:
            rows = tx.fetch_all(sql, [False, *params, limit])
            return [self._decorate(tx.decode(r, _TYPES)) for r in rows]

    def _decorate(self, row: dict[str, Any]) -> dict[str, Any]:
        rank = row.get("rank")
        row["is_key_account"] = rank is not None and rank <= self.key_accounts
        return row

    def page(self, first: int, after: str | None, order: str = "ARR_DESC",
             key_accounts_only: bool = False) -> Page:
        check_first(first)
        columns, order_by, keyset = _ORDERS[order]
        clauses: list[str] = []
        params: list[Any] = []
        if key_accounts_only:
            clauses.append("r.rank <= ?")
            params.append(self.key_accounts)
        if after is not None:
            value, ident = decode_cursor(after, order, len(columns))
            clauses.append(keyset)
            params += [value, value, ident]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(where, params, order_by, first + 1)
        return Page(rows[:first], len(rows) > first)

    @staticmethod
    def cursor(row: dict[str, Any], order: str = "ARR_DESC") -> str:
        columns = _ORDERS[order][0]
        return encode_cursor(order, [row[c] for c in columns])

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._rows(f" WHERE a.id IN ({marks})", list(ids), "a.id", len(ids))
        return {r["id"]: r for r in rows}

    def contacts(self, account_id: str) -> list[dict[str, Any]]:
        types = {c.name: c.type for c in CONTACTS.columns}
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT * FROM account_contacts WHERE account_id = ? ORDER BY added_at, contact_id",
                (account_id,))
            return [tx.decode(r, types) for r in rows]

    def revenue(self, account_id: str) -> list[dict[str, Any]]:
        types = {c.name: c.type for c in REVENUE.columns}
        with self.store.reader() as tx:
            rows = tx.fetch_all(
                "SELECT * FROM account_revenue WHERE account_id = ? ORDER BY period", (account_id,))
            return [tx.decode(r, types) for r in rows]

    def count(self) -> int:
        with self.store.reader() as tx:
            row = tx.fetch_one("SELECT COUNT(*) AS n FROM accounts")
        return int(row["n"]) if row else 0
