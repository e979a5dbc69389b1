"""What a request handler works with: the command side, the views, and read-your-writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

from api.inbox import Inbox
from domain.application import CareDesk, CommandResult
from domain.errors import DomainError
from integrations.rate_limit import RateLimit
from integrations.settings import Settings
from projections.account_health import AccountHealthView
from projections.accounts import AccountsView
from projections.alerts_and_goals import AlertsAndGoalsView
from projections.announcements import AnnouncementsView
from projections.case_queues import CaseQueuesView
from projections.changes import ChangeFeed
from projections.directory import DirectoryView
from projections.feedback_board import FeedbackBoardView
from projections.knowledge_base import KnowledgeBaseView
from projections.money import ReportingRates
from projections.portfolio import PortfolioView
from projections.registry import all_projections
from projections.replay import Replays
from projections.rooms import RoomsView
from projections.runner import ApplicationLog
from projections.store import ViewStore
from projections.support_metrics import SupportMetricsProjection, SupportMetricsView

T = TypeVar("T")

VIEWS_READ: ContextVar[set[str] | None] = ContextVar("carelog_views_read", default=None)
"""While an answer is computed for the answer cache: the views it has read so far."""
UNKNOWN_VIEW = "?"


class WaitTimeoutError(DomainError):
    code = "WAIT_TIMEOUT"


AS_OF_VIEWS = (*PortfolioView.projections, SupportMetricsProjection.name)
"""The views an as-of answer may read: the portfolio's and the account's support metrics."""


class Views:
    """The views an answer reads: the live ones, or the log replayed as of a past moment."""

    def __init__(self, services: Services, store: ViewStore, as_of: datetime | None) -> None:
        settings = services.settings
        self.as_of = as_of
        self.read = services.read
        self.accounts = AccountsView(store, settings.key_accounts)
        self.cases = CaseQueuesView(store)
        self.health = AccountHealthView(store)
        self.portfolio = PortfolioView(store, services.rates, settings.key_accounts)
        self.alerts = AlertsAndGoalsView(store)
        self.support = SupportMetricsView(store)
        self.feedback = FeedbackBoardView(store)
        self.rooms = RoomsView(store)
        self.directory = DirectoryView(store)
        self.articles = KnowledgeBaseView(store)
        self.announcements = AnnouncementsView(store)


class Services:
    def __init__(self, settings: Settings, desk: CareDesk, store: ViewStore,
                 projection_names: list[str], after_write: Callable[[], None],
                 feed: ChangeFeed) -> None:
        self.settings = settings
        self.desk = desk
        self.store = store
        self.rates = ReportingRates(settings.currency, settings.fx_rates)
        self.live = Views(self, store, None)
        self.accounts = self.live.accounts
        self.cases = self.live.cases
        self.health = self.live.health
        self.portfolio = self.live.portfolio
        self.alerts = self.live.alerts
        self.support = self.live.support
        self.feedback = self.live.feedback
        self.rooms = self.live.rooms
        self.directory = self.live.directory
        self.articles = self.live.articles
        self.announcements = self.live.announcements
        self.inbox = Inbox(desk, self.directory, self.cases)
        """Where every channel's client messages enter: one, so concurrent ones commit together."""
        self.replays = Replays(ApplicationLog(desk), lambda: all_projections(self.rates),
                               settings.projection_page_size)
        self.projection_names = projection_names
        self.after_write = after_write
        """Called on the event loop after every command: wakes the relay or the projectors."""
        self.feed = feed
        """Where GraphQL subscriptions hear that a view moved on."""
        self.worker_failures: list[str] = []
        """Worker loops of this process that ended on an error (shown by /readyz)."""
        self.form_limits_by_address = RateLimit(settings.form_limit_per_address, 3600)
        self.form_limits_by_ip = RateLimit(settings.form_limit_per_ip, 3600)
        """Web form requests per hour, per sender address and per client IP."""
        self.webhook_rejections = 0
        """Webhook deliveries refused for a missing or wrong signature (shown by /readyz)."""

    async def command(self, fn: Callable[..., CommandResult], **kwargs: Any) -> CommandResult:
        """Run a CareDesk command in a worker thread (eventsourcing is synchronous)."""
        try:
            return await asyncio.to_thread(fn, **kwargs)
        finally:
            self.after_write()

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a view's query in a worker thread, noting which view an answer depends on."""
        reads = VIEWS_READ.get()
        if reads is not None:
            # A view reading other views' tables names them all in `projections`.
            view = getattr(fn, "__self__", None)
            reads.update(getattr(view, "projections", None)
                         or (getattr(view, "projection", UNKNOWN_VIEW),))
        return await asyncio.to_thread(fn, *args, **kwargs)

    def logged_events(self, positions: list[int]) -> list[dict[str, Any]]:
        """The events at these log positions (evidence behind a figure), in log order."""
        found = []
        for position in sorted(set(positions)):
            page = self.desk.recorder.select_notifications(start=position, limit=1)
            if page and page[0].id == position:
                event: Any = self.desk.mapper.to_domain_event(page[0])
                found.append({"position": position, "topic": page[0].topic,
                              "aggregate_id": event.originator_id,
                              "version": event.originator_version,
                              "occurred_at": event.occurred_at, "actor": event.actor})
        return found

    async def views_at(self, as_of: datetime | None) -> Views:
        """The live views, or (with `as_of`) the log replayed up to that moment."""
        if as_of is None:
            return self.live
        store = await asyncio.to_thread(self.replays.views, as_of, AS_OF_VIEWS)
        return Views(self, store, as_of)

    async def wait_for(self, notification_id: int | None) -> None:
        """Wait until every view has folded the log up to `notification_id`."""
        if notification_id is None or notification_id <= 0:
            return
        deadline = time.monotonic() + self.settings.wait_timeout
        delay = 0.005
        while True:
            positions = await asyncio.to_thread(self.store.positions)
            if all(positions.get(n, 0) >= notification_id for n in self.projection_names):
                return
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"the views have not reached notification {notification_id} within "
                    f"{self.settings.wait_timeout:g}s; try again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
