"""CareDesk: the one event-sourced application whose commands every entry point calls.

One application holds every aggregate, so the notification log gives one total order that each
projection tracks with a single position. Commands are synchronous (eventsourcing is); callers in
async code run them in a worker thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import Environment

from domain.account import Account, clean_name
from domain.aggregate_cache import AggregateCache
from domain.alert import Alert, AlertKind
from domain.announcement import Announcement, AnnouncementKind, clean_announcement
from domain.article import Article, clean_article
from domain.case import MAX_SUBJECT, Case
from domain.conversation import Conversation, split_topic
from domain.errors import (
    ChannelNotAllowedError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    VersionConflictError,
)
from domain.feedback import OUTCOMES, Feedback
from domain.goal import Goal, GoalMetric
from domain.health_policy import POLICY_ID, HealthPolicy
from domain.interaction import Interaction, clean_text
from domain.link_code import LIFETIME as LINK_CODE_LIFETIME
from domain.link_code import LinkCode, new_code
from domain.ports import (
    Clock,
    DeliveryReceipt,
    InboundMessage,
    message_document,
    message_from_document,
)
from domain.read_marker import ReadMarker
from domain.service_plans import plan_for
from domain.stray_message import StrayMessage
from domain.survey_response import SurveyResponse, check_score, clean_comment
from domain.unit_of_work import UnitOfWork
from domain.values import CaseStatus, Channel, Direction, Money, Priority, Tier, enum_value

A = TypeVar("A", bound=Aggregate)

# Clock skew we accept on `occurred_at` before calling it "in the future".
_FUTURE_TOLERANCE = timedelta(minutes=5)
_RETRIES = 3
# Reads at once while a batch of messages reads what it needs, where the store cannot read
# several aggregates in one query (hides the round trips).
_PREFETCH_THREADS = 4
# Channels where a client keeps talking in one place: a message there joins that place's case.
_ANSWERABLE = frozenset({CaseStatus.OPEN.value})
"""Cases an announcement's answer still goes to."""
_CONVERSATIONAL = frozenset({Channel.TELEGRAM.value, Channel.WEB_CHAT.value,
                             Channel.PORTAL.value, Channel.PHONE.value})


def _settled(result: CommandResult, last: int) -> CommandResult:
    """A result decided in a batch, placed at the batch's last log position."""
    return replace(result, notification_id=max(result.notification_id, last))


def _followed(chats: Mapping[UUID, object],
              places: Iterable[tuple[UUID, str]]) -> list[UUID]:
    """The cases the messages said at these (chat id, conversation) places would join: only
    the topic's own of a forum's many."""
    found = [chat.case_of(conversation) for chat_id, conversation in places
             if isinstance(chat := chats.get(chat_id), Conversation)]
    return [i for i in found if i is not None]


def _outcome_text(feedback: Feedback, outcome: str) -> str:
    verb = "has shipped" if outcome == "shipped" else "was declined by the product team"
    return f"Your request \"{feedback.title}\" ({feedback.product_area}) {verb}."


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command made: its ids, the log position of its last event, and the version."""

    ids: Mapping[str, UUID]
    notification_id: int
    version: int | None = None
    duplicate: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class RefusedChannelError(ChannelNotAllowedError):
    """The message is recorded, but the client's plan does not include the channel."""

    def __init__(self, message: str, allowed: list[str], result: CommandResult) -> None:
        super().__init__(message)
        self.allowed = allowed
        self.result = result


@dataclass(frozen=True, slots=True)
class Arrival:
    """One client message to route, with what `receive_message` takes besides it."""

    message: InboundMessage
    account_id: UUID
    actor: str
    contact_id: UUID | None = None
    priority: str = Priority.NORMAL.value
    topic: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _Message:
    """A validated message about to become an Interaction."""

    id: UUID
    account_id: UUID
    channel: str
    direction: str
    external_id: str
    contact_id: UUID | None
    text: str
    allowed: bool
    extras: Mapping[str, Any] = field(default_factory=dict)
    """What the channel told besides the text: conversation, subject, attachments, flags."""

    def record(self, case_id: UUID | None, sender: str, at: datetime, actor: str) -> Interaction:
        return Interaction(
            id=self.id, account_id=self.account_id, case_id=case_id, channel=self.channel,
            direction=self.direction, external_id=self.external_id,
            sender=clean_name(sender, "sender"), contact_id=self.contact_id, text=self.text,
            channel_allowed=self.allowed, occurred_at=at, actor=actor, **self.extras)


