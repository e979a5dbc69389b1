"""The Jira reactor: makes each feedback item's one Jira issue show what Carelog knows.

It works from the `feedback_board` view (which items Jira is behind on) and decides from the
Feedback aggregate itself, whose Jira state is the intent record:

- an item with no issue is first searched for by its feedback label; only when none is found,
  and no earlier create can still be in flight, is `JiraCreateAttempted` saved (with the
  aggregate's version, so two reactors cannot both pass) and then the issue posted;
- after a create with no answer (timeout, dropped connection) the reactor only searches, for
  `CARELOG_JIRA_RECONCILE_SECONDS`, since Jira's search lags new issues; a key it got but could
  not record is read back directly, without search;
- accounts that joined are written into the issue, and announced in one comment whose marker
  makes a repeat visible.

Failures back off per item; a 429 pauses every call for Jira's Retry-After. It runs in a thread
of `carelog serve` (embedded) or as `carelog worker jira`; a lease keeps it to one process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from domain.application import CareDesk
from domain.errors import DomainError
from domain.feedback import Feedback, feedback_label
from domain.ports import TicketTracker, TrackerOutcomeUnknownError, TrackerUnavailableError
from integrations.jira.mapping import Requester, draft, joined_comment, marker, merged_marker
from integrations.settings import Settings
from projections.accounts import AccountsView
from projections.feedback_board import FeedbackBoardView
from projections.money import from_cents
from workers.lease import FileLease, Lease, PostgresLease

log = logging.getLogger(__name__)

ACTOR = "integration:jira"


@dataclass
class _Backoff:
    attempts: int = 0
    due: float = 0.0
    error: str | None = None


@dataclass
class ReactorStats:
    created: int = 0
    linked_by_search: int = 0
    updated: int = 0
    failures: int = 0


class JiraReactor:
    def __init__(self, desk: CareDesk, board: FeedbackBoardView, accounts: AccountsView,
                 tracker: TicketTracker, *, reconcile_seconds: float, currency: str,
                 min_backoff: float = 1.0, max_backoff: float = 300.0) -> None:
        self.desk = desk
        self.board = board
        self.accounts = accounts
        self.tracker = tracker
        self.reconcile_seconds = reconcile_seconds
        self.currency = currency
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.paused_until = 0.0
        self.stats = ReactorStats()
        self._backoff: dict[UUID, _Backoff] = {}
        self._created: dict[UUID, tuple[str, int, int]] = {}
        """Issues created whose key could not be recorded yet: (key, revision, accounts)."""

    def pending(self) -> dict[str, str | None]:
        """Items waiting for Jira, with the last error each met (for status pages)."""
        return {str(k): b.error for k, b in dict(self._backoff).items()}

    def run_once(self) -> int:
        """One pass over the items Jira is behind on; returns how many were brought in line."""
        done = 0
        for raw in self.board.needing_sync(limit=1000):
            now = time.monotonic()
            if now < self.paused_until:
                break
            feedback_id = UUID(raw)
            state = self._backoff.get(feedback_id)
            if state is not None and now < state.due:
                continue
            try:
                if self.sync(feedback_id):
                    done += 1
                self._backoff.pop(feedback_id, None)
            except TrackerUnavailableError as error:
                self._defer(feedback_id, str(error), error.retry_after)
                if error.retry_after is not None:  # rate-limited: every call waits, not one
                    self.paused_until = max(self.paused_until, now + error.retry_after)
            except (TrackerOutcomeUnknownError, DomainError) as error:
                self._defer(feedback_id, str(error))
        return done

    def sync(self, feedback_id: UUID) -> bool:
        """Bring one item's issue in line; False when there was nothing to do (yet)."""
        feedback = self.desk.feedback(feedback_id)
        if not feedback.needs_sync:
            return False
        if feedback.jira_key is None:
            return self._create(feedback)
        self._update(feedback)
        return True

    def _create(self, feedback: Feedback) -> bool:
        remembered = self._created.get(feedback.id)
        if remembered is not None:
            key, revision, announced = remembered
            if self.tracker.get(key) is not None:
                self._link(feedback, key, revision, announced)
                return True
        found = self.tracker.find(feedback_label(feedback.id))
        if found:
            if len(found) > 1:
                log.error("feedback %s has %d Jira issues: %s", feedback.id, len(found),
                          ", ".join(i.key for i in found))
            # Whatever that issue shows, revision 0 makes the next pass rewrite it.
            self._link(feedback, found[0].key, 0, len(feedback.accounts))
            self.stats.linked_by_search += 1
            return True
        window = self.reconcile_seconds
        if feedback.create_in_doubt(self.desk.clock.now(), timedelta(seconds=window)):
            raise TrackerOutcomeUnknownError(
                "an earlier create may still appear in Jira's search; searching again later")
        issue = draft(feedback, self._requesters(feedback))
        self.desk.attempt_jira_create(feedback_id=feedback.id,
                                      expected_version=feedback.version, actor=ACTOR)
        try:
            key = self.tracker.create(issue)
        except TrackerUnavailableError as error:
            self.desk.fail_jira_create(feedback_id=feedback.id, error=str(error), actor=ACTOR)
            raise
        self.stats.created += 1
        self._created[feedback.id] = (key, feedback.revision, len(feedback.accounts))
        self._link(feedback, key, feedback.revision, len(feedback.accounts))
        return True

    def _link(self, feedback: Feedback, key: str, revision: int, announced: int) -> None:
        self.desk.link_jira_issue(feedback_id=feedback.id, key=key, revision=revision,
                                  announced=announced, actor=ACTOR)
        self._created.pop(feedback.id, None)

    def _update(self, feedback: Feedback) -> None:
        assert feedback.jira_key is not None
        if feedback.merged_into is not None:
            target = self.desk.feedback(feedback.merged_into)
            where = target.jira_key or f"\"{target.title}\""
            self.tracker.comment_once(feedback.jira_key, merged_marker(feedback),
                                      f"Merged in Carelog into {where}: follow that issue.")
            self.desk.record_jira_sync(feedback_id=feedback.id, revision=feedback.revision,
                                       announced=feedback.announced, actor=ACTOR)
            return
        requesters = self._requesters(feedback)
        self.tracker.update(feedback.jira_key, draft(feedback, requesters))
        accounts = len(feedback.accounts)
        if accounts > feedback.announced:
            names = [r.name for r in requesters[feedback.announced:]]
            self.tracker.comment_once(feedback.jira_key, marker(feedback, accounts),
                                      joined_comment(names, requesters))
        self.desk.record_jira_sync(feedback_id=feedback.id, revision=feedback.revision,
                                   announced=accounts, actor=ACTOR)
        self.stats.updated += 1

    def _requesters(self, feedback: Feedback) -> list[Requester]:
        rows = self.accounts.get_many([str(a) for a in feedback.accounts])
        found = []
        for account_id in feedback.accounts:
            row = rows.get(str(account_id))
            found.append(Requester(
                name=row["name"] if row else f"account {account_id}",
                arr=from_cents(row["arr_reporting_cents"]) if row else Decimal(0),
                currency=self.currency))
        return found

    def _defer(self, feedback_id: UUID, error: str, retry_after: float | None = None) -> None:
        state = self._backoff.setdefault(feedback_id, _Backoff())
        state.attempts += 1
        wait = min(self.min_backoff * 2 ** (state.attempts - 1), self.max_backoff)
        state.due = time.monotonic() + max(wait, retry_after or 0.0)
        state.error = error
        self.stats.failures += 1
        log.warning("Jira sync of feedback %s deferred %.1fs: %s", feedback_id,
                    state.due - time.monotonic(), error)


def reactor_lease(settings: Settings) -> Lease:
    if settings.database_url is not None:
        return PostgresLease(settings.database_url, "carelog:jira-reactor")
    return FileLease(settings.data_dir / "jira-reactor.lock")
