"""Small helpers shared by the unit tests: read the log of an in-memory CareDesk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from domain.application import CareDesk

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF = "staff:ann"
CLIENT = "contact:bob"


def new_desk(clock: Any, currencies: frozenset[str] = frozenset({"EUR", "USD"})) -> CareDesk:
    """A CareDesk on eventsourcing's plain-Python-objects recorder: no files, no server."""
    return CareDesk({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock, currencies)


def head(desk: CareDesk) -> int:
    """The id of the last notification in the log (0 when the log is empty)."""
    return desk.recorder.max_notification_id() or 0


def notifications(desk: CareDesk, start: int | None = None) -> list[Any]:
    return list(desk.recorder.select_notifications(start=start, limit=1000))


def topics(desk: CareDesk, after: int = 0) -> list[str]:
    """Topics of the notifications after position `after`, in log order."""
    return [n.topic for n in notifications(desk) if n.id > after]


def events(desk: CareDesk, topic: str) -> list[Any]:
    """Every stored domain event with this topic, in log order."""
    return [desk.mapper.to_domain_event(n) for n in notifications(desk) if n.topic == topic]


@contextmanager
def nothing_written(desk: CareDesk) -> Iterator[None]:
    """Assert the block appends no event to the log (use it outside `pytest.raises`)."""
    before = head(desk)
    yield
    assert head(desk) == before, f"{head(desk) - before} event(s) written by a refused command"