class DateAsISO(Transcoding):
    """Calendar dates (due dates, renewal dates) as ISO strings; eventsourcing has no default."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CareDesk(Application[UUID]):
    """Commands on accounts, cases and interactions."""

    name = "CareDesk"

    def __init__(self, env: Mapping[str, str], clock: Clock,
                 currencies: frozenset[str] = frozenset({"EUR"})) -> None:
        self.clock = clock
        self.currencies = currencies
        self.vip_line = 1
        """The support line a VIP client's new case opens on (2: straight to line 2)."""
        self.send_feedback_outcomes = False
        """Post a shipped or declined feedback's outcome into each requesting account's room
        (and so to its bound chats) instead of leaving a note for the manager to pass on."""
        self.read_histories: Callable[[Mapping[UUID, int]],
                                      Mapping[UUID, Sequence[StoredEvent]]] | None = None
        """Reads several aggregates' events after the versions given (0: all) in one query
        (set by the persistence wiring); without it a batch reads them one per query, several
        at a time, and keeps nothing between batches."""
        self.batch_reads = AggregateCache((Account, Conversation, Case))
        """The chats, accounts and cases batches of messages read, kept between batches."""
        self._units = threading.local()
        """This thread's unit of work while it decides a batch of messages."""
        self._prefetcher = ThreadPoolExecutor(_PREFETCH_THREADS,
                                              thread_name_prefix="caredesk-prefetch")
        self.on_saved: list[Callable[[], None]] = []
        """Called after each write this desk committed (the projectors' log looks again)."""
        super().__init__(env=dict(env))

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        for listener in self.on_saved:
            listener()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # Configuration comes only from `integrations.persistence`, never from os.environ.
        return Environment(name, dict(env or {}))

    # Accounts ---------------------------------------------------------------------------

    def open_account(self, *, name: str, tier: str, manager: str, currency: str, actor: str,
                     occurred_at: datetime | None = None,
                     external_ref: str | None = None) -> CommandResult:
        """Open an account; with `external_ref` (a CRM or import key) opening is idempotent."""
        at = self._when(occurred_at)
        if currency not in self.currencies:
            known = ", ".join(sorted(self.currencies))
            raise InvalidInputError(f"currency {currency!r} has no configured rate; known: {known}")
        account_id = (Account.id_for(clean_name(external_ref, "external reference"))
                      if external_ref is not None else uuid4())
        account = Account(
            id=account_id,
            name=clean_name(name),
            tier=enum_value(Tier, tier, "tier"),
            manager=clean_name(manager, "manager"),
            currency=currency,
            occurred_at=at,
            actor=actor,
        )
        return self._save_new(account, {"accountId": account.id})

    def record_revenue(self, *, account_id: UUID, period: str, mrr: Money, actor: str,
                       occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.record_revenue(period, mrr, at, actor))

    def change_tier(self, *, account_id: UUID, tier: str, actor: str,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None, lambda a: a.change_tier(tier, at, actor))

    def assign_manager(self, *, account_id: UUID, manager: str, actor: str,
                       occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.assign_manager(manager, at, actor))

    def add_contact(self, *, account_id: UUID, name: str, email: str, role: str, actor: str,
                    phone: str | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        made: dict[str, UUID] = {}

        def act(a: Account) -> None:
            made["contactId"] = a.add_contact(name, email, phone, role, at, actor)

        result = self._update(Account, account_id, None, act)
        return CommandResult({**result.ids, **made}, result.notification_id, result.version)

    def change_contact_role(self, *, account_id: UUID, contact_id: UUID, role: str, actor: str,
                            occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.change_contact_role(contact_id, role, at, actor))

    def remove_contact(self, *, account_id: UUID, contact_id: UUID, actor: str,
                       occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.remove_contact(contact_id, at, actor))

    def churn_account(self, *, account_id: UUID, reason: str, actor: str,
                      occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None, lambda a: a.churn(reason, at, actor))

    def log_touchpoint(self, *, account_id: UUID, kind: str, two_way: bool, actor: str,
                       contact_ids: list[UUID] | None = None, summary: str = "",
                       occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None, lambda a: a.log_touchpoint(
            kind, two_way, list(contact_ids or []), summary, at, actor))

    def report_usage(self, *, account_id: UUID, actor: str, active_users: int | None = None,
                     licensed_seats: int | None = None,
                     occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None, lambda a: a.report_usage(
            active_users, licensed_seats, at, actor))

    def issue_invoice(self, *, account_id: UUID, number: str, amount: Money, due_on: date,
                      actor: str, occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        made: dict[str, UUID] = {}

        def act(a: Account) -> None:
            made["invoiceId"] = a.issue_invoice(number, amount, due_on, at, actor)

        result = self._update(Account, account_id, None, act)
        return CommandResult({**result.ids, **made}, result.notification_id, result.version)

    def mark_invoice_paid(self, *, account_id: UUID, invoice_id: UUID, actor: str,
                          occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.mark_invoice_paid(invoice_id, at, actor))

    def mark_invoice_overdue(self, *, account_id: UUID, invoice_id: UUID, actor: str,
                             occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.mark_invoice_overdue(invoice_id, at, actor))

    def record_payment_failure(self, *, account_id: UUID, reason: str, actor: str,
                               invoice_id: UUID | None = None,
                               occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.record_payment_failure(invoice_id, reason, at, actor))

    def request_contraction(self, *, account_id: UUID, reason: str, actor: str,
                            new_mrr: Money | None = None,
                            occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.request_contraction(reason, new_mrr, at, actor))

    def set_renewal(self, *, account_id: UUID, renews_on: date, actor: str,
                    likelihood: str | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.set_renewal(renews_on, likelihood, at, actor))

    def set_renewal_risk(self, *, account_id: UUID, level: str, actor: str, note: str = "",
                         occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.set_renewal_risk(level, note, at, actor))

    def set_sentiment(self, *, account_id: UUID, level: str, actor: str, note: str = "",
                      occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.set_sentiment(level, note, at, actor))

    # Cases and interactions --------------------------------------------------------------

    def open_case(self, *, account_id: UUID, channel: str, subject: str, text: str, actor: str,
                  priority: str = Priority.NORMAL.value, topic: str | None = None,
                  contact_id: UUID | None = None, sender: str | None = None,
                  external_message_id: str | None = None,
                  occurred_at: datetime | None = None) -> CommandResult:
        """Open a case from a client's first message; the message is recorded with it.

        On a channel the client's plan lacks, the message is recorded (nothing is lost) and
        `RefusedChannelError` names the channels the client may use.
        """
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        account.check_active()
        channel = enum_value(Channel, channel, "channel")
        priority = enum_value(Priority, priority, "priority")
        subject = clean_name(subject, "subject", MAX_SUBJECT)
        topic = clean_name(topic, "topic", 100) if topic else None
        message = self._inbound(account, channel, Direction.INBOUND.value, external_message_id,
                                contact_id, text)
        if self._exists(message.id):
            return self._redelivered(message.id)
        if not message.allowed:
            interaction = message.record(None, sender or actor, at, actor)
            self._refuse(account, channel, self._save_new(interaction, {
                "interactionId": interaction.id}))
        case = self._new_case(account, message.id, channel, subject, priority, topic,
                              contact_id, at, actor)
        interaction = message.record(case.id, sender or actor, at, actor)
        return self._save_new(case, {"caseId": case.id, "interactionId": interaction.id},
                              interaction)

    def record_interaction(self, *, account_id: UUID, channel: str, direction: str, text: str,
                           actor: str, case_id: UUID | None = None, sender: str | None = None,
                           contact_id: UUID | None = None,
                           external_message_id: str | None = None,
                           occurred_at: datetime | None = None) -> CommandResult:
        """Record one message; a repeated delivery of the same channel message id is a duplicate."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        direction = enum_value(Direction, direction, "direction")
        channel = enum_value(Channel, channel, "channel")
        if case_id is not None and self._get(Case, case_id).account_id != account.id:
            raise NotFoundError(f"case {case_id} not found")
        message = self._inbound(account, channel, direction, external_message_id, contact_id, text)
        if self._exists(message.id):
            return CommandResult({"interactionId": message.id}, self._head(), duplicate=True)
        interaction = message.record(case_id, sender or actor, at, actor)
        case = self._get(Case, case_id) if case_id is not None else None
        if case is not None and case.waiting and direction == Direction.INBOUND.value:
            case.resume("the client answered", at, actor)  # saved with the message
            result = self._save_new(interaction, {"interactionId": interaction.id}, case)
        else:
            result = self._save_new(interaction, {"interactionId": interaction.id})
        if not message.allowed:
            self._refuse(account, channel, result)
        return result

    def reply_to_case(self, *, case_id: UUID, text: str, agent: str, actor: str,
                      channel: str | None = None, external_message_id: str | None = None,
                      expected_version: int | None = None,
                      occurred_at: datetime | None = None,
                      details: dict[str, Any] | None = None) -> CommandResult:
        """Answer the client; the outbound message and the reply are saved in one transaction."""
        at = self._when(occurred_at)

        def attempt() -> CommandResult:
            case = self._get(Case, case_id)
            out_channel = enum_value(Channel, channel, "channel") if channel else case.channel
            interaction_id = Interaction.id_for(case.account_id, out_channel,
                                                Direction.OUTBOUND.value,
                                                external_message_id or str(uuid4()))
            # A resent reply is a duplicate even though the case has moved on since.
            if external_message_id is not None and self._exists(interaction_id):
                return CommandResult({"caseId": case.id, "interactionId": interaction_id},
                                     self._head(), case.version, duplicate=True)
            self._check_version(case, expected_version)
            interaction = Interaction(
                id=interaction_id,
                account_id=case.account_id, case_id=case.id, channel=out_channel,
                direction=Direction.OUTBOUND.value,
                external_id=external_message_id or "", sender=agent, contact_id=None,
                text=clean_text(text), channel_allowed=True, occurred_at=at, actor=actor,
                details=details)
            case.reply(interaction.id, agent, out_channel, at, actor)
            recordings = self.save(case, interaction)
            return CommandResult({"caseId": case.id, "interactionId": interaction.id},
                                 recordings[-1].notification.id, case.version)

        return self._retrying(attempt, expected_version)

    def assign_case(self, *, case_id: UUID, agent: str, actor: str,
                    expected_version: int | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version, lambda c: c.assign(agent, at, actor))

    def escalate_case(self, *, case_id: UUID, reason: str, actor: str, line: int = 2,
                      department: str | None = None, expected_version: int | None = None,
                      occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.escalate(line, department, reason, at, actor))

    def resolve_escalation(self, *, case_id: UUID, actor: str, note: str = "",
                           expected_version: int | None = None,
                           occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.resolve_escalation(note, at, actor))

    def resolve_case(self, *, case_id: UUID, actor: str, resolution: str = "",
                     expected_version: int | None = None,
                     occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.resolve(resolution, at, actor))

    def reopen_case(self, *, case_id: UUID, actor: str, reason: str = "",
                    expected_version: int | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version, lambda c: c.reopen(reason, at, actor))

    def close_case(self, *, case_id: UUID, actor: str, expected_version: int | None = None,
                   occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version, lambda c: c.close(at, actor))

    def wait_on_client(self, *, case_id: UUID, actor: str, reason: str = "",
                       expected_version: int | None = None,
                       occurred_at: datetime | None = None) -> CommandResult:
        """Put the case on hold until the client answers; its resolution clock stands still."""
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.wait_on_client(reason, at, actor))

    def resume_case(self, *, case_id: UUID, actor: str, reason: str = "",
                    expected_version: int | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.resume(reason, at, actor))

    def change_priority(self, *, case_id: UUID, priority: str, actor: str,
                        expected_version: int | None = None,
                        occurred_at: datetime | None = None) -> CommandResult:
        """New SLA targets from the account's plan, counted again from the opening."""
        at = self._when(occurred_at)

        def change(case: Case) -> None:
            tier = Tier(self._get(Account, case.account_id).tier)
            level = Priority(enum_value(Priority, priority, "priority"))
            case.change_priority(level.value, plan_for(tier).targets[level], at, actor)

        return self._update(Case, case_id, expected_version, change)

    def record_sla_breaches(self, *, case_id: UUID, actor: str,
                            at: datetime | None = None) -> CommandResult:
        """Record the SLA breaches of a case that fell due by `at` (now), each exactly once.

        Each breach occurred when its target passed, whenever the clock worker notices it.
        """
        when = self._when(at)
        counted: list[int] = []
        result = self._update(Case, case_id, None,
                              lambda c: counted.append(c.record_sla_breaches(when, actor)))
        return result if result.duplicate else replace(result, extra={"breaches": counted[-1]})

    def set_calendar(self, *, account_id: UUID, document: dict[str, Any], actor: str,
                     occurred_at: datetime | None = None) -> CommandResult:
        """Business hours for the account's SLA targets; cases opened from now on use them."""
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.set_calendar(document, at, actor))

    def rate_case(self, *, case_id: UUID, csat: int, actor: str, comment: str | None = None,
                  expected_version: int | None = None,
                  occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Case, case_id, expected_version,
                            lambda c: c.rate(csat, comment, at, actor))

    # Channels and rooms ------------------------------------------------------------------

    def set_email_domains(self, *, account_id: UUID, domains: list[str], actor: str,
                          occurred_at: datetime | None = None) -> CommandResult:
        """Mail from an unknown address at one of these domains reaches the account."""
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.set_email_domains(domains, at, actor))

    def grant_portal_access(self, *, account_id: UUID, self_registration: bool, actor: str,
                            occurred_at: datetime | None = None) -> CommandResult:
        """The account's contacts get the portal whatever the plan (and, with
        `self_registration`, anyone at its email domains may sign up)."""
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.grant_portal_access(self_registration, at, actor))

    def revoke_portal_access(self, *, account_id: UUID, reason: str, actor: str,
                             occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Account, account_id, None,
                            lambda a: a.revoke_portal_access(reason, at, actor))

    def issue_link_code(self, *, account_id: UUID, actor: str, channel: str = "telegram",
                        contact_id: UUID | None = None,
                        occurred_at: datetime | None = None) -> CommandResult:
        """A one-time code that binds a chat to the account's room (to one contact's, if named).

        The code is in `extra["code"]` and nowhere in the log: only its hash names the aggregate.
        """
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        account.check_active()
        channel = enum_value(Channel, channel, "channel")
        if channel != Channel.TELEGRAM.value:
            raise InvalidInputError("link codes bind Telegram chats; other channels route by "
                                    "address")
        plan = plan_for(Tier(account.tier))
        if not plan.allows(Channel(channel)):
            raise ChannelNotAllowedError(plan.refusal(Channel(channel)))
        if contact_id is not None and contact_id not in account.active_contact_ids():
            raise NotFoundError(f"contact {contact_id} not found on this account")
        code = new_code()
        link = LinkCode(id=LinkCode.id_for(code), account_id=account.id, contact_id=contact_id,
                        channel=channel, expires_at=at + LINK_CODE_LIFETIME, occurred_at=at,
                        actor=actor)
        result = self._save_new(link, {"linkCodeId": link.id})
        return replace(result, extra={"code": code, "expiresAt": link.expires_at})

    def redeem_link_code(self, *, code: str, channel: str, conversation: str, title: str,
                         actor: str, occurred_at: datetime | None = None) -> CommandResult:
        """`/link CODE` said in a chat: the chat joins the account's room from now on."""
        at = self._when(occurred_at)
        try:
            link = self._get(LinkCode, LinkCode.id_for(code))
        except NotFoundError:
            raise InvalidInputError("that link code is not valid; ask your account manager "
                                    "for a new one") from None
        conversation = clean_name(conversation, "conversation", 200)
        conversation_id = Conversation.id_for(channel, conversation)
        bound = self._read(conversation_id)
        if isinstance(bound, Conversation) and not bound.unbound:
            if link.redeemed_by == conversation and bound.account_id == link.account_id:
                # The same `/link` delivered again: answer as the first time.
                return CommandResult({"conversationId": conversation_id,
                                      "accountId": link.account_id}, self._head(),
                                     duplicate=True)
            raise InvalidStateError("this chat is already linked to an account")
        link.redeem(channel, conversation, at, actor)
        chat = Conversation(id=conversation_id, channel=channel, conversation=conversation,
                            account_id=link.account_id, contact_id=link.contact_id,
                            title=clean_name(title or conversation, "chat title", 200),
                            link_code_id=link.id, occurred_at=at, actor=actor)
        return self._save_new(chat, {"conversationId": chat.id, "accountId": link.account_id},
                              link)

    def conversation(self, channel: str, conversation: str) -> Conversation | None:
        """The bound conversation at this place on the channel, if there is one."""
        found = self._read(Conversation.id_for(channel, conversation))
        return found if isinstance(found, Conversation) and not found.unbound else None

    def move_conversation(self, *, channel: str, old: str, new: str, actor: str,
                          occurred_at: datetime | None = None) -> CommandResult:
        """The chat changed its id (a Telegram group became a supergroup): the binding, and
        the case its messages join, move to the new id; the old one is unbound. One
        transaction; moving again is a duplicate."""
        at = self._when(occurred_at)
        new = clean_name(new, "conversation", 200)
        old_id, new_id = Conversation.id_for(channel, old), Conversation.id_for(channel, new)
        moved = self.conversation(channel, new)
        found = self._read(old_id)
        if (isinstance(found, Conversation) and found.unbound and moved is not None
                and moved.account_id == found.account_id):
            return CommandResult({"conversationId": new_id, "accountId": moved.account_id},
                                 self._head(), duplicate=True)
        if moved is not None:
            raise InvalidStateError("the new chat is already linked to an account")
        before = self._get(Conversation, old_id)
        if before.unbound:
            raise InvalidStateError("the chat is no longer linked to an account")
        after = Conversation(id=new_id, channel=channel, conversation=new,
                             account_id=before.account_id, contact_id=before.contact_id,
                             title=before.title, link_code_id=None, occurred_at=at, actor=actor)
        if before.current_case_id is not None:
            after.follow_case(before.current_case_id, at, actor)
        before.unbind(f"the chat moved to {new}", at, actor)
        try:
            recordings = self.save(after, before)
        except IntegrityError:  # a new chat once bound and since unbound: not ours to reuse
            raise InvalidStateError("the new chat was linked before; link it with a new code")\
                from None
        return CommandResult({"conversationId": new_id, "accountId": before.account_id},
                             recordings[-1].notification.id, after.version)

    def unlink_conversation(self, *, conversation_id: UUID, reason: str, actor: str,
                            occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Conversation, conversation_id, None,
                            lambda c: c.unbind(reason, at, actor))

    def name_topic(self, *, channel: str, conversation: str, name: str, actor: str,
                   occurred_at: datetime | None = None) -> CommandResult:
        """A topic of a bound chat was created or renamed: a case it opens takes its name.
        The same name again is a duplicate; a chat nobody linked is `NotFoundError`."""
        at = self._when(occurred_at)
        place, topic = split_topic(channel, conversation)
        if topic is None:
            raise InvalidInputError("the conversation names no topic")
        name = clean_name(name[:MAX_SUBJECT], "topic name", MAX_SUBJECT)
        chat = self.conversation(channel, place)
        if chat is None:
            raise NotFoundError(f"no {channel} chat {place} is linked to an account")
        return self._update(Conversation, chat.id, None,
                            lambda c: c.name_topic(topic, name, at, actor))

    def receive_message(self, *, message: InboundMessage, account_id: UUID, actor: str,
                        contact_id: UUID | None = None, priority: str = Priority.NORMAL.value,
                        topic: str | None = None,
                        details: dict[str, Any] | None = None) -> CommandResult:
        """Route one client message: it joins the case it belongs to or opens a new one.

        A message answers a case when it names the case's tag, replies to one of the case's
        messages, or is said in a conversation whose case is still open; a resolved case the
        client writes to again is reopened. Auto-replies are recorded but open nothing. An
        edit of a known message is recorded as an edit. A redelivery is a duplicate.
        One message is a batch of one (`receive_messages`).
        """
        outcome = self.receive_messages([Arrival(message, account_id, actor, contact_id,
                                                 priority, topic, details)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def receive_messages(self, arrivals: Sequence[Arrival],
                         known: Mapping[UUID, Aggregate | None] | None = None,
                         ) -> list[CommandResult | Exception]:
        """Route several messages in one transaction (group commit); each has its own outcome.

        They are decided in order against one in-memory copy of each aggregate, so a redelivery
        within the batch is a duplicate and two messages to one case both apply. A message
        that fails gets its error and the others are decided again without it; a refused
        channel (`RefusedChannelError`) is an outcome, its message recorded all the same. If a
        concurrent writer gets in first (IntegrityError), the messages are received one by one,
        so the rest lands; one message alone is decided again, and a redelivery then answers
        as a duplicate. A batch is first decided without asking the store whether each message
        is new (it refuses a redelivery at the save), then, if refused, asking it. The
        notification id of every result is the batch's last position.

        `known`: aggregates the caller has just read (untouched), which need not be read again.
        """
        if not arrivals:
            return []
        if len(arrivals) > 1:
            with suppress(IntegrityError):
                return self._receive_together(arrivals, known or {}, optimistic=True)
            try:
                return self._receive_together(arrivals, {})
            except IntegrityError:
                return [self.receive_messages([arrival])[0] for arrival in arrivals]
        for attempt in range(_RETRIES):
            try:
                return self._receive_together(arrivals, (known or {}) if attempt == 0 else {})
            except IntegrityError:
                continue
        return [VersionConflictError("changed by someone else at the same moment; try again")]

    def _receive_together(self, arrivals: Sequence[Arrival], known: Mapping[UUID, Aggregate | None],
                          optimistic: bool = False) -> list[CommandResult | Exception]:
        outcomes: dict[int, CommandResult | Exception] = {}
        read = {**known, **self._prefetch(arrivals, known)} if len(arrivals) > 1 else {**known}
        while True:
            unit = UnitOfWork(optimistic)
            unit.seen.update(read)
            decided: dict[int, CommandResult | RefusedChannelError] = {}
            failed = False
            self._units.current = unit
            try:
                for i, arrival in enumerate(arrivals):
                    if i in outcomes:
                        continue
                    try:
                        decided[i] = self._route(arrival)
                    except RefusedChannelError as refused:
                        decided[i] = refused
                    except Exception as error:  # its own caller's; the rest are decided again
                        outcomes[i] = error
                        failed = True
                        break
            finally:
                self._units.current = None
            if not failed:
                break
            # The aggregates read carry what this pass decided: read them afresh.
            left = [a for i, a in enumerate(arrivals) if i not in outcomes]
            read = self._prefetch(left, {}) if len(left) > 1 else {}
        last = self.save_events(unit.events)[-1].notification.id if unit.events else self._head()
        self.batch_reads.put(unit.saved())
        for i, made in decided.items():
            if isinstance(made, RefusedChannelError):
                outcomes[i] = RefusedChannelError(made.message, made.allowed,
                                                  _settled(made.result, last))
            else:
                outcomes[i] = _settled(made, last)
        return [outcomes[i] for i in range(len(arrivals))]

    def _prefetch(self, arrivals: Sequence[Arrival],
                  known: Mapping[UUID, Aggregate | None]) -> dict[UUID, Aggregate | None]:
        """Read what a batch will read: its chats, then their accounts and cases together."""
        places = [(Conversation.id_for(a.message.channel, a.message.conversation),
                   a.message.conversation) for a in arrivals
                  if a.message.channel in _CONVERSATIONAL]
        found = {**known, **self._load_all((i for i, _ in places), known)}
        cases = _followed(found, places)
        found.update(self._load_all([*(a.account_id for a in arrivals), *cases], found))
        return {i: a for i, a in found.items() if i not in known}

    def _load_all(self, ids: Iterable[UUID],
                  skip: Mapping[UUID, object] | None = None) -> dict[UUID, Aggregate | None]:
        wanted = [i for i in dict.fromkeys(ids) if skip is None or i not in skip]
        if not wanted:
            return {}
        if self.read_histories is None or self.snapshots is not None:
            return dict(zip(wanted, self._prefetcher.map(self._load, wanted), strict=True))
        kept = self.batch_reads.take(wanted)
        histories = self.read_histories({i: kept[i].version if i in kept else 0 for i in wanted})
        found: dict[UUID, Aggregate | None] = {}
        for aggregate_id in wanted:
            aggregate = kept.get(aggregate_id)
            for stored in histories.get(aggregate_id, ()):
                event = cast(Aggregate.Event, self.mapper.to_domain_event(stored))
                aggregate = event.mutate(aggregate)
            found[aggregate_id] = aggregate
        return found

    def conversations(self, places: Iterable[tuple[str, str]]) -> dict[UUID, Aggregate | None]:
        """The conversations at these (channel, place) pairs, read several at a time, keyed
        by id: what `receive_messages` may be given as `known`. Unbound ones included.

        With them, in the same query, the accounts and current cases of the chats a batch
        kept (`batch_reads`): what a batch of their messages reads next."""
        wanted = [(Conversation.id_for(c, p), p) for c, p in places]
        chats = [i for i, _ in wanted]
        kept = {chat.id: chat for chat in self.batch_reads.peek(chats)}
        accounts = [c.account_id for c in kept.values() if isinstance(c, Conversation)]
        return self._load_all([*chats, *accounts, *_followed(kept, wanted)])

    def close(self) -> None:
        self._prefetcher.shutdown(wait=True)
        super().close()

    def _route(self, arrival: Arrival) -> CommandResult:
        """Decide one message within the current unit of work (see `receive_message`)."""
        message, account_id, actor = arrival.message, arrival.account_id, arrival.actor
        contact_id, priority, topic = arrival.contact_id, arrival.priority, arrival.topic
        details = arrival.details
        at = self._when(message.occurred_at)
        account = self._get(Account, account_id)
        channel = enum_value(Channel, message.channel, "channel")
        if message.edit_of is not None:
            edited = self._edit(account, channel, message, at, actor)
            if edited is not None:
                return edited
        subject = message.subject
        extras: dict[str, Any] = {
            "conversation": message.conversation, "subject": subject,
            "attachments": [{"filename": a.filename, "content_type": a.content_type,
                             "size": a.size} for a in message.attachments] or None,
            "automated": message.automated, "flagged": message.flagged, "details": details}
        inbound = replace(self._inbound(account, channel, Direction.INBOUND.value,
                                        message.external_id, contact_id, message.text),
                          extras=extras)
        if self._received(inbound.id):
            return self._redelivered(inbound.id)
        sender = message.sender_name or message.sender
        chat = (self.conversation(channel, message.conversation)
                if channel in _CONVERSATIONAL else None)
        if chat is not None and chat.account_id != account.id:
            chat = None
        _, place_topic = split_topic(channel, message.conversation)
        case = self._case_answered(account, channel, message, chat, place_topic)
        if case is None and (message.automated or not inbound.allowed):
            interaction = inbound.record(None, sender, at, actor)
            result = self._save_new(interaction, {"interactionId": interaction.id})
            if not inbound.allowed:
                self._refuse(account, channel, result)
            return result
        if case is None:
            account.check_active()
            first_line = message.text.strip().splitlines()[0]
            if chat is not None and place_topic is not None:
                subject = subject or chat.topic_names.get(place_topic)
            case = self._new_case(account, inbound.id, channel,
                                  clean_name((subject or first_line)[:MAX_SUBJECT], "subject",
                                             MAX_SUBJECT),
                                  priority, topic, contact_id, at, actor)
        elif not message.automated:
            if case.status == CaseStatus.RESOLVED.value:
                case.reopen("the client wrote again", at, actor)
            elif case.waiting:
                case.resume("the client answered", at, actor)
        interaction = inbound.record(case.id, sender, at, actor)
        others: list[Aggregate] = [case]
        if chat is not None and chat.case_in(place_topic) != case.id:
            chat.follow_case(case.id, at, actor, place_topic)
            others.append(chat)
        result = self._save_new(interaction, {"caseId": case.id, "interactionId": interaction.id},
                                *others)
        if not inbound.allowed:
            self._refuse(account, channel, result)
        return result

    def hold_stray_message(self, *, message: InboundMessage, reason: str,
                           actor: str) -> CommandResult:
        """Keep a message whose sender matched no account until someone routes it."""
        at = self._when(message.occurred_at)
        enum_value(Channel, message.channel, "channel")
        stray = StrayMessage(id=StrayMessage.id_for(message.channel, message.external_id),
                             message=message_document(replace(message, text=clean_text(
                                 message.text))),
                             reason=clean_name(reason, "reason", 200), occurred_at=at,
                             actor=actor)
        return self._save_new(stray, {"strayMessageId": stray.id})

    def route_stray_message(self, *, stray_message_id: UUID, account_id: UUID, actor: str,
                            contact_id: UUID | None = None) -> CommandResult:
        """Receive a held message at an account, as if it had just arrived there."""
        stray = self._get(StrayMessage, stray_message_id)
        if stray.status != "held":
            raise InvalidStateError(f"the message is already {stray.status}")
        result = self.receive_message(message=message_from_document(stray.message),
                                      account_id=account_id, contact_id=contact_id, actor=actor)
        at = self._when(None)
        routed = self._update(StrayMessage, stray_message_id, None, lambda s: s.route(
            account_id, result.ids["interactionId"], at, actor))
        return replace(result, notification_id=routed.notification_id)

    def dismiss_stray_message(self, *, stray_message_id: UUID, reason: str,
                              actor: str) -> CommandResult:
        at = self._when(None)
        return self._update(StrayMessage, stray_message_id, None,
                            lambda s: s.dismiss(clean_name(reason, "reason", 200), at, actor))

    def log_call(self, *, account_id: UUID, direction: str, number: str,
                 duration_seconds: int, outcome: str, notes: str, actor: str,
                 ivr_choice: str | None = None, contact_id: UUID | None = None,
                 call_id: str | None = None, case_id: UUID | None = None,
                 agent: str | None = None,
                 occurred_at: datetime | None = None) -> CommandResult:
        """A phone call: a client's call is routed like any message, our call is a reply."""
        at = self._when(occurred_at)
        direction = enum_value(Direction, direction, "direction")
        number = clean_name(number, "phone number", 40)
        if not 0 <= duration_seconds <= 24 * 3600:
            raise InvalidInputError("durationSeconds must be between 0 and 86400")
        details = {"number": number, "duration_seconds": duration_seconds,
                   "outcome": clean_name(outcome, "call outcome", 40),
                   "ivr_choice": clean_name(ivr_choice, "IVR choice", 40) if ivr_choice else None}
        text = clean_text(notes)
        if case_id is not None and self._get(Case, case_id).account_id != account_id:
            # Named explicitly, another company's case is refused, never quietly replaced.
            raise NotFoundError(f"case {case_id} not found")
        if direction == Direction.INBOUND.value:
            message = InboundMessage(
                channel=Channel.PHONE.value, external_id=call_id or str(uuid4()),
                conversation=number, sender=number, sender_name=number, text=text,
                occurred_at=at, case_ref=str(case_id) if case_id else None)
            return self.receive_message(message=message, account_id=account_id, actor=actor,
                                        contact_id=contact_id, details=details)
        if case_id is None:
            account = self._get(Account, account_id)
            call = replace(self._inbound(account, Channel.PHONE.value, direction, call_id,
                                         contact_id, text),
                           extras={"conversation": number, "details": details})
            if self._exists(call.id):
                return self._redelivered(call.id)
            interaction = call.record(None, agent or actor, at, actor)
            return self._save_new(interaction, {"interactionId": interaction.id})
        return self.reply_to_case(case_id=case_id, text=text, agent=agent or actor, actor=actor,
                                  channel=Channel.PHONE.value, external_message_id=call_id,
                                  occurred_at=at, details=details)

    def send_notice(self, *, account_id: UUID, channel: str, conversation: str, text: str,
                    actor: str, case_id: UUID | None = None, reply_to: str | None = None,
                    occurred_at: datetime | None = None) -> CommandResult:
        """An automatic message back to where a client wrote (a refusal, a link confirmed).

        Named by what it answers, so answering the same message twice records it once.
        """
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        channel = enum_value(Channel, channel, "channel")
        notice = replace(self._inbound(account, channel, Direction.OUTBOUND.value,
                                       f"notice:{reply_to}" if reply_to else None, None, text),
                         extras={"conversation": conversation, "automated": True})
        if self._exists(notice.id):
            return self._redelivered(notice.id)
        interaction = notice.record(case_id, "Carelog", at, actor)
        return self._save_new(interaction, {"interactionId": interaction.id})

    def post_to_room(self, *, account_id: UUID, text: str, author: str, actor: str,
                     case_id: UUID | None = None, external_message_id: str | None = None,
                     occurred_at: datetime | None = None) -> CommandResult:
        """A staff message in the account's room; the chats bound to the room receive it."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        if case_id is not None and self._get(Case, case_id).account_id != account.id:
            raise NotFoundError(f"case {case_id} not found")
        message = self._inbound(account, Channel.ROOM.value, Direction.OUTBOUND.value,
                                external_message_id, None, text)
        if self._exists(message.id):
            return CommandResult({"interactionId": message.id}, self._head(), duplicate=True)
        interaction = message.record(case_id, author, at, actor)
        return self._save_new(interaction, {"interactionId": interaction.id})

    def mark_room_read(self, *, account_id: UUID, reader: str, position: int, actor: str,
                       occurred_at: datetime | None = None) -> CommandResult:
        """`reader` has seen the room's messages up to log position `position`."""
        at = self._when(occurred_at)
        self._get(Account, account_id)
        reader = clean_name(reader, "reader")
        if position < 0 or position > self._head():
            raise InvalidInputError("position must be a log position that exists")
        marker_id = ReadMarker.id_for(account_id, reader)
        if not self._exists(marker_id):
            marker = ReadMarker(id=marker_id, account_id=account_id, reader=reader,
                                occurred_at=at, actor=actor)
            marker.mark(position, at, actor)
            result = self._save_new(marker, {"readMarkerId": marker_id})
            if not result.duplicate:
                return result
        return self._update(ReadMarker, marker_id, None, lambda m: m.mark(position, at, actor))

    def account(self, account_id: UUID) -> Account:
        return self._get(Account, account_id)

    def interaction(self, interaction_id: UUID) -> Interaction:
        return self._get(Interaction, interaction_id)

    def case(self, case_id: UUID) -> Case:
        return self._get(Case, case_id)

    def attempt_delivery(self, *, interaction_id: UUID, actor: str) -> CommandResult:
        """Note that we are about to send; a crash before the outcome leaves this trace."""
        at = self._when(None)
        return self._update(Interaction, interaction_id, None,
                            lambda i: i.attempt_delivery(at, actor))

    def record_delivery(self, *, interaction_id: UUID, receipt: DeliveryReceipt,
                        actor: str) -> CommandResult:
        at = self._when(None)
        return self._update(Interaction, interaction_id, None, lambda i: i.record_delivery(
            receipt.delivered, receipt.external_id, receipt.error, receipt.retryable, at, actor))

    def _edit(self, account: Account, channel: str, message: InboundMessage, at: datetime,
              actor: str) -> CommandResult | None:
        """Record an edit of a known message; None when the original never reached us."""
        assert message.edit_of is not None
        original_id = Interaction.id_for(account.id, channel, Direction.INBOUND.value,
                                         message.edit_of)
        if not self._exists(original_id):
            return None
        changed: list[bool] = []
        result = self._update(Interaction, original_id, None, lambda i: changed.append(
            i.edit(message.external_id, clean_text(message.text), at, actor)))
        return replace(result, ids={"interactionId": original_id})

    def _case_answered(self, account: Account, channel: str, message: InboundMessage,
                       chat: Conversation | None, topic: str | None) -> Case | None:
        """The case this message belongs to, or None when it starts a new one; in a chat,
        the case of the message's topic (`topic`, None for the chat itself)."""
        candidates: list[UUID] = []
        if message.case_ref is not None:
            with suppress(ValueError):
                candidates.append(UUID(message.case_ref))
        for ref in reversed(message.thread):
            for direction in (Direction.OUTBOUND.value, Direction.INBOUND.value):
                earlier = self._read(Interaction.id_for(account.id, channel, direction, ref))
                if isinstance(earlier, Interaction) and earlier.case_id is not None:
                    candidates.append(earlier.case_id)
        followed = chat.case_in(topic) if chat is not None else None
        if followed is not None:
            candidates.append(followed)
        for case_id in candidates:
            case = self._read(case_id)
            if (isinstance(case, Case) and case.account_id == account.id
                    and case.status != CaseStatus.CLOSED.value):
                return case
        return None

    # Health, alerts and goals ------------------------------------------------------------

    def publish_health_model(self, *, document: dict[str, Any], actor: str, note: str = "",
                             occurred_at: datetime | None = None) -> CommandResult:
        """Publish the next health model version; every history is recomputed under it."""
        at = self._when(occurred_at)

        def attempt() -> CommandResult:
            if self._exists(POLICY_ID):
                policy = self._get(HealthPolicy, POLICY_ID)
            else:
                policy = HealthPolicy(id=POLICY_ID, occurred_at=at, actor=actor)
            version = policy.publish(document, note, at, actor)
            recordings = self.save(policy)
            return CommandResult({"healthPolicyId": policy.id}, recordings[-1].notification.id,
                                 policy.version, extra={"modelVersion": version})

        return self._retrying(attempt, None)

    def raise_alert(self, *, account_id: UUID, kind: str, day: date, score_before: int | None,
                    score_after: int, band_before: str, band_after: str,
                    drivers: list[dict[str, Any]], model_version: int, actor: str,
                    occurred_at: datetime | None = None) -> CommandResult:
        """Raise a health alert for the account's manager; raising it again is a duplicate."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        kind = enum_value(AlertKind, kind, "alert kind")
        alert = Alert(id=Alert.id_for(account_id, kind, day, model_version),
                      account_id=account_id, manager=account.manager, kind=kind, day=day,
                      score_before=score_before, score_after=score_after,
                      band_before=band_before, band_after=band_after, drivers=drivers,
                      model_version=model_version, occurred_at=at, actor=actor)
        return self._save_new(alert, {"alertId": alert.id, "accountId": account_id})

    def acknowledge_alert(self, *, alert_id: UUID, actor: str, note: str = "",
                          occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Alert, alert_id, None, lambda a: a.acknowledge(note, at, actor))

    def resolve_alert(self, *, alert_id: UUID, actor: str, note: str = "",
                      occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Alert, alert_id, None, lambda a: a.resolve(note, at, actor))

    def set_goal(self, *, title: str, metric: str, target: Decimal, deadline: date,
                 owner: str, actor: str, occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        metric = enum_value(GoalMetric, metric, "goal metric")
        Goal.check(metric, target, deadline, at)
        goal = Goal(id=uuid4(), title=clean_name(title, "title"), metric=metric, target=target,
                    deadline=deadline, owner=clean_name(owner, "owner"), occurred_at=at,
                    actor=actor)
        return self._save_new(goal, {"goalId": goal.id})

    def revise_goal(self, *, goal_id: UUID, target: Decimal, deadline: date, actor: str,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Goal, goal_id, None, lambda g: g.revise(target, deadline, at, actor))

    def cancel_goal(self, *, goal_id: UUID, reason: str, actor: str,
                    occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Goal, goal_id, None, lambda g: g.cancel(reason, at, actor))

    # Surveys -----------------------------------------------------------------------------

    def record_nps(self, *, account_id: UUID, contact_id: UUID, score: int, survey: str,
                   actor: str, comment: str | None = None,
                   occurred_at: datetime | None = None) -> CommandResult:
        """Record a contact's NPS answer; the same answer to the same survey is a duplicate."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        if str(contact_id) not in account.contacts:
            raise NotFoundError(f"contact {contact_id} not found on this account")
        response = SurveyResponse(
            id=SurveyResponse.id_for(account.id, contact_id, clean_name(survey, "survey", 200)),
            account_id=account.id, contact_id=contact_id, score=check_score(score),
            comment=clean_comment(comment), occurred_at=at, actor=actor)
        return self._save_new(response, {"surveyResponseId": response.id,
                                         "accountId": account.id})
    # Product feedback -------------------------------------------------------------------

    def submit_feedback(self, *, account_id: UUID, product_area: str, title: str, text: str,
                        actor: str, case_id: UUID | None = None,
                        interaction_id: UUID | None = None,
                        occurred_at: datetime | None = None) -> CommandResult:
        """Record a product request; made from a case or a message, submitting twice is one."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        self._check_sources(account.id, case_id, interaction_id)
        area, title, text = Feedback.clean(product_area, title, text)
        source = case_id or interaction_id
        feedback = Feedback(
            id=Feedback.id_for(source, area) if source is not None else uuid4(),
            product_area=area, title=title, text=text, account_id=account.id, case_id=case_id,
            interaction_id=interaction_id, occurred_at=at, actor=actor)
        return self._save_new(feedback, {"feedbackId": feedback.id})

    def support_feedback(self, *, feedback_id: UUID, account_id: UUID, actor: str,
                         case_id: UUID | None = None, interaction_id: UUID | None = None,
                         note: str = "", occurred_at: datetime | None = None) -> CommandResult:
        """Add an account to existing feedback instead of filing a duplicate."""
        at = self._when(occurred_at)
        account = self._get(Account, account_id)
        self._check_sources(account.id, case_id, interaction_id)
        return self._update(Feedback, feedback_id, None, lambda f: f.support(
            account.id, case_id, interaction_id, note, at, actor))

    def merge_feedback(self, *, feedback_id: UUID, into_id: UUID, actor: str,
                       occurred_at: datetime | None = None) -> CommandResult:
        """Fold a duplicate into `into_id`: its accounts join there, it stops syncing."""
        at = self._when(occurred_at)

        def attempt() -> CommandResult:
            source = self._get(Feedback, feedback_id)
            target = self._get(Feedback, into_id)
            target.absorb(source, at, actor)
            recordings = self.save(target, source)
            return CommandResult({"feedbackId": target.id}, recordings[-1].notification.id,
                                 target.version)

        return self._retrying(attempt, None)

    def resync_feedback(self, *, feedback_id: UUID, actor: str,
                        occurred_at: datetime | None = None) -> CommandResult:
        """Ask for the Jira issue to be written again from the feedback (or created if missing)."""
        at = self._when(occurred_at)
        return self._update(Feedback, feedback_id, None, lambda f: f.request_resync(at, actor))

    def feedback(self, feedback_id: UUID) -> Feedback:
        """The feedback's current state (the Jira reactor decides from it)."""
        return self._get(Feedback, feedback_id)

    def attempt_jira_create(self, *, feedback_id: UUID, expected_version: int,
                            actor: str) -> CommandResult:
        """Record the intent to create the issue, before posting it; a conflict means another
        reactor got there first."""
        at = self.clock.now()
        return self._update(Feedback, feedback_id, expected_version,
                            lambda f: f.attempt_jira_create(at, actor))

    def fail_jira_create(self, *, feedback_id: UUID, error: str, actor: str) -> CommandResult:
        at = self.clock.now()
        return self._update(Feedback, feedback_id, None,
                            lambda f: f.fail_jira_create(error, at, actor))

    def link_jira_issue(self, *, feedback_id: UUID, key: str, revision: int, announced: int,
                        actor: str) -> CommandResult:
        at = self.clock.now()
        key = clean_name(key, "issue key", 100)
        return self._update(Feedback, feedback_id, None,
                            lambda f: f.link_jira(key, revision, announced, at, actor))

    def record_jira_sync(self, *, feedback_id: UUID, revision: int, announced: int,
                         actor: str) -> CommandResult:
        at = self.clock.now()
        return self._update(Feedback, feedback_id, None,
                            lambda f: f.record_jira_sync(revision, announced, at, actor))

    def record_jira_status(self, *, feedback_id: UUID, delivery: str, status: str,
                           status_id: str, name: str, changed_at: datetime,
                           actor: str) -> CommandResult:
        """A status from Jira; on shipping or declining, every requesting account's manager
        gets a message to pass on (`Feedback.OutcomeMessagePrepared`)."""
        at = self.clock.now()

        def change(feedback: Feedback) -> None:
            before = feedback.status
            if (feedback.record_jira_status(delivery, status, status_id, name, changed_at, at,
                                            actor)
                    and status in OUTCOMES and before not in OUTCOMES):
                for account_id in feedback.accounts:
                    account = self._get(Account, account_id)
                    feedback.prepare_outcome_message(
                        account.id, account.manager, _outcome_text(feedback, status), at, actor)
                    outcomes.append((account.id, _outcome_text(feedback, status)))

        outcomes: list[tuple[UUID, str]] = []
        result = self._update(Feedback, feedback_id, None, change)
        if self.send_feedback_outcomes:
            # Named by the feedback and outcome: a repeat after a crash posts nothing twice.
            for account_id, text in outcomes:
                self.post_to_room(account_id=account_id, text=text, author="Carelog",
                                  actor=actor, occurred_at=at,
                                  external_message_id=f"feedback:{feedback_id}:{status}")
        return result

    def record_jira_comment(self, *, feedback_id: UUID, delivery: str, comment_id: str,
                            author: str, body: str, created_at: datetime,
                            actor: str) -> CommandResult:
        at = self.clock.now()
        return self._update(Feedback, feedback_id, None, lambda f: f.record_jira_comment(
            delivery, comment_id, author, body, created_at, at, actor))

    # Knowledge base ---------------------------------------------------------------------

    def draft_article(self, *, title: str, body: str, language: str, actor: str,
                      topic: str | None = None,
                      occurred_at: datetime | None = None) -> CommandResult:
        """Draft an article in `language` (ISO 639-1); nobody but staff sees it until published."""
        at = self._when(occurred_at)
        title, body, language, topic = clean_article(title, body, language, topic)
        article = Article(id=uuid4(), title=title, body=body, language=language, topic=topic,
                          occurred_at=at, actor=actor)
        return self._save_new(article, {"articleId": article.id})

    def publish_article(self, *, article_id: UUID, visibility: str, actor: str,
                        plans: Sequence[str] = (), expected_version: int | None = None,
                        occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Article, article_id, expected_version,
                            lambda a: a.publish(visibility, list(plans), at, actor))

    def revise_article(self, *, article_id: UUID, title: str, body: str, language: str,
                       actor: str, topic: str | None = None, expected_version: int | None = None,
                       occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Article, article_id, expected_version,
                            lambda a: a.revise(title, body, language, topic, at, actor))

    def archive_article(self, *, article_id: UUID, actor: str, reason: str = "",
                        occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Article, article_id, None, lambda a: a.archive(reason, at, actor))

    def vote_article(self, *, article_id: UUID, helpful: bool, actor: str,
                     occurred_at: datetime | None = None) -> CommandResult:
        """The actor's vote; the caller has checked that the actor may read the article."""
        at = self._when(occurred_at)
        return self._update(Article, article_id, None,
                            lambda a: a.vote(actor, helpful, at, actor))

    def article(self, article_id: UUID) -> Article:
        return self._get(Article, article_id)

    # Announcements -----------------------------------------------------------------------

    def publish_announcement(self, *, kind: str, title: str, text: str, starts_at: datetime,
                             actor: str, ends_at: datetime | None = None,
                             services: Sequence[str] = (), plans: Sequence[str] = (),
                             accounts: Sequence[UUID] = (),
                             occurred_at: datetime | None = None) -> CommandResult:
        """Announce maintenance or an incident to the named accounts and plans (neither: all)."""
        at = self._when(occurred_at)
        kind = enum_value(AnnouncementKind, kind, "announcement kind")
        title, text, service_names, tiers = clean_announcement(
            title, text, list(services), list(plans), starts_at, ends_at)
        named = sorted({self._get(Account, a).id for a in accounts}, key=str)
        announcement = Announcement(
            id=uuid4(), kind=kind, title=title, text=text, services=service_names, plans=tiers,
            accounts=named, starts_at=starts_at, ends_at=ends_at, occurred_at=at, actor=actor)
        return self._save_new(announcement, {"announcementId": announcement.id})

    def update_announcement(self, *, announcement_id: UUID, title: str, text: str,
                            starts_at: datetime, actor: str, ends_at: datetime | None = None,
                            services: Sequence[str] = (), plans: Sequence[str] = (),
                            accounts: Sequence[UUID] = (), expected_version: int | None = None,
                            occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        named = [self._get(Account, a).id for a in accounts]
        return self._update(Announcement, announcement_id, expected_version, lambda a: a.update(
            title, text, list(services), list(plans), named, starts_at, ends_at, at, actor))

    def resolve_announcement(self, *, announcement_id: UUID, actor: str, text: str = "",
                             occurred_at: datetime | None = None) -> CommandResult:
        at = self._when(occurred_at)
        return self._update(Announcement, announcement_id, None,
                            lambda a: a.resolve(text, at, actor))

    def record_announcement_delivery(self, *, announcement_id: UUID, revision: int,
                                     account_id: UUID, sent: list[dict[str, Any]],
                                     failed: list[dict[str, Any]],
                                     actor: str) -> CommandResult:
        at = self._when(None)
        return self._update(Announcement, announcement_id, None, lambda a: a.record_delivery(
            revision, account_id, sent, failed, at, actor))

    def finish_announcement_fan_out(self, *, announcement_id: UUID, revision: int,
                                    accounts: int, actor: str) -> CommandResult:
        at = self._when(None)
        return self._update(Announcement, announcement_id, None,
                            lambda a: a.finish_fan_out(revision, accounts, at, actor))

    def link_case_to_announcement(self, *, announcement_id: UUID, case_id: UUID,
                                  actor: str) -> CommandResult:
        at = self._when(None)
        account_id = self._get(Case, case_id).account_id
        return self._update(Announcement, announcement_id, None,
                            lambda a: a.link_case(case_id, account_id, at, actor))

    def answer_linked_cases(self, *, announcement_id: UUID, text: str, agent: str,
                            actor: str) -> CommandResult:
        """Reply to every open case linked to the announcement, once per text: sending the
        same answer again answers only the cases that have not had it."""
        announcement = self._get(Announcement, announcement_id)
        digest = hashlib.sha256(clean_text(text).encode()).hexdigest()[:16]
        last, answered = self._head(), 0
        for case_id in announcement.linked_cases:
            if self._get(Case, case_id).status not in _ANSWERABLE:
                continue
            result = self.reply_to_case(
                case_id=case_id, text=text, agent=agent, actor=actor,
                external_message_id=f"announcement:{announcement_id}:answer:{digest}")
            answered += not result.duplicate
            last = max(last, result.notification_id)
        return CommandResult({"announcementId": announcement.id}, last, announcement.version,
                             duplicate=answered == 0, extra={"answered": answered})

    def announcement(self, announcement_id: UUID) -> Announcement:
        return self._get(Announcement, announcement_id)

    def _redelivered(self, interaction_id: UUID) -> CommandResult:
        """A message we already have: answer with what it made the first time."""
        existing = self._get(Interaction, interaction_id)
        ids = {"interactionId": existing.id}
        if existing.case_id is not None:
            ids["caseId"] = existing.case_id
        return CommandResult(ids, self._head(), duplicate=True)

    def _new_case(self, account: Account, opening_id: UUID, channel: str, subject: str,
                  priority: str, topic: str | None, contact_id: UUID | None, at: datetime,
                  actor: str) -> Case:
        """A case opened by the message `opening_id`, on the terms of the account's plan."""
        priority = enum_value(Priority, priority, "priority")
        topic = clean_name(topic, "topic", 100) if topic else None
        sla = Case.sla_terms(plan_for(Tier(account.tier)).targets[Priority(priority)],
                             account.calendar())
        first_due, resolution_due = Case.due_times(sla, priority, at)
        line = self.vip_line if account.tier == Tier.VIP.value else 1
        return Case(
            id=Case.id_for(opening_id), account_id=account.id, channel=channel, subject=subject,
            topic=topic, priority=priority, line=line, contact_id=contact_id,
            opening_interaction_id=opening_id, first_response_due=first_due,
            resolution_due=resolution_due, occurred_at=at, actor=actor, sla=sla)

    def _check_sources(self, account_id: UUID, case_id: UUID | None,
                       interaction_id: UUID | None) -> None:
        """The case or message feedback comes from must be the requesting account's own."""
        if case_id is not None and self._get(Case, case_id).account_id != account_id:
            raise NotFoundError(f"case {case_id} not found")
        if interaction_id is not None and self._get(
                Interaction, interaction_id).account_id != account_id:
            raise NotFoundError(f"interaction {interaction_id} not found")

    # Mechanics ---------------------------------------------------------------------------

    def _when(self, occurred_at: datetime | None) -> datetime:
        now = self.clock.now()
        if occurred_at is None:
            return now
        if occurred_at.tzinfo is None:
            raise InvalidInputError("occurredAt must carry a timezone")
        if occurred_at > now + _FUTURE_TOLERANCE:
            raise InvalidInputError("occurredAt must not be in the future")
        return occurred_at

    def _get(self, cls: type[A], aggregate_id: UUID) -> A:
        found = self._read(aggregate_id)
        if not isinstance(found, cls):
            # A foreign id of another kind answers exactly like a missing one.
            raise NotFoundError(f"{cls.__name__.lower()} {aggregate_id} not found")
        return found

    def _unit(self) -> UnitOfWork | None:
        unit: UnitOfWork | None = getattr(self._units, "current", None)
        return unit

    def _read(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate, or None; within a unit of work read once and shared by its commands."""
        unit = self._unit()
        if unit is None:
            return self._load(aggregate_id)
        if aggregate_id not in unit.seen:
            unit.seen[aggregate_id] = self._load(aggregate_id)
        return unit.seen[aggregate_id]

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        if self._unit() is None:
            return any(True for _ in self.events.get(aggregate_id, limit=1))
        return self._read(aggregate_id) is not None

    def _received(self, interaction_id: UUID) -> bool:
        """Whether a message is known. A batch's first pass asks only the batch itself: the
        store refuses a redelivery at the save, and the batch is decided again asking all."""
        unit = self._unit()
        if unit is not None and unit.optimistic:
            return unit.seen.get(interaction_id) is not None
        return self._exists(interaction_id)

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _inbound(self, account: Account, channel: str, direction: str,
                 external_id: str | None, contact_id: UUID | None, text: str) -> _Message:
        """Validate a message and name it by its channel id (a fresh id when it has none)."""
        text = clean_text(text)
        if external_id is not None:
            external_id = clean_name(external_id, "external message id", 500)
        if contact_id is not None and str(contact_id) not in account.contacts:
            raise NotFoundError(f"contact {contact_id} not found on this account")
        allowed = direction == Direction.OUTBOUND.value or plan_for(Tier(account.tier)).allows(
            Channel(channel))
        return _Message(
            id=Interaction.id_for(account.id, channel, direction, external_id or str(uuid4())),
            account_id=account.id, channel=channel, direction=direction,
            external_id=external_id or "", contact_id=contact_id, text=text, allowed=allowed)

    @staticmethod
    def _refuse(account: Account, channel: str, result: CommandResult) -> NoReturn:
        plan = plan_for(Tier(account.tier))
        raise RefusedChannelError(plan.refusal(Channel(channel)), plan.channel_names(), result)

    def _save_new(self, aggregate: Aggregate, ids: Mapping[str, UUID],
                  *others: Aggregate) -> CommandResult:
        """Save newly made aggregates; if their ids already exist this is a redelivery.

        Within a unit of work they are only staged: the unit's one save follows."""
        unit = self._unit()
        if unit is not None:
            unit.stage(aggregate, *others)
            return CommandResult(dict(ids), 0, aggregate.version)
        try:
            recordings = self.save(aggregate, *others)
        except IntegrityError:
            return CommandResult(dict(ids), self._head(), duplicate=True)
        return CommandResult(dict(ids), recordings[-1].notification.id, aggregate.version)

    def _check_version(self, aggregate: Aggregate, expected_version: int | None) -> None:
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflictError(
                f"changed by someone else: you saw version {expected_version}, "
                f"it is now at version {aggregate.version}; reload and try again"
            )

    def _update(self, cls: type[A], aggregate_id: UUID, expected_version: int | None,
                change: Callable[[A], object]) -> CommandResult:
        key = f"{cls.__name__[0].lower()}{cls.__name__[1:]}Id"

        def attempt() -> CommandResult:
            aggregate = self._get(cls, aggregate_id)
            self._check_version(aggregate, expected_version)
            before = aggregate.version
            change(aggregate)
            if aggregate.version == before:  # nothing to change: a repeated request
                return CommandResult({key: aggregate.id}, self._head(), aggregate.version,
                                     duplicate=True)
            unit = self._unit()
            if unit is not None:
                unit.stage(aggregate)
                return CommandResult({key: aggregate.id}, 0, aggregate.version)
            recordings = self.save(aggregate)
            return CommandResult({key: aggregate.id}, recordings[-1].notification.id,
                                 aggregate.version)

        return self._retrying(attempt, expected_version)

    def _retrying(self, attempt: Callable[[], CommandResult],
                  expected_version: int | None) -> CommandResult:
        """Run a read-decide-write; a caller who named a version gets the conflict, others retry."""
        for _ in range(1 if expected_version is not None else _RETRIES):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise VersionConflictError(
            "changed by someone else at the same moment; reload and try again")

    def save_events(self, events: Sequence[DomainEventProtocol[UUID]]) -> list[Recording[UUID]]:
        """Store events already collected from their aggregates, in one transaction: what
        `save(*events)` does, without its runtime protocol check of every object, which costs
        an import (seven events a ticket) about a quarter of its time."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(events)
        recordings = self._record(processing)
        self._notify(recordings)
        return recordings
