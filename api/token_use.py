"""When each API token was last used: a small table beside the views, not events in the log.

Last use is telemetry, not a business fact. As events it would add a write to the log (and the
NATS stream, and every projector's work) for requests that change nothing, and it would bump
the versions of the credential a revocation must load. So each process writes a token's time
at most once per `INTERVAL` (by the log's clock) into `credential_uses`, keeping the later of
two times when processes race; the time shown is therefore at most a minute old. Losing the
table loses nothing but these times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from projections.schema import Column, Table
from projections.store import ViewStore

INTERVAL = timedelta(minutes=1)
USES = Table("credential_uses",
             columns=(Column("credential_id"), Column("last_used_at", "timestamp")),
             key=("credential_id",))
_UPSERT = (f"{USES.upsert_statement()} "
           "WHERE excluded.last_used_at > credential_uses.last_used_at")


class TokenUse:
    """Records and reads the last use of tokens."""

    def __init__(self, store: ViewStore, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self._written: dict[str, datetime] = {}
        """What this process wrote last per credential id."""
        self._lock = threading.Lock()
        store.ensure([USES])

    def used(self, credential_id: str) -> None:
        at = self.now()
        with self._lock:
            last = self._written.get(credential_id)
            if last is not None and at - last < INTERVAL:
                return
            if len(self._written) > 100_000:
                self._written.clear()
            self._written[credential_id] = at
        with self.store.transaction() as tx:
            tx.execute(_UPSERT, USES.encode({"credential_id": credential_id,
                                             "last_used_at": at}, self.store.dialect))

    def last_used(self, credential_ids: Iterable[str]) -> dict[str, datetime]:
        ids = list(credential_ids)
        if not ids:
            return {}
        with self.store.reader() as tx:
            rows: list[dict[str, Any]] = tx.fetch_all(USES.select_many_statement(len(ids)), ids)
        decoded = [USES.decode(r, self.store.dialect) for r in rows]
        return {r["credential_id"]: r["last_used_at"] for r in decoded}
