"""The Alert aggregate: a key account's health fell; its manager acknowledges and resolves it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStateError


class AlertKind(StrEnum):
    BAND_DROPPED = "band_dropped"
    SCORE_FELL = "score_fell"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Aggregate):
    TOPIC = "carelog:Alert"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Alert.Created"

    @staticmethod
    def id_for(account_id: UUID, kind: str, day: date, model_version: int) -> UUID:
        """One alert per account, kind and daily close, so a replayed reactor raises it once."""
        return uuid5(NAMESPACE_URL,
                     f"/carelog/alerts/{account_id}/{kind}/{day.isoformat()}/{model_version}")

    @event("Raised", topic="carelog:Alert.Raised")
    def __init__(self, id: UUID, account_id: UUID, manager: str, kind: str, day: date,
                 score_before: int | None, score_after: int, band_before: str,
                 band_after: str, drivers: list[dict[str, Any]], model_version: int,
                 occurred_at: datetime, actor: str) -> None:
        self.account_id = account_id
        self.status = AlertStatus.OPEN.value

    def acknowledge(self, note: str, occurred_at: datetime, actor: str) -> None:
        if self.status != AlertStatus.OPEN.value:
            raise InvalidStateError(f"the alert is {self.status}, not open")
        self._acknowledge(note.strip(), occurred_at, actor)

    def resolve(self, note: str, occurred_at: datetime, actor: str) -> None:
        if self.status == AlertStatus.RESOLVED.value:
            raise InvalidStateError("the alert is already resolved")
        self._resolve(note.strip(), occurred_at, actor)

    @event("Acknowledged", topic="carelog:Alert.Acknowledged")
    def _acknowledge(self, note: str, occurred_at: datetime, actor: str) -> None:
        self.status = AlertStatus.ACKNOWLEDGED.value

    @event("Resolved", topic="carelog:Alert.Resolved")
    def _resolve(self, note: str, occurred_at: datetime, actor: str) -> None:
        self.status = AlertStatus.RESOLVED.value
