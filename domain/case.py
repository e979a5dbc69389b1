"""The Case aggregate: one client request, from opening until it is closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.business_calendar import TWENTY_FOUR_SEVEN, BusinessCalendar
from domain.errors import InvalidInputError, InvalidStateError
from domain.service_plans import SlaTargets
from domain.sla_clock import SlaClock, SlaKind
from domain.values import CaseStatus, Priority, enum_value

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

    @staticmethod
    def sla_terms(targets: SlaTargets, calendar: BusinessCalendar) -> dict[str, Any]:
        """What a case keeps of its plan: targets in business seconds and the calendar."""
        return {"calendar": calendar.to_document(),
                "first_response": targets.first_response.total_seconds(),
                "resolution": targets.resolution.total_seconds()}

    @staticmethod
    def start_clock(sla: dict[str, Any], priority: str, opened_at: datetime) -> SlaClock:
        targets = SlaTargets(timedelta(seconds=sla["first_response"]),
                             timedelta(seconds=sla["resolution"]))
        calendar = BusinessCalendar.from_document(sla["calendar"])
        return SlaClock.started(opened_at, priority, targets, calendar)

    @classmethod
    def due_times(cls, sla: dict[str, Any], priority: str,
                  opened_at: datetime) -> tuple[datetime, datetime]:
        """First-response and resolution due times of a case opened now on these terms."""
        clock = cls.start_clock(sla, priority, opened_at)
        first, resolution = clock.due(SlaKind.FIRST_RESPONSE), clock.due(SlaKind.RESOLUTION)
        if first is None or resolution is None:
            raise InvalidStateError("a new SLA clock must be running")
        return first, resolution

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
        sla: dict[str, Any] | None = None,
    ) -> None:
        self.account_id = account_id
        self.channel = channel
        self.opening_interaction_id = opening_interaction_id
        self.subject = subject
        self.priority = priority
        self.line = line
        self.department: str | None = None
        self.status = CaseStatus.OPEN.value
        self.assignee: str | None = None
        self.escalated = False
        self.ever_resolved = False
        self.waiting = False
        self.opened_at = occurred_at
        if sla is None:  # cases opened before SLA calendars: wall-clock targets
            sla = {"calendar": TWENTY_FOUR_SEVEN.to_document(),
                   "first_response": (first_response_due - occurred_at).total_seconds(),
                   "resolution": (resolution_due - occurred_at).total_seconds()}
        self.sla_calendar = sla["calendar"]
        self.sla = self.start_clock(sla, priority, occurred_at)
        self.announced_due = (first_response_due, resolution_due)

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
        self._announce_due(occurred_at, actor)

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

    def wait_on_client(self, reason: str, occurred_at: datetime, actor: str) -> None:
        """The case waits for the client's answer; its resolution clock stands still."""
        self._check_open("put on hold")
        if self.waiting:
            raise InvalidStateError("the case is already waiting on the client")
        self._check_not_before_opening(occurred_at)
        self._pause(reason.strip(), occurred_at, actor)

    def resume(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if not self.waiting:
            raise InvalidStateError("the case is not waiting on the client")
        self._resume(reason.strip(), occurred_at, actor)
        self._announce_due(occurred_at, actor)

    def change_priority(self, priority: str, targets: SlaTargets, occurred_at: datetime,
                        actor: str) -> None:
        self._check_open("reprioritised")
        priority = enum_value(Priority, priority, "priority")
        if priority == self.priority:
            raise InvalidStateError(f"the case already has priority {priority}")
        self._change_priority(priority, targets.first_response.total_seconds(),
                              targets.resolution.total_seconds(), occurred_at, actor)
        self._announce_due(occurred_at, actor)

    def record_sla_breaches(self, at: datetime, actor: str) -> int:
        """Record the breaches that fell due by `at`, each once; returns how many."""
        pending = self.sla.pending_breaches(at)
        for kind, due in pending:
            self._breach(kind.value, due, due, actor)
        return len(pending)

    def _announce_due(self, occurred_at: datetime, actor: str) -> None:
        due = (self.sla.due(SlaKind.FIRST_RESPONSE), self.sla.due(SlaKind.RESOLUTION))
        if due != self.announced_due and due[0] is not None and due[1] is not None:
            self._set_targets(due[0], due[1], occurred_at, actor)

    def _check_open(self, what: str) -> None:
        if self.status != CaseStatus.OPEN.value:
            raise InvalidStateError(f"only an open case can be {what}; this one is {self.status}")

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
        self.sla = self.sla.first_responded(occurred_at)

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
        self.waiting = False
        self.sla = self.sla.resolved(occurred_at)

    @event("Reopened", topic="carelog:Case.Reopened")
    def _reopen(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = CaseStatus.OPEN.value
        self.sla = self.sla.reopened(occurred_at)

    @event("Closed", topic="carelog:Case.Closed")
    def _close(self, occurred_at: datetime, actor: str) -> None:
        self.status = CaseStatus.CLOSED.value

    @event("Rated", topic="carelog:Case.Rated")
    def _rate(self, csat: int, comment: str | None, occurred_at: datetime, actor: str) -> None:
        pass

    @event("Paused", topic="carelog:Case.Paused")
    def _pause(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.waiting = True
        self.sla = self.sla.paused(occurred_at)

    @event("Resumed", topic="carelog:Case.Resumed")
    def _resume(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.waiting = False
        self.sla = self.sla.resumed(occurred_at)

    @event("PriorityChanged", topic="carelog:Case.PriorityChanged")
    def _change_priority(self, priority: str, first_response_target: float,
                         resolution_target: float, occurred_at: datetime, actor: str) -> None:
        self.priority = priority
        self.sla = self.sla.priority_changed(
            occurred_at, priority, SlaTargets(timedelta(seconds=first_response_target),
                                              timedelta(seconds=resolution_target)))

    @event("SlaTargetsSet", topic="carelog:Case.SlaTargetsSet")
    def _set_targets(self, first_response_due: datetime, resolution_due: datetime,
                     occurred_at: datetime, actor: str) -> None:
        self.announced_due = (first_response_due, resolution_due)

    @event("SlaBreached", topic="carelog:Case.SlaBreached")
    def _breach(self, kind: str, due_at: datetime, occurred_at: datetime, actor: str) -> None:
        self.sla = self.sla.breach_recorded(kind, occurred_at)
