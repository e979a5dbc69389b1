"""The running parts of one Carelog process, built from settings: the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.email_channel import EmailInbox, EmailReplies, smtp_sender
from api.services import Services
from api.telegram_bot import TelegramBot
from domain.application import CareDesk
from domain.ports import Clock, MessageSender
from integrations.clock import SystemClock
from integrations.jira.adapter import JiraTicketTracker
from integrations.persistence import open_desk, open_views
from integrations.settings import Settings
from projections.accounts import AccountsView
from projections.changes import LocalChangeFeed
from projections.feedback_board import FeedbackBoardView
from projections.money import ReportingRates
from projections.registry import all_projections
from projections.runner import ApplicationLog, Progress, ProjectionRunner
from projections.shared_log import SharedLog, catch_up_in_step
from projections.store import ViewStore
from workers.announcements import AnnouncementReactor, announcements_lease
from workers.health_alerts import HealthAlertsReactor
from workers.jira_sync import JiraReactor, reactor_lease
from workers.outbound_delivery import OutboundDelivery, delivery_lease
from workers.periodic import PeriodicWorker
from workers.projectors import ProjectorPool
from workers.sla_clock import SlaClockReactor
from workers.telegram_polling import polling_lease


@dataclass
class Runtime:
    settings: Settings
    desk: CareDesk
    store: ViewStore
    runners: list[ProjectionRunner]
    log: SharedLog
    """The log as the runners read it: each page read and decoded once for all of them."""
    pool: ProjectorPool
    services: Services
    reactors: list[PeriodicWorker]
    """The SLA clock, the health alerts, (with CARELOG_JIRA_URL) the Jira sync and (with a
    sender for some channel, CARELOG_TELEGRAM_TOKEN) the outbound delivery."""
    jira: JiraReactor | None = None
    telegram: TelegramBot | None = None
    """The bot (with CARELOG_TELEGRAM_TOKEN): the webhook route's handler, and the poller."""
    delivery: OutboundDelivery | None = None
    email: EmailInbox | None = None
    """Reads client mail for the `/inbound/email` route and the SMTP listener."""

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None, *,
             folds: bool = True) -> Runtime:
        """The embedded wiring: threads follow the log, an in-process feed announces.

        Every process gets the view tables it reads, created where missing. A process that
        `folds` also makes views ready to fold: a view kept by an older version of its
        projection is emptied to be rebuilt. Processes that only read (an API beside worker
        processes, the relay, `carelog status`) leave that to the projectors.
        """
        clock = clock or SystemClock()
        desk = open_desk(settings, clock)
        store = open_views(settings)
        rates = ReportingRates(settings.currency, settings.fx_rates)
        feed = LocalChangeFeed()
        log = SharedLog(ApplicationLog(desk))
        desk.on_saved.append(log.moved)
        runners = [ProjectionRunner(p, store, log, settings.projection_page_size,
                                    on_folded=feed.announce)
                   for p in all_projections(rates)]
        pool = ProjectorPool(runners)
        if folds:
            pool.prepare()
        else:
            store.ensure([table for r in runners for table in r.projection.tables])
        jira = None
        jira_worker = None
        if settings.jira.enabled:
            jira = JiraReactor(
                desk, FeedbackBoardView(store), AccountsView(store, settings.key_accounts),
                JiraTicketTracker(settings.jira), reconcile_seconds=settings.jira.reconcile_seconds,
                currency=settings.currency)
            # One process at a time calls Jira; a command wakes it at once.
            jira_worker = PeriodicWorker("jira", jira.run_once, 1.0, lease=reactor_lease(settings))

        delivery_worker: PeriodicWorker | None = None

        def after_write() -> None:
            pool.nudge()
            if jira_worker is not None:
                jira_worker.nudge()
            if delivery_worker is not None:
                delivery_worker.nudge()

        services = Services(settings, desk, store, [r.name for r in runners], after_write, feed)
        telegram = (TelegramBot(settings.telegram, desk, services.inbox, after_write,
                                lease=polling_lease(settings))
                    if settings.telegram.enabled else None)
        email = EmailInbox(settings.email, desk, services.inbox, clock)
        # Outbound messages go out through the sender of their channel.
        senders: dict[str, MessageSender] = {}
        if telegram is not None:
            senders[telegram.sender.channel] = telegram.sender
        if settings.email.smtp_host is not None:
            replies = EmailReplies(smtp_sender(settings.email, clock), desk, services.rooms,
                                   email.mailbox)
            senders[replies.channel] = replies
        delivery = None
        if senders:
            delivery = OutboundDelivery(desk, services.rooms, services.directory, senders)
            # One process at a time sends; a command wakes it, the rooms view may lag a little.
            delivery_worker = PeriodicWorker("outbound-delivery", delivery.round, 1.0,
                                             lease=delivery_lease(settings))
        interval = settings.reactor_interval
        reactors = [
            PeriodicWorker("sla-clock", SlaClockReactor(desk, services.cases, clock).round,
                           interval),
            PeriodicWorker("health-alerts", HealthAlertsReactor(
                desk, services.health, services.alerts).round, interval),
            *([jira_worker] if jira_worker is not None else []),
            *([delivery_worker] if delivery_worker is not None else []),
            # Clients should hear of an incident within seconds, not a reactor interval.
            PeriodicWorker("announcements", AnnouncementReactor(
                desk, services.announcements, services.directory).round, 2.0,
                lease=announcements_lease(settings)),
        ]
        return cls(settings, desk, store, runners, log, pool, services, reactors, jira, telegram,
                   delivery, email)

    def reactor(self, name: str) -> PeriodicWorker | None:
        return next((r for r in self.reactors if r.name == name), None)

    def start_reactors(self) -> None:
        for reactor in self.reactors:
            reactor.start()

    def stop_reactors(self) -> None:
        for reactor in self.reactors:
            reactor.stop()

    def catch_up(self, runners: Sequence[ProjectionRunner] | None = None,
                 progress: Progress | None = None) -> int:
        """The runners (all of them by default) up to the head of the log, in step."""
        return catch_up_in_step(self.runners if runners is None else runners, self.log,
                                progress)

    def select(self, names: Sequence[str]) -> list[ProjectionRunner]:
        """The runners named (all of them for no names); an unknown name is a KeyError."""
        return [self.runner(n) for n in names] if names else list(self.runners)

    def runner(self, name: str) -> ProjectionRunner:
        for runner in self.runners:
            if runner.name == name:
                return runner
        known = ", ".join(r.name for r in self.runners)
        raise KeyError(f"no projection named {name!r}; known: {known}")

    def close(self) -> None:
        self.stop_reactors()
        if self.telegram is not None:
            self.telegram.close()
        self.pool.stop()
        self.services.replays.close()
        self.store.close()
        self.desk.close()
