"""The Announcement aggregate: planned maintenance or an incident, told to the affected clients.

Every message clients must hear (the publication, each update, the resolution) is a new
`revision`. The announcement reactor fans each revision out to every affected account and
records what it sent per account (`Delivered`), then the revision as done (`FannedOut`): those
records, and the deterministic ids of the messages it sends, make a restarted reactor send
nothing twice. Cases that affected accounts open during the window are linked to it, so agents
answer them once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.errors import InvalidInputError, InvalidStateError
from domain.values import Tier, enum_value

MAX_TEXT = 20_000


class AnnouncementKind(StrEnum):
    MAINTENANCE = "maintenance"
    INCIDENT = "incident"


class AnnouncementStatus(StrEnum):
    CURRENT = "current"
    RESOLVED = "resolved"


def clean_announcement(title: str, text: str, services: list[str], plans: list[str],
                       starts_at: datetime, ends_at: datetime | None,
                       ) -> tuple[str, str, list[str], list[str]]:
    """Title, text, affected services and plans, checked; the window must make sense."""
    body = text.strip()
    if not body:
        raise InvalidInputError("an announcement's text must not be empty")
    if len(body) > MAX_TEXT:
        raise InvalidInputError(f"an announcement's text is longer than {MAX_TEXT} characters")
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise InvalidInputError("the window's times must carry a timezone")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInputError("the window must end after it starts")
    return (clean_name(title, "title", 250), body,
            sorted({clean_name(s, "service", 100) for s in services}),
            sorted({enum_value(Tier, p, "plan") for p in plans}))


class Announcement(Aggregate):
    """Planned maintenance or an incident, with who it affects and when."""

    TOPIC = "carelog:Announcement"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Announcement.Created"

    @event("Published", topic="carelog:Announcement.Published")
    def __init__(self, id: UUID, kind: str, title: str, text: str, services: list[str],
                 plans: list[str], accounts: list[UUID], starts_at: datetime,
                 ends_at: datetime | None, occurred_at: datetime, actor: str) -> None:
        self.kind = kind
        self.title = title
        self.text = text
        self.plans = list(plans)
        self.accounts = list(accounts)
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.status = AnnouncementStatus.CURRENT.value
        self.revision = 1
        self.fanned_out = 0
        """The last revision every affected account was sent."""
        self.delivered: set[tuple[int, UUID]] = set()
        self.linked_cases: list[UUID] = []

    @property
    def message(self) -> str:
        """What clients are told for the current revision."""
        prefix = "" if self.revision == 1 else "Update: "
        if self.status == AnnouncementStatus.RESOLVED.value:
            prefix = "Resolved: "
        return f"{prefix}{self.title}\n\n{self.text}"

    def affects(self, account_id: UUID, tier: str) -> bool:
        """Named accounts and the plans' accounts; naming neither means every account."""
        if not self.accounts and not self.plans:
            return True
        return account_id in self.accounts or tier in self.plans

    def during(self, moment: datetime) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    # Commands: guards first, then the event.

    def update(self, title: str, text: str, services: list[str], plans: list[str],
               accounts: list[UUID], starts_at: datetime, ends_at: datetime | None,
               occurred_at: datetime, actor: str) -> None:
        self._check_current()
        title, text, services, plans = clean_announcement(title, text, services, plans,
                                                          starts_at, ends_at)
        self._update(title, text, services, plans, sorted(set(accounts), key=str), starts_at,
                     ends_at, occurred_at, actor)

    def resolve(self, text: str, occurred_at: datetime, actor: str) -> None:
        self._check_current()
        body = text.strip() or "The issue is resolved."
        self._resolve(body[:MAX_TEXT], occurred_at, actor)

    def record_delivery(self, revision: int, account_id: UUID, sent: list[dict[str, Any]],
                        failed: list[dict[str, Any]], occurred_at: datetime,
                        actor: str) -> bool:
        """What one account was sent for a revision; False when recorded before."""
        if (revision, account_id) in self.delivered:
            return False
        self._record_delivery(revision, account_id, sent, failed, occurred_at, actor)
        return True

    def finish_fan_out(self, revision: int, accounts: int, occurred_at: datetime,
                       actor: str) -> None:
        if revision > self.fanned_out:
            self._finish_fan_out(revision, accounts, occurred_at, actor)

    def link_case(self, case_id: UUID, account_id: UUID, occurred_at: datetime,
                  actor: str) -> bool:
        if case_id in self.linked_cases:
            return False
        self._link_case(case_id, account_id, occurred_at, actor)
        return True

    def _check_current(self) -> None:
        if self.status != AnnouncementStatus.CURRENT.value:
            raise InvalidStateError("the announcement is resolved")

    # Events: they only change state.

    @event("Updated", topic="carelog:Announcement.Updated")
    def _update(self, title: str, text: str, services: list[str], plans: list[str],
                accounts: list[UUID], starts_at: datetime, ends_at: datetime | None,
                occurred_at: datetime, actor: str) -> None:
        self.title = title
        self.text = text
        self.plans = list(plans)
        self.accounts = list(accounts)
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.revision += 1

    @event("Resolved", topic="carelog:Announcement.Resolved")
    def _resolve(self, text: str, occurred_at: datetime, actor: str) -> None:
        self.text = text
        self.status = AnnouncementStatus.RESOLVED.value
        self.revision += 1

    @event("Delivered", topic="carelog:Announcement.Delivered")
    def _record_delivery(self, revision: int, account_id: UUID, sent: list[dict[str, Any]],
                         failed: list[dict[str, Any]], occurred_at: datetime,
                         actor: str) -> None:
        self.delivered.add((revision, account_id))

    @event("FannedOut", topic="carelog:Announcement.FannedOut")
    def _finish_fan_out(self, revision: int, accounts: int, occurred_at: datetime,
                        actor: str) -> None:
        self.fanned_out = revision

    @event("CaseLinked", topic="carelog:Announcement.CaseLinked")
    def _link_case(self, case_id: UUID, account_id: UUID, occurred_at: datetime,
                   actor: str) -> None:
        self.linked_cases.append(case_id)
