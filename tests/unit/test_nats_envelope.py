"""The JetStream message format and subject names, without a server."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import uuid4

from eventsourcing.persistence import Notification

from integrations.nats.envelope import (
    EXPECTED_LAST_MSG_ID,
    MessageId,
    headers_for,
    log_epoch,
    notification_of,
    payload_of,
)
from integrations.nats.subjects import Subjects
from workers.stream_projector import _contiguous_runs


def notification(nid: int, state: bytes = b'{"a":1}\n{"b":2}') -> Notification:
    return Notification(originator_id=uuid4(), originator_version=3,
                        topic="carelog:Case.Escalated", state=state, id=nid)


def test_a_notification_survives_the_trip_through_a_message_byte_for_byte():
    sent = notification(42)
    received = notification_of(SimpleNamespace(data=payload_of(sent)))  # type: ignore[arg-type]
    assert received == sent
    assert received.state == sent.state, "newlines in the state are kept"


def test_message_ids_name_the_database_and_the_position():
    first = notification(1, b"first event")
    epoch = log_epoch(first)
    assert epoch == log_epoch(first)
    assert epoch != log_epoch(notification(1, b"another database's first event"))
    assert MessageId.parse(str(MessageId(epoch, 77))) == MessageId(epoch, 77)


def test_every_message_but_the_first_expects_its_predecessor():
    first = headers_for(notification(1), "e", None)
    assert first == {"Nats-Msg-Id": "e:1"}
    second = headers_for(notification(2), "e", MessageId("e", 1))
    assert second[EXPECTED_LAST_MSG_ID] == "e:1"


def test_subjects_come_from_one_prefix():
    subjects = Subjects("carelog")
    assert subjects.stream == "CARELOG"
    assert subjects.events == "carelog.events.>"
    assert subjects.event("carelog:Case.Escalated") == "carelog.events.Case.Escalated"
    assert subjects.views("accounts") == "carelog.views.accounts"
    assert subjects.consumer("case_queues") == "carelog_projection_case_queues"


def test_deliveries_split_where_a_stream_sequence_is_skipped():
    ordered = [(seq, f"m{seq}") for seq in (4, 5, 6, 9, 10, 12)]
    runs = _contiguous_runs(ordered)  # type: ignore[arg-type]
    assert [[seq for seq, _ in run] for run in runs] == [[4, 5, 6], [9, 10], [12]]
