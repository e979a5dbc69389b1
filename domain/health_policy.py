"""The HealthPolicy aggregate: the published versions of the key-account health model.

There is one policy per installation. Publishing a version makes every health figure, history
included, recomputed under it, so histories stay comparable across versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.health_model import HealthModel

POLICY_ID = uuid5(NAMESPACE_URL, "/carelog/health-policy")


class HealthPolicy(Aggregate):
    TOPIC = "carelog:HealthPolicy"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:HealthPolicy.Created"

    @event("Started", topic="carelog:HealthPolicy.Started")
    def __init__(self, id: UUID, occurred_at: datetime, actor: str) -> None:
        self.model_version = 1

    def publish(self, document: dict[str, Any], note: str, occurred_at: datetime,
                actor: str) -> int:
        """Validate a model document and publish it as the next version; returns the version."""
        version = self.model_version + 1
        model = HealthModel.from_document({**document, "version": version})
        self._publish(version, model.to_document(), clean_name(note or f"version {version}",
                                                               "note", 2000),
                      occurred_at, actor)
        return version

    @event("ModelPublished", topic="carelog:HealthPolicy.ModelPublished")
    def _publish(self, version: int, document: dict[str, Any], note: str, occurred_at: datetime,
                 actor: str) -> None:
        self.model_version = version
