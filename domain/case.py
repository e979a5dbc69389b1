"""The Case aggregate: one client request, from opening until it is closed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.errors import InvalidInputError, InvalidStateError
from domain.values import CaseStatus

MAX_SUBJECT = 300
LINES = (1, 2)


class Case(Aggregate):
    """A client's request for help; `resolved` means answered, `closed` means filed away."""

    TOPIC = "carelog:Case"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Case.Created"

    @staticmethod
    def id_for(opening_interaction_id: UUID) -> UUID:
        """A case is named by the message that opened it, so a redelivery cannot open a second."""
        return uuid5(opening_interaction_id, "case")

    @event("Opened", topic="carelog:Case.Opened")
    def __init__(
        self,
        id: UUID,
        account_id: UUID,
        channel: str,
        subject: str,
        topic: str | None,
        priority: str,
        line: int,
        contact_id: UUID | None,
        opening_interaction_id: UUID,
        first_response_due: datetime,
        resolution_due: datetime,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.account_id = account_id
        self.channel = channel
        self.subject = subject
        self.priority = priority
        self.line = line
        self.department: str | None = None
        self.status = CaseStatus.OPEN.value
        self.assignee: str | None = None
        self.escalated = False
        self.ever_resolved = False
        self.opened_at = occurred_at

    # Commands: guards first, then the event.

    def assign(self, agent: str, occurred_at: datetime, actor: str) -> None:
        self._check_not_closed()
        agent = clean_name(agent, "agent")
        if agent == self.assignee:
            raise InvalidStateError(f"the case is already assigned to {agent}")
        self._assign(agent, occurred_at, actor)

    def reply(self, interaction_id: UUID, agent: str, channel: str, occurred_at: datetime,
              actor: str) -> None:
        self._check_not_closed()
        self._check_not_before_opening(occurred_at)
        self._reply(interaction_id, clean_name(agent, "agent"), channel, occurred_at, actor)

    def escalate(self, line: int, department: str | None, reason: str, occurred_at: datetime,
                 actor: str) -> None:
        if self.status != CaseStatus.OPEN.value:
            raise InvalidStateError(
                f"only an open case can be escalated; this one is {self.status}")
        if line not in LINES:
            raise InvalidInputError(f"line must be 1 or 2, not {line}")
        dept = clean_name(department, "department") if department else None
        if self.escalated:
            raise InvalidStateError("the case is already escalated; resolve that escalation first")
        if dept is None and line <= self.line:
            raise InvalidInputError("escalate to a higher line or to a department")
        self._escalate(line, dept, clean_name(reason, "reason", 2000), occurred_at, actor)

    def resolve_escalation(self, note: str, occurred_at: datetime, actor: str) -> None:
        if not self.escalated:
            raise InvalidStateError("the case has no open escalation")
        self._resolve_escalation(note.strip(), occurred_at, actor)

    def resolve(self, resolution: str, occurred_at: datetime, actor: str) -> None:
        if self.status != CaseStatus.OPEN.value:
            raise InvalidStateError(f"only an open case can be resolved; this one is {self.status}")
        self._check_not_before_opening(occurred_at)
        self._resolve(resolution.strip(), occurred_at, actor)

    def reopen(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.status != CaseStatus.RESOLVED.value:
            raise InvalidStateError(
                f"only a resolved case can be reopened; this one is {self.status}")
        self._reopen(reason.strip(), occurred_at, actor)

    def close(self, occurred_at: datetime, actor: str) -> None:
        self._check_not_closed()
        self._close(occurred_at, actor)

    def rate(self, csat: int, comment: str | None, occurred_at: datetime, actor: str) -> None:
        if self.status == CaseStatus.OPEN.value or not self.ever_resolved:
            raise InvalidStateError("a case can be rated once it is resolved")
        if type(csat) is not int or not 1 <= csat <= 5:
            raise InvalidInputError(f"CSAT must be 1 to 5, not {csat}")
        text = (comment or "").strip() or None
        if text is not None and len(text) > 5000:
            raise InvalidInputError("the rating comment is longer than 5000 characters")
        self._rate(csat, text, occurred_at, actor)

    def _check_not_closed(self) -> None:
        if self.status == CaseStatus.CLOSED.value:
            raise InvalidStateError("the case is closed")

    def _check_not_before_opening(self, occurred_at: datetime) -> None:
        if occurred_at < self.opened_at:
            raise InvalidInputError("an action cannot happen before the case was opened")

    # Events: they only change state.

    @event("Assigned", topic="carelog:Case.Assigned")
    def _assign(self, agent: str, occurred_at: datetime, actor: str) -> None:
        self.assignee = agent

    @event("Replied", topic="carelog:Case.Replied")
    def _reply(self, interaction_id: UUID, agent: str, channel: str, occurred_at: datetime,
               actor: str) -> None:
        pass

    @event("Escalated", topic="carelog:Case.Escalated")
    def _escalate(self, line: int, department: str | None, reason: str, occurred_at: datetime,
                  actor: str) -> None:
        self.line = line
        self.department = department
        self.escalated = True

    @event("EscalationResolved", topic="carelog:Case.EscalationResolved")
    def _resolve_escalation(self, note: str, occurred_at: datetime, actor: str) -> None:
        self.escalated = False

    @event("Resolved", topic="carelog:Case.Resolved")
    def _resolve(self, resolution: str, occurred_at: datetime, actor: str) -> None:
        self.status = CaseStatus.RESOLVED.value
        self.ever_resolved = True

    @event("Reopened", topic="carelog:Case.Reopened")
    def _reopen(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = CaseStatus.OPEN.value

    @event("Closed", topic="carelog:Case.Closed")
    def _close(self, occurred_at: datetime, actor: str) -> None:
        self.status = CaseStatus.CLOSED.value

    @event("Rated", topic="carelog:Case.Rated")
    def _rate(self, csat: int, comment: str | None, occurred_at: datetime, actor: str) -> None:
        pass
