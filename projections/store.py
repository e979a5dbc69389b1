"""Where views live: one SQLite file (embedded) or the PostgreSQL database (shared).

Statements are written once with `?` parameter marks; the PostgreSQL store translates them.
Besides the view tables, the store keeps `projection_positions`: for each projection, the last
notification id it has folded, written in the same transaction as the rows.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from projections.schema import ColumnType, Dialect, Table, from_sqlite

_POSITIONS_DDL = {
    "sqlite": "CREATE TABLE IF NOT EXISTS projection_positions (name TEXT PRIMARY KEY, "
              "notification_id INTEGER NOT NULL, version INTEGER NOT NULL)",
    "postgres": "CREATE TABLE IF NOT EXISTS projection_positions (name TEXT PRIMARY KEY, "
                "notification_id BIGINT NOT NULL, version INTEGER NOT NULL)",
}


_DEAD_LETTERS_DDL = {
    "sqlite": "CREATE TABLE IF NOT EXISTS dead_letters (name TEXT NOT NULL, "
              "notification_id INTEGER NOT NULL, topic TEXT NOT NULL, error TEXT NOT NULL, "
              "deliveries INTEGER NOT NULL, recorded_at TEXT NOT NULL, "
              "PRIMARY KEY (name, notification_id))",
    "postgres": "CREATE TABLE IF NOT EXISTS dead_letters (name TEXT NOT NULL, "
                "notification_id BIGINT NOT NULL, topic TEXT NOT NULL, error TEXT NOT NULL, "
                "deliveries INTEGER NOT NULL, recorded_at TEXT NOT NULL, "
                "PRIMARY KEY (name, notification_id))",
}


# A view's version changes with every commit that folds events it handles (and with a reset):
# an answer computed from the view stays right while its version does.
_VERSIONS_DDL = ("CREATE TABLE IF NOT EXISTS view_versions (name TEXT PRIMARY KEY, "
                 "version TEXT NOT NULL)")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A notification a projection could not fold; the projection stopped before it."""

    name: str
    notification_id: int
    topic: str
    error: str
    deliveries: int
    recorded_at: str


class ViewTransaction(ABC):
    """Statements inside one transaction of a view store."""

    dialect: Dialect

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    @abstractmethod
    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, in the order of the select list: for reads of many rows."""

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def decode(self, row: dict[str, Any], types: dict[str, ColumnType]) -> dict[str, Any]:
        if self.dialect == "postgres":
            return row
        return {k: from_sqlite(v, types[k]) if k in types else v for k, v in row.items()}

    @abstractmethod
    def lock_position(self, name: str) -> tuple[int, int] | None:
        """The projection's (notification id, version), locked until the transaction ends."""

    def bump_version(self, name: str) -> None:
        """Mark the view as changed (see `ViewStore.versions`)."""
        self.execute("INSERT INTO view_versions (name, version) VALUES (?, ?) ON CONFLICT (name) "
                     "DO UPDATE SET version = excluded.version", (name, uuid.uuid4().hex))

    def set_position(self, name: str, notification_id: int, version: int) -> None:
        self.execute(
            "INSERT INTO projection_positions (name, notification_id, version) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET notification_id = excluded.notification_id, "
            "version = excluded.version",
            (name, notification_id, version),
        )


