"""Several aggregates' stored events in one query, for the recorders Carelog runs on.

eventsourcing reads one aggregate per query; a batch of inbound messages needs the accounts,
chats and cases of all its messages, and one round trip for them all is what lets a group
commit outrun one message at a time on a busy database. Each aggregate's events are read after
a version given with it (0: from the start), so a batch that kept an aggregate from the last
one reads only what was recorded since.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

HistoryReader = Callable[[Mapping[UUID, int]], dict[UUID, list[StoredEvent]]]
"""{aggregate id: version after which to read} -> {aggregate id: its events after it}"""


def history_reader(recorder: AggregateRecorder) -> HistoryReader | None:
    """A reader of several histories at once on this recorder; None for other recorders."""
    if isinstance(recorder, PostgresAggregateRecorder):
        return _postgres(recorder)
    if isinstance(recorder, SQLiteAggregateRecorder):
        return _sqlite(recorder)
    return None


def _postgres(recorder: PostgresAggregateRecorder) -> HistoryReader:
    # LATERAL and OFFSET 0 (kept from being flattened into a join, for which the planner may
    # scan the whole log): one index lookup per aggregate.
    statement = SQL(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state "
        "FROM unnest(%s::uuid[], %s::int[]) AS k(id, after) CROSS JOIN LATERAL ("
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = k.id AND originator_version > k.after OFFSET 0) AS e "
        "ORDER BY e.originator_id, e.originator_version",
    ).format(schema=Identifier(recorder.datastore.schema),
             table=Identifier(recorder.events_table_name))

    def read(after: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [list(after), list(after.values())], prepare=True)
            return _grouped(curs.fetchall(), lambda value: value)

    return read


def _sqlite(recorder: SQLiteAggregateRecorder) -> HistoryReader:
    def read(after: Mapping[UUID, int]) -> dict[UUID, list[StoredEvent]]:
        marks = ", ".join("?" * len(after))
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT originator_id, originator_version, topic, state "
                      f"FROM {recorder.events_table_name} WHERE originator_id IN ({marks}) "
                      "ORDER BY originator_id, originator_version", [i.hex for i in after])
            rows = [r for r in c.fetchall()
                    if r["originator_version"] > after[UUID(r["originator_id"])]]
            return _grouped(rows, recorder.convert_originator_id)

    return read


def _grouped(rows: Sequence[Any],
             originator: Callable[[Any], Any]) -> dict[UUID, list[StoredEvent]]:
    found: dict[UUID, list[StoredEvent]] = {}
    for row in rows:
        event = StoredEvent(originator_id=originator(row["originator_id"]),
                            originator_version=row["originator_version"], topic=row["topic"],
                            state=bytes(row["state"]))
        found.setdefault(UUID(str(event.originator_id)), []).append(event)
    return found
