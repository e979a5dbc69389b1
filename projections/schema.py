"""Declarations of view tables, turned into SQL for SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ColumnType = Literal["text", "int", "bool", "timestamp"]
Dialect = Literal["sqlite", "postgres"]

_SQL_TYPES: dict[Dialect, dict[ColumnType, str]] = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "timestamp": "TEXT"},
    "postgres": {"text": "TEXT", "int": "BIGINT", "bool": "BOOLEAN", "timestamp": "TIMESTAMPTZ"},
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType = "text"


@dataclass(frozen=True, slots=True)
class Table:
    """A view table: columns, primary key and secondary indexes. Rows are plain dicts."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    beside: tuple[tuple[Dialect, str], ...] = ()
    """Statements run after the table is made, for one dialect: what lives beside its rows and
    follows them by itself (full-text indexes and their triggers, generated columns). They must
    be safe to run again, and leave nothing stale when the table is dropped and made again."""
    column_names: tuple[str, ...] = field(init=False)
    column_types: dict[str, ColumnType] = field(init=False, compare=False, hash=False)
    sqlite_conversions: tuple[tuple[int, ColumnType], ...] = field(init=False)
    """The columns SQLite stores in another form (timestamps as text, booleans as 0/1)."""
    select_statement: str = field(init=False)
    """The row with a given key."""

    def __post_init__(self) -> None:
        # Folding asks for these for every row: work them out once.
        names = tuple(c.name for c in self.columns)
        where = " AND ".join(f"{k} = ?" for k in self.key)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "column_types", {c.name: c.type for c in self.columns})
        object.__setattr__(self, "sqlite_conversions", tuple(
            (i, c.type) for i, c in enumerate(self.columns) if c.type in ("timestamp", "bool")))
        object.__setattr__(self, "select_statement",
                           f"SELECT {', '.join(names)} FROM {self.name} WHERE {where}")

    def create_statements(self, dialect: Dialect) -> list[str]:
        types = _SQL_TYPES[dialect]
        cols = ", ".join(f"{c.name} {types[c.type]}" for c in self.columns)
        key = ", ".join(self.key)
        stmts = [f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, PRIMARY KEY ({key}))"]
        for index in self.indexes:
            stmts.append(
                f"CREATE INDEX IF NOT EXISTS {self.name}_{'_'.join(index)}_idx "
                f"ON {self.name} ({', '.join(index)})"
            )
        stmts += [sql for only, sql in self.beside if only == dialect]
        return stmts

    def upsert_statement(self) -> str:
        names = self.column_names
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in self.key)
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT ({', '.join(self.key)}) {conflict}"
        )

    def select_many_statement(self, count: int) -> str:
        """The rows whose key is one of `count` keys (parameters: the keys' values in turn)."""
        if len(self.key) == 1:
            where = f"{self.key[0]} IN ({', '.join('?' * count)})"
        else:
            one = f"({', '.join('?' * len(self.key))})"
            where = f"({', '.join(self.key)}) IN ({', '.join([one] * count)})"
        return f"SELECT {', '.join(self.column_names)} FROM {self.name} WHERE {where}"

    def delete_statement(self) -> str:
        return f"DELETE FROM {self.name} WHERE {' AND '.join(f'{k} = ?' for k in self.key)}"

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.key)

    def encode(self, row: dict[str, Any], dialect: Dialect) -> list[Any]:
        """A row dict as statement parameters, in column order."""
        values = [row.get(name) for name in self.column_names]
        if dialect == "sqlite":
            for i, kind in self.sqlite_conversions:
                if values[i] is not None:
                    values[i] = _to_sqlite(values[i], kind)
        return values

    def decode(self, values: dict[str, Any], dialect: Dialect) -> dict[str, Any]:
        row = dict(values)
        if dialect == "sqlite":
            for i, kind in self.sqlite_conversions:
                name = self.column_names[i]
                if row.get(name) is not None:
                    row[name] = from_sqlite(row[name], kind)
        return row


def stamp(value: datetime, dialect: Dialect) -> Any:
    """A timestamp as a statement parameter compared with a timestamp column."""
    return _to_sqlite(value, "timestamp") if dialect == "sqlite" else value


def _to_sqlite(value: Any, kind: ColumnType) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        # Fixed-width UTC text sorts in time order.
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if kind == "bool":
        return 1 if value else 0
    return value


def from_sqlite(value: Any, kind: ColumnType) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return datetime.fromisoformat(value)
    if kind == "bool":
        return bool(value)
    return value
