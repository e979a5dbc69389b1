"""Leases: at most one holder at a time across processes, released when the holder dies.

The relay holds one so that exactly one relay publishes. On PostgreSQL it is a session
advisory lock on a connection of its own (the server drops it with the connection); on the
embedded SQLite store it is an `flock` on a file beside the data (the kernel drops it with the
process). Correctness does not rest on the lease alone: the stream refuses a message that does
not follow the last one (`Nats-Expected-Last-Msg-Id`), so a second publisher only wastes work.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Protocol

import psycopg


class Lease(Protocol):
    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when we hold it now."""
        ...

    def held(self) -> bool:
        """Whether we still hold it (a lost database connection loses the lease)."""
        ...

    def release(self) -> None: ...


async def acquire(lease: Lease, stop: asyncio.Event, poll: float = 1.0) -> bool:
    """Wait until the lease is ours (True) or `stop` is set (False)."""
    while not stop.is_set():
        if await asyncio.to_thread(lease.try_acquire):
            return True
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except TimeoutError:
            continue
    return False


class PostgresLease:
    def __init__(self, conninfo: str, name: str) -> None:
        self.conninfo = conninfo
        self.name = name
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def try_acquire(self) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
        row = self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                                 (self.name,)).fetchone()
        return bool(row and row[0])

    def held(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        try:
            # A session lock lives as long as the session: a live connection still holds it.
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()  # the server releases the lock with the session
        self._conn = None


class FileLease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
