"""Names on the NATS server, all derived from one prefix (CARELOG_NATS_PREFIX)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Subjects:
    prefix: str = "carelog"

    @property
    def stream(self) -> str:
        return self.prefix.upper()

    @property
    def events(self) -> str:
        """Every event: `carelog.events.>`."""
        return f"{self.prefix}.events.>"

    def event(self, topic: str) -> str:
        """`carelog:Case.Escalated` is published on `carelog.events.Case.Escalated`."""
        return f"{self.prefix}.events.{topic.partition(':')[2] or topic}"

    def views(self, projection: str) -> str:
        return f"{self.prefix}.views.{projection}"

    @property
    def all_views(self) -> str:
        return f"{self.prefix}.views.>"

    def consumer(self, projection: str) -> str:
        return f"{self.prefix}_projection_{projection}"
