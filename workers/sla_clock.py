"""The SLA clock: records first-response and resolution breaches as their due times pass.

The `case_queues` view narrows the search to open cases past a due time with no breach on
record; each case's own clock (business hours, pauses, reopenings) decides, and records every
breach once, as having occurred at its due instant.
"""

from __future__ import annotations

from uuid import UUID

from domain.application import CareDesk
from domain.errors import DomainError
from domain.ports import Clock
from projections.case_queues import CaseQueuesView

ACTOR = "system:sla-clock"


class SlaClockReactor:
    def __init__(self, desk: CareDesk, cases: CaseQueuesView, clock: Clock) -> None:
        self.desk = desk
        self.cases = cases
        self.clock = clock

    def round(self) -> int:
        """Record what fell due by now; returns how many cases got breaches."""
        now = self.clock.now()
        recorded = 0
        for case_id in self.cases.sla_candidates(now):
            try:
                result = self.desk.record_sla_breaches(case_id=UUID(case_id), actor=ACTOR,
                                                       at=now)
            except DomainError:
                continue  # closed or changed meanwhile: the view will catch up
            recorded += not result.duplicate
        return recorded
