"""The StrayMessage aggregate: a client message no account could be found for.

Mail from an address nobody knows, a web form from an unknown company, a Telegram chat that is
not linked yet: nothing is lost. The message waits, with what the channel said about it, until
someone routes it to an account (it is then received there as if it had just arrived) or
dismisses it. Its id derives from the channel's message id, so a redelivery is stored once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStateError

_NAMESPACE = UUID("a7d3f0e2-8c41-4b9a-9e36-5f2c1b7d0a84")


class StrayMessage(Aggregate):
    """A message held for a person to route, because its sender matched no account."""

    TOPIC = "carelog:StrayMessage"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:StrayMessage.Created"

    @staticmethod
    def id_for(channel: str, external_id: str) -> UUID:
        return uuid5(_NAMESPACE, f"stray/{channel}/{external_id}")

    @event("Held", topic="carelog:StrayMessage.Held")
    def __init__(self, id: UUID, message: dict[str, Any], reason: str, occurred_at: datetime,
                 actor: str) -> None:
        self.message = message
        self.reason = reason
        self.status = "held"

    def route(self, account_id: UUID, interaction_id: UUID, occurred_at: datetime,
              actor: str) -> None:
        self._check_held()
        self._routed(account_id, interaction_id, occurred_at, actor)

    def dismiss(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self._check_held()
        self._dismissed(reason, occurred_at, actor)

    def _check_held(self) -> None:
        if self.status != "held":
            raise InvalidStateError(f"the message is already {self.status}")

    @event("Routed", topic="carelog:StrayMessage.Routed")
    def _routed(self, account_id: UUID, interaction_id: UUID, occurred_at: datetime,
                actor: str) -> None:
        self.status = "routed"

    @event("Dismissed", topic="carelog:StrayMessage.Dismissed")
    def _dismissed(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = "dismissed"
