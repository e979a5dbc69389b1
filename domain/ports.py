"""Protocols the domain needs from the outside world; adapters in `integrations/` satisfy them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