class ViewStore(ABC):
    dialect: Dialect

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[ViewTransaction]:
        """A read-write transaction, committed when the block ends without an error."""

    @abstractmethod
    @contextmanager
    def reader(self) -> Iterator[ViewTransaction]:
        """A read-only snapshot for queries."""

    @abstractmethod
    def close(self) -> None: ...

    _base_ready = False

    def ensure(self, tables: Sequence[Table] = ()) -> None:
        """Create the positions and dead-letter tables and `tables`, where missing."""
        if self._base_ready and not tables:
            return
        with self.transaction() as tx:
            if self.dialect == "postgres":
                # Processes starting together on an empty database would race on the
                # catalogue (CREATE TABLE IF NOT EXISTS is not atomic there).
                tx.execute("SELECT pg_advisory_xact_lock(hashtext('carelog:ddl'))")
            tx.execute(_POSITIONS_DDL[self.dialect])
            tx.execute(_DEAD_LETTERS_DDL[self.dialect])
            tx.execute(_VERSIONS_DDL)
            for table in tables:
                for stmt in table.create_statements(self.dialect):
                    tx.execute(stmt)
        self._base_ready = True

    def positions(self) -> dict[str, int]:
        self.ensure()
        with self.reader() as tx:
            rows = tx.fetch_all("SELECT name, notification_id FROM projection_positions")
        return {r["name"]: int(r["notification_id"]) for r in rows}

    def versions(self) -> dict[str, str]:
        """Each view's version token: it changes whenever the view's rows may have changed."""
        self.ensure()
        with self.reader() as tx:
            rows = tx.fetch_all("SELECT name, version FROM view_versions")
        return {r["name"]: str(r["version"]) for r in rows}

    def advance_positions(self, moves: Sequence[tuple[str, int, int, int]]) -> set[str]:
        """Move each (name, from, to, version) view's position from `from` to `to`, in one
        transaction, where it is still at `from` and of that version; returns the names moved.
        A position that moved meanwhile, or was removed (a rebuild starting over), stays."""
        moved: set[str] = set()
        with self.transaction() as tx:
            for name, stored, position, version in moves:
                if tx.fetch_tuples(
                        "UPDATE projection_positions SET notification_id = ? WHERE name = ? "
                        "AND notification_id = ? AND version = ? RETURNING name",
                        (position, name, stored, version)):
                    moved.add(name)
        return moved

    def set_position(self, name: str, notification_id: int, version: int = 1) -> None:
        """Record a position outside any view transaction (the relay's, for instance)."""
        self.ensure()
        with self.transaction() as tx:
            tx.set_position(name, notification_id, version)

    def record_dead_letter(self, letter: DeadLetter) -> None:
        self.ensure()
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO dead_letters (name, notification_id, topic, error, deliveries, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, notification_id) "
                "DO UPDATE SET error = excluded.error, deliveries = excluded.deliveries, "
                "recorded_at = excluded.recorded_at",
                (letter.name, letter.notification_id, letter.topic, letter.error,
                 letter.deliveries, letter.recorded_at))

    def dead_letters(self) -> list[DeadLetter]:
        self.ensure()
        with self.reader() as tx:
            rows = tx.fetch_all("SELECT name, notification_id, topic, error, deliveries, "
                                "recorded_at FROM dead_letters ORDER BY name, notification_id")
        return [DeadLetter(**r) for r in rows]

    def clear_dead_letters(self, name: str) -> int:
        """Forget a projection's dead letters (after the fix is deployed); returns how many."""
        self.ensure()
        with self.transaction() as tx:
            found = tx.fetch_all("SELECT notification_id FROM dead_letters WHERE name = ?",
                                 (name,))
            tx.execute("DELETE FROM dead_letters WHERE name = ?", (name,))
        return len(found)


# SQLite ---------------------------------------------------------------------------------


class _SQLiteTransaction(ViewTransaction):
    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def lock_position(self, name: str) -> tuple[int, int] | None:
        # BEGIN IMMEDIATE already holds the database's single write lock.
        row = self.fetch_one(
            "SELECT notification_id, version FROM projection_positions WHERE name = ?", (name,))
        return None if row is None else (int(row["notification_id"]), int(row["version"]))


class SQLiteViewStore(ViewStore):
    """Views in one SQLite file (WAL), one connection per thread."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str, *, uri: bool = False) -> None:
        self.path = str(path)
        self.uri = uri
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def in_memory(cls) -> SQLiteViewStore:
        """Views that live in memory until `close`, shared by this process's threads."""
        store = cls(f"file:views-{uuid.uuid4().hex}?mode=memory&cache=shared", uri=True)
        store._conn()  # the database lives as long as one connection to it is open
        return store

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30, uri=self.uri)
            conn.execute("PRAGMA journal_mode=WAL")
            # Views are rebuildable from the log and their position commits with their rows.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[ViewTransaction]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTransaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def reader(self) -> Iterator[ViewTransaction]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield _SQLiteTransaction(conn)
        finally:
            conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


# PostgreSQL -----------------------------------------------------------------------------


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresTransaction(ViewTransaction):
    dialect: Dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(_pg(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), rows)

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.conn.cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return list(cur.fetchall())

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(_pg(sql), tuple(params))
            return cur.fetchall()

    def lock_position(self, name: str) -> tuple[int, int] | None:
        # Serialises runners of the same projection in other processes.
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"carelog:{name}",))
        row = self.fetch_one(
            "SELECT notification_id, version FROM projection_positions WHERE name = ?", (name,))
        return None if row is None else (int(row["notification_id"]), int(row["version"]))


class PostgresViewStore(ViewStore):
    """Views as tables in the PostgreSQL database that holds the log."""

    dialect: Dialect = "postgres"

    def __init__(self, conninfo: str, pool_size: int = 5) -> None:
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            # Views are rebuildable and their position commits with their rows: a commit lost
            # in a crash is folded again, so it need not wait for the disk (the log's do).
            # Set per session, not per transaction: a round trip less for every page folded.
            kwargs={"row_factory": dict_row, "autocommit": True,
                    "options": "-c synchronous_commit=off"},
            open=True,
            name="carelog-views",
        )

    @contextmanager
    def transaction(self) -> Iterator[ViewTransaction]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PostgresTransaction(conn)

    @contextmanager
    def reader(self) -> Iterator[ViewTransaction]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            yield _PostgresTransaction(conn)

    def close(self) -> None:
        self.pool.close()
