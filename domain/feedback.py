"""The Feedback aggregate: one product request, the accounts asking for it, and its Jira issue.

Its Jira state is the intent record the Jira reactor works from: `JiraCreateAttempted` is saved
*before* the issue is posted, so after a crash or a timeout the reactor knows a create may have
happened and searches for it before it ever posts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.errors import InvalidInputError, InvalidStateError

MAX_TITLE = 250
MAX_TEXT = 20_000


class FeedbackStatus(StrEnum):
    """Where a request stands; the last three follow the Jira issue's status category."""

    SUBMITTED = "submitted"
    """Recorded, no Jira issue linked yet."""
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    SHIPPED = "shipped"
    DECLINED = "declined"
    MERGED = "merged"


OUTCOMES = (FeedbackStatus.SHIPPED.value, FeedbackStatus.DECLINED.value)


def feedback_label(feedback_id: UUID) -> str:
    """The label that names the feedback on its Jira issue (searchable by JQL)."""
    return f"carelog-feedback-{feedback_id}"


class Feedback(Aggregate):
    """A product request from one or more client accounts, mirrored by exactly one Jira issue."""

    TOPIC = "carelog:Feedback"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Feedback.Created"

    @staticmethod
    def id_for(source_id: UUID, product_area: str) -> UUID:
        """Feedback made from a case or a message is named by it: a double submit is one item."""
        return uuid5(source_id, f"feedback/{product_area.lower()}")

    @event("Submitted", topic="carelog:Feedback.Submitted")
    def __init__(
        self,
        id: UUID,
        product_area: str,
        title: str,
        text: str,
        account_id: UUID,
        case_id: UUID | None,
        interaction_id: UUID | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.product_area = product_area
        self.title = title
        self.text = text
        self.accounts: list[UUID] = [account_id]
        self.status = FeedbackStatus.SUBMITTED.value
        self.merged_into: UUID | None = None
        self.revision = 1
        """Grows with every change Jira must show (accounts joining, a re-sync)."""
        self.jira_key: str | None = None
        self.jira_revision = 0
        """The revision the Jira issue shows."""
        self.announced = 1
        """How many requesting accounts Jira has been told about."""
        self.create_attempted_at: datetime | None = None
        self.attempted_accounts = 0
        """How many accounts the last create attempt's issue lists."""
        self.jira_changed_at: datetime | None = None
        self.deliveries: set[str] = set()
        self.comment_ids: set[str] = set()

    @staticmethod
    def clean(product_area: str, title: str, text: str) -> tuple[str, str, str]:
        body = text.strip()
        if not body:
            raise InvalidInputError("feedback text must not be empty")
        if len(body) > MAX_TEXT:
            raise InvalidInputError(f"feedback text is longer than {MAX_TEXT} characters")
        return (clean_name(product_area, "product area", 100), clean_name(title, "title",
                                                                          MAX_TITLE), body)

    @property
    def needs_sync(self) -> bool:
        """Jira is behind: no issue yet (unless merged away), or changes not written."""
        if self.jira_key is None:
            return self.merged_into is None
        return self.jira_revision < self.revision

    # Commands: guards first, then the event.

    def support(self, account_id: UUID, case_id: UUID | None, interaction_id: UUID | None,
                note: str, occurred_at: datetime, actor: str) -> bool:
        """Add a requesting account; False (nothing recorded) when it already asks for it."""
        self._check_not_merged()
        if account_id in self.accounts:
            return False
        self._support(account_id, case_id, interaction_id, note.strip()[:2000], None,
                      occurred_at, actor)
        return True

    def absorb(self, other: Feedback, occurred_at: datetime, actor: str) -> None:
        """Take over the accounts of `other`, which is merged into this item."""
        self._check_not_merged()
        if other.id == self.id:
            raise InvalidInputError("feedback cannot be merged into itself")
        for account_id in other.accounts:
            if account_id not in self.accounts:
                self._support(account_id, None, None, f"merged from {other.title}", other.id,
                              occurred_at, actor)
        other._merge(self.id, occurred_at, actor)

    def request_resync(self, occurred_at: datetime, actor: str) -> None:
        self._check_not_merged()
        self._request_resync(occurred_at, actor)

    def attempt_jira_create(self, occurred_at: datetime, actor: str) -> None:
        if self.jira_key is not None:
            raise InvalidStateError(f"the feedback already has Jira issue {self.jira_key}")
        self._attempt_jira_create(self.revision, len(self.accounts), occurred_at, actor)

    def create_in_doubt(self, now: datetime, window: timedelta) -> bool:
        """A create was posted and may yet show up in Jira's search: do not post another."""
        return self.create_attempted_at is not None and now < self.create_attempted_at + window

    def fail_jira_create(self, error: str, occurred_at: datetime, actor: str) -> None:
        """Jira answered that it created nothing (refused, unavailable, rate-limited)."""
        if self.jira_key is None and self.create_attempted_at is not None:
            self._fail_jira_create(error[:500], occurred_at, actor)

    def link_jira(self, key: str, revision: int, announced: int, occurred_at: datetime,
                  actor: str) -> bool:
        """Record the issue; False when this issue is linked already (a repeated report)."""
        if self.jira_key == key:
            return False
        if self.jira_key is not None:
            raise InvalidStateError(f"the feedback is already linked to {self.jira_key}")
        self._link_jira(key, revision, announced, occurred_at, actor)
        return True

    def record_jira_sync(self, revision: int, announced: int, occurred_at: datetime,
                         actor: str) -> None:
        if revision > self.jira_revision:
            self._record_jira_sync(revision, announced, occurred_at, actor)

    def record_jira_status(self, delivery: str, status: str, status_id: str, name: str,
                           changed_at: datetime, occurred_at: datetime, actor: str) -> bool:
        """Apply a status from Jira; False for a delivery seen before or an older change."""
        if delivery in self.deliveries:
            return False
        if self.jira_changed_at is not None and changed_at <= self.jira_changed_at:
            return False  # an older state arriving late (Jira retries for about 30 minutes)
        self._record_jira_status(delivery, status, status_id, name, changed_at,
                                 occurred_at, actor)
        return True

    def record_jira_comment(self, delivery: str, comment_id: str, author: str, body: str,
                            created_at: datetime, occurred_at: datetime, actor: str) -> bool:
        if delivery in self.deliveries or comment_id in self.comment_ids:
            return False
        self._record_jira_comment(delivery, comment_id, author, body[:MAX_TEXT], created_at,
                                  occurred_at, actor)
        return True

    def prepare_outcome_message(self, account_id: UUID, manager: str, message: str,
                                occurred_at: datetime, actor: str) -> None:
        self._prepare_outcome_message(account_id, manager, self.status, message, occurred_at,
                                      actor)

    def _check_not_merged(self) -> None:
        if self.merged_into is not None:
            raise InvalidStateError(f"the feedback was merged into {self.merged_into}")

    # Events: they only change state.

    @event("AccountJoined", topic="carelog:Feedback.AccountJoined")
    def _support(self, account_id: UUID, case_id: UUID | None, interaction_id: UUID | None,
                 note: str, merged_from: UUID | None, occurred_at: datetime, actor: str) -> None:
        self.accounts.append(account_id)
        self.revision += 1

    @event("Merged", topic="carelog:Feedback.Merged")
    def _merge(self, into_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.merged_into = into_id
        self.status = FeedbackStatus.MERGED.value
        if self.jira_key is not None:  # its issue is told where the request went
            self.revision += 1

    @event("ResyncRequested", topic="carelog:Feedback.ResyncRequested")
    def _request_resync(self, occurred_at: datetime, actor: str) -> None:
        self.revision += 1

    @event("JiraCreateAttempted", topic="carelog:Feedback.JiraCreateAttempted")
    def _attempt_jira_create(self, revision: int, accounts: int, occurred_at: datetime,
                             actor: str) -> None:
        self.create_attempted_at = occurred_at
        self.attempted_accounts = accounts

    @event("JiraCreateFailed", topic="carelog:Feedback.JiraCreateFailed")
    def _fail_jira_create(self, error: str, occurred_at: datetime, actor: str) -> None:
        self.create_attempted_at = None

    @event("JiraIssueLinked", topic="carelog:Feedback.JiraIssueLinked")
    def _link_jira(self, key: str, revision: int, announced: int, occurred_at: datetime,
                   actor: str) -> None:
        self.jira_key = key
        self.jira_revision = revision
        self.announced = announced
        if self.status == FeedbackStatus.SUBMITTED.value:
            self.status = FeedbackStatus.OPEN.value

    @event("JiraIssueSynced", topic="carelog:Feedback.JiraIssueSynced")
    def _record_jira_sync(self, revision: int, announced: int, occurred_at: datetime,
                          actor: str) -> None:
        self.jira_revision = revision
        self.announced = announced

    @event("JiraStatusChanged", topic="carelog:Feedback.JiraStatusChanged")
    def _record_jira_status(self, delivery: str, status: str, status_id: str, name: str,
                            changed_at: datetime, occurred_at: datetime, actor: str) -> None:
        self.deliveries.add(delivery)
        self.jira_changed_at = changed_at
        self.status = status

    @event("JiraCommented", topic="carelog:Feedback.JiraCommented")
    def _record_jira_comment(self, delivery: str, comment_id: str, author: str, body: str,
                             created_at: datetime, occurred_at: datetime, actor: str) -> None:
        self.deliveries.add(delivery)
        self.comment_ids.add(comment_id)

    @event("OutcomeMessagePrepared", topic="carelog:Feedback.OutcomeMessagePrepared")
    def _prepare_outcome_message(self, account_id: UUID, manager: str, outcome: str,
                                 message: str, occurred_at: datetime, actor: str) -> None:
        pass
