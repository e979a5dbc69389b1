"""The rows a projection folds events into: read, put and delete by key, nothing else.

`RowBatch` keeps a page's changes in memory and writes them in one go at the end of the page;
`MemoryRows` is the same contract over plain dicts, for tests without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from projections.schema import Table
from projections.store import ViewTransaction

Row = dict[str, Any]
_GONE = None


class Rows(Protocol):
    def get(self, table: Table, *key: Any) -> Row | None:
        """The stored row with this primary key (a copy you may change), or None."""
        ...

    def put(self, table: Table, row: Row) -> None:
        """Insert or replace the whole row."""
        ...

    def delete(self, table: Table, *key: Any) -> None: ...

    def stored(self, table: Table, column: str | None, value: Any) -> list[Row]:
        """The rows committed before this batch whose `column` equals `value` (all for None).

        Puts of the current batch are not seen: use it to load state before changing it.
        """
        ...


class RowBatch:
    """Rows of one transaction: reads go to the database once, writes are flushed together."""

    def __init__(self, tx: ViewTransaction) -> None:
        self.tx = tx
        self._cache: dict[tuple[str, tuple[Any, ...]], Row | None] = {}
        self._dirty: dict[str, dict[tuple[Any, ...], Row | None]] = {}
        self._tables: dict[str, Table] = {}

    def get(self, table: Table, *key: Any) -> Row | None:
        ck = (table.name, key)
        if ck not in self._cache:
            found = self.tx.fetch_one(table.select_statement, key)
            self._cache[ck] = table.decode(found, self.tx.dialect) if found else _GONE
        row = self._cache[ck]
        return dict(row) if row is not None else None

    def prefetch(self, table: Table, keys: Iterable[tuple[Any, ...]]) -> None:
        """Read many rows in one statement, so the fold that follows finds them cached."""
        wanted = list(dict.fromkeys(k for k in keys if (table.name, k) not in self._cache))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found = self.tx.fetch_all(table.select_many_statement(len(chunk)),
                                      [v for k in chunk for v in k])
            for key in chunk:
                self._cache[(table.name, key)] = _GONE
            for row in found:
                decoded = table.decode(row, self.tx.dialect)
                self._cache[(table.name, table.key_of(decoded))] = decoded

    def put(self, table: Table, row: Row) -> None:
        key = table.key_of(row)
        full = dict.fromkeys(table.column_names)  # every column, missing ones as NULL
        full.update(row)
        self._cache[(table.name, key)] = full
        self._dirty.setdefault(table.name, {})[key] = full
        self._tables[table.name] = table

    def delete(self, table: Table, *key: Any) -> None:
        self._cache[(table.name, key)] = _GONE
        self._dirty.setdefault(table.name, {})[key] = _GONE
        self._tables[table.name] = table

    def stored(self, table: Table, column: str | None, value: Any) -> list[Row]:
        select = f"SELECT {', '.join(table.column_names)} FROM {table.name}"
        found = (self.tx.fetch_all(select) if column is None
                 else self.tx.fetch_all(f"{select} WHERE {column} = ?", (value,)))
        return [table.decode(row, self.tx.dialect) for row in found]

    def flush(self) -> int:
        """Write every changed row; returns how many rows were written or deleted."""
        written = 0
        for name, changes in self._dirty.items():
            table = self._tables[name]
            puts = [table.encode(r, self.tx.dialect) for r in changes.values() if r is not None]
            deletes = [k for k, r in changes.items() if r is None]
            if deletes:
                self.tx.executemany(table.delete_statement(), deletes)
            if puts:
                self.tx.executemany(table.upsert_statement(), puts)
            written += len(puts) + len(deletes)
        self._dirty.clear()
        return written


class MemoryRows:
    """Rows in dicts: the fold without a database."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[Any, ...], Row]] = {}

    def get(self, table: Table, *key: Any) -> Row | None:
        row = self.tables.get(table.name, {}).get(key)
        return dict(row) if row is not None else None

    def put(self, table: Table, row: Row) -> None:
        full = {c: row.get(c) for c in table.column_names}
        self.tables.setdefault(table.name, {})[table.key_of(row)] = full

    def delete(self, table: Table, *key: Any) -> None:
        self.tables.get(table.name, {}).pop(key, None)

    def stored(self, table: Table, column: str | None, value: Any) -> list[Row]:
        return [dict(r) for _, r in sorted(self.tables.get(table.name, {}).items())
                if column is None or r.get(column) == value]

    def all(self, table: Table) -> list[Row]:
        return [dict(r) for _, r in sorted(self.tables.get(table.name, {}).items())]
