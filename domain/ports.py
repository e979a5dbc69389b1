"""Protocols the domain needs from the outside world; adapters in `integrations/` satisfy them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    """The source of "now" for live commands (imported history brings its own times)."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


@dataclass(frozen=True, slots=True)
class IssueDraft:
    """What a feedback item's issue should show; `label` names the feedback for searches."""

    summary: str
    description: str
    labels: tuple[str, ...]
    label: str


@dataclass(frozen=True, slots=True)
class TrackedIssue:
    key: str
    labels: tuple[str, ...]
    status_id: str
    status_category: str
    """The status category key: `new`, `indeterminate` or `done`."""


class TrackerUnavailableError(Exception):
    """The tracker answered and did nothing (503, 429, a refusal): safe to try again later.

    `retry_after` is the tracker's own wait in seconds, when it named one (429 Retry-After).
    """

    def __init__(self, message: str, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TrackerOutcomeUnknownError(Exception):
    """No answer (a timeout, a dropped connection): the change may or may not have happened."""


class TicketTracker(Protocol):
    """The issue tracker product feedback is mirrored in (Jira).

    Every method raises `TrackerUnavailableError` when the tracker refused or could not serve,
    and `TrackerOutcomeUnknownError` when the call's effect is unknown.
    """

    def find(self, label: str) -> list[TrackedIssue]:
        """Issues carrying `label`; the tracker's search may lag recent creates."""
        ...

    def get(self, key: str) -> TrackedIssue | None:
        """The issue by key, read directly (no search lag); None when it does not exist."""
        ...

    def create(self, draft: IssueDraft) -> str:
        """Create an issue and return its key. Not idempotent: search with `find` first."""
        ...

    def update(self, key: str, draft: IssueDraft) -> None:
        """Set the issue's summary, description and labels (idempotent)."""
        ...

    def comment_once(self, key: str, marker: str, body: str) -> bool:
        """Add a comment unless one containing `marker` exists; True when it added one."""
        ...


# Channels ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a message: recorded as metadata, the content is not kept."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One client message as a channel adapter read it, before routing.

    `external_id` is the channel's own id for the message (Telegram `<chat>:<message_id>`,
    an email's Message-ID, ...): the same delivery twice yields the same id and is stored once.
    `conversation` names where it was said (a Telegram chat id, an email address, a phone
    number); `sender` is who said it, as the channel names them (email address, Telegram user
    id, phone number). `thread` lists ids of earlier messages this one answers (In-Reply-To and
    References, a Telegram reply), newest last; `case_ref` is a case tag found in the subject.
    `edit_of` is the `external_id` of the message this one edits.
    """

    channel: str
    external_id: str
    conversation: str
    sender: str
    sender_name: str
    text: str
    occurred_at: datetime
    subject: str | None = None
    thread: tuple[str, ...] = ()
    case_ref: str | None = None
    edit_of: str | None = None
    attachments: tuple[Attachment, ...] = ()
    automated: bool = False
    """An auto-reply, bounce or list mail (RFC 3834): recorded, never answered."""
    flagged: str | None = None
    """Why a person must look before anyone acts on it (a mail claiming to come from staff
    that fails authentication, a body that could not be read); None when nothing is odd."""


def message_document(message: InboundMessage) -> dict[str, Any]:
    """The message as plain JSON-ready data, to keep it in an event."""
    document = asdict(message)
    document["occurred_at"] = message.occurred_at.isoformat()
    document["thread"] = list(message.thread)
    document["attachments"] = [asdict(a) for a in message.attachments]
    return document


def message_from_document(document: dict[str, Any]) -> InboundMessage:
    return InboundMessage(**{
        **document, "occurred_at": datetime.fromisoformat(document["occurred_at"]),
        "thread": tuple(document["thread"]),
        "attachments": tuple(Attachment(**a) for a in document["attachments"])})


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message we send on a channel: an agent's reply or a room post."""

    channel: str
    conversation: str
    """Where to: a Telegram chat id, an email address."""
    text: str
    message_id: str
    """Our own id for it (an email's Message-ID); a retried send reuses it."""
    subject: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automated: bool = False
    """An automatic answer (acknowledgement, out-of-hours notice), not a person's reply: email
    marks it `Auto-Submitted: auto-replied` so well-behaved auto-responders do not answer it."""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What the channel answered: its id for the sent message, or why it failed."""

    delivered: bool
    external_id: str | None = None
    error: str | None = None
    retryable: bool = False


class MessageSender(Protocol):
    """Sends our messages out on one channel (Telegram Bot API, SMTP).

    Never raises for a refusal or an outage: the receipt says what happened, so the outcome
    can be recorded as an event either way.
    """

    channel: str

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        ...
