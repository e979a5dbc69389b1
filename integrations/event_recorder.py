"""The PostgreSQL recorder of the event log: eventsourcing's, inserting a save's events as four
plain arrays.

eventsourcing already inserts all the events of one save with one statement, from an array of a
composite type; psycopg adapts such an array element by element in Python, which cost a batch
of inbound messages more than its round trip. Arrays of uuid, bigint, text and bytea are
adapted by psycopg's C code. Everything else is the library's: the table lock that keeps
notification ids in commit order, the NOTIFY, the notification ids returned in insert order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

TOPIC = f"{__name__}:EventRecorder"
"""How eventsourcing is told to use it (`APPLICATION_RECORDER_TOPIC`)."""


class EventRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id",
        ).format(schema=Identifier(datastore.schema), table=Identifier(events_table_name),
                 id_type=Identifier(datastore.originator_id_type))

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                              **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events]), prepare=True)
