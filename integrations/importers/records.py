"""The neutral records every reader produces and the one writer replays.

Keys are the source system's own ids (`zendesk/ticket/123`, `csv/account/Acme`): the writer
derives every aggregate id from them, so importing the same history twice adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that could not be imported, where it came from and why."""

    kind: str  # account, revenue, contact, ticket, message, rating, nps
    file: str
    line: int  # CSV: the line the row starts on; JSON: the record's position (1-based)
    key: str
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "key": self.key,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was read, for the rejection report."""

    file: str
    line: int


@dataclass(frozen=True, slots=True)
class RevenueSpan:
    """A subscription: `mrr` in `currency` from `start` to `end` (None: still running)."""

    start: datetime
    end: datetime | None
    mrr: Decimal
    currency: str
    origin: Origin


@dataclass(slots=True)
class ImportedAccount:
    key: str
    name: str
    tier: str
    manager: str
    origin: Origin
    signed_up_at: datetime | None = None
    currency: str | None = None
    seats: int | None = None
    churned_at: datetime | None = None
    churn_reason: str = "churned (imported)"
    revenue: list[RevenueSpan] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportedContact:
    key: str
    account_key: str
    name: str
    email: str
    origin: Origin
    phone: str | None = None
    role: str = "user"
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    """A message of a ticket after its opening one; outbound public messages are replies."""

    key: str
    sent_at: datetime
    inbound: bool
    author: str
    text: str
    origin: Origin


@dataclass(slots=True)
class ImportedTicket:
    key: str
    account_key: str
    opened_at: datetime
    subject: str
    text: str
    channel: str
    priority: str
    origin: Origin
    topic: str | None = None
    requester_email: str | None = None
    agent: str | None = None
    first_response_at: datetime | None = None
    escalated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    csat: int | None = None
    csat_comment: str | None = None
    rated_at: datetime | None = None
    messages: list[ImportedMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportedNps:
    key: str
    account_key: str
    email: str
    score: int
    answered_at: datetime
    origin: Origin
    survey: str = "imported"
    comment: str | None = None


@dataclass(slots=True)
class ImportPlan:
    """Everything read from one source, in the order it is written."""

    source: str  # csv, zendesk, freshdesk
    accounts: list[ImportedAccount] = field(default_factory=list)
    contacts: list[ImportedContact] = field(default_factory=list)
    tickets: list[ImportedTicket] = field(default_factory=list)
    nps: list[ImportedNps] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)

    def reject(self, kind: str, origin: Origin, key: str, reason: str) -> None:
        self.rejections.append(Rejection(kind, origin.file, origin.line, key, reason))

    @property
    def rows(self) -> int:
        return (len(self.accounts) + len(self.contacts) + len(self.tickets) + len(self.nps)
                + len(self.rejections))
