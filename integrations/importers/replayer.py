"""Writes an `ImportPlan` through the domain's aggregates, with the source's timestamps.

Every aggregate id derives from the source's own id, so a second run (or the rest of an
interrupted one) finds what is already there and adds nothing twice. Aggregates are built in
memory with the same guards the `CareDesk` commands use and saved many at a time, one
transaction per batch; a batch that meets something already present is saved again one item
at a time, so the rest still lands.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import IntegrityError

from domain.account import Account, clean_name
from domain.application import CareDesk
from domain.case import MAX_SUBJECT, Case
from domain.errors import DomainError
from domain.interaction import Interaction, clean_text
from domain.service_plans import plan_for
from domain.survey_response import SurveyResponse, check_score, clean_comment
from domain.values import Channel, Direction, Money, Priority, Tier, enum_value
from integrations.importers.records import (
    ImportedAccount,
    ImportedContact,
    ImportedNps,
    ImportedTicket,
    ImportPlan,
    Origin,
    Rejection,
    RevenueSpan,
)

Progress = Callable[[int, int], None]
KINDS = ("account", "contact", "revenue", "ticket", "message", "rating", "nps")
_FUTURE_TOLERANCE = timedelta(minutes=5)
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class Built:
    """One item's aggregates, ready to save, and what they hold besides the item itself."""

    item: Any
    aggregates: list[Aggregate]
    extra: dict[str, int] = field(default_factory=dict)
    events: list[DomainEventProtocol[UUID]] = field(default_factory=list)

    def collect(self) -> None:
        """Take the pending events once: a failed save must not lose them for the retry."""
        self.events = [e for a in self.aggregates for e in a.collect_events()]


class Skip(Exception):
    """An item (or part of one) that cannot be imported; the message is the reason."""


@dataclass(slots=True)
class Tally:
    created: int = 0
    present: int = 0
    updated: int = 0
    rejected: int = 0


@dataclass(slots=True)
class ImportSummary:
    source: str
    dry_run: bool
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, kind: str, origin: Origin, key: str, reason: str) -> None:
        self.tallies[kind].rejected += 1
        self.rejections.append(Rejection(kind, origin.file, origin.line, key, reason))

    @property
    def landed(self) -> int:
        return sum(t.created + t.present + t.updated for t in self.tallies.values())


def actor_for(source: str) -> str:
    return f"integration:import:{source}"


def _month(at: datetime | date) -> date:
    return date(at.year, at.month, 1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def monthly_revenue(spans: Iterable[RevenueSpan], until: date) -> list[tuple[date, Decimal]]:
    """The MRR changes of an account: each span counts in every month from its start month to
    its end month (inclusive, or `until` while it runs); the first month no span covers drops
    to 0. Only changes are returned: a month without a record carries the last MRR forward."""
    by_month: dict[date, Decimal] = defaultdict(Decimal)
    for span in spans:
        month = _month(span.start)
        last = min(_month(span.end), until) if span.end is not None else until
        while month <= last:
            by_month[month] += span.mrr
            month = _next_month(month)
    if not by_month:
        return []
    changes: list[tuple[date, Decimal]] = []
    month, end = min(by_month), min(_next_month(max(by_month)), until)
    previous: Decimal | None = None
    while month <= end:
        mrr = by_month.get(month, Decimal(0))
        if mrr != previous:
            changes.append((month, mrr))
            previous = mrr
        month = _next_month(month)
    return changes


def in_time_order(tickets: list[ImportedTicket]) -> list[ImportedTicket]:
    """Tickets by opening time (ties, and tickets whose time lacks a zone, in source order).

    The log then runs forward in business time as it did in the source: views that close
    days or roll up periods fold each day about once, instead of going back to days they
    closed already for every ticket a source listed out of order."""
    return sorted(tickets, key=lambda t: t.opened_at if t.opened_at.utcoffset() is not None
                  else _BEFORE_ALL)


class HistoryWriter:
    """Replays imported history into the `CareDesk` event log."""

    def __init__(self, desk: CareDesk, *, currency: str, batch_size: int = 500,
                 dry_run: bool = False, progress: Progress | None = None) -> None:
        self.desk = desk
        self.currency = currency
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.progress = progress or (lambda done, total: None)
        self._accounts: dict[str, Account | None] = {}

    # Entry point -----------------------------------------------------------------------

    def write(self, plan: ImportPlan) -> ImportSummary:
        summary = ImportSummary(plan.source, self.dry_run)
        for rejection in plan.rejections:
            summary.tallies[rejection.kind].rejected += 1
            summary.rejections.append(rejection)
        self.actor = actor_for(plan.source)
        self.now = self.desk.clock.now()
        total = len(plan.accounts) + len(plan.tickets) + len(plan.nps)
        self._done, self._total = 0, total
        self.progress(0, total)
        self._contacts: dict[str, list[ImportedContact]] = defaultdict(list)
        for contact in plan.contacts:
            self._contacts[contact.account_key].append(contact)
        self._first_ticket: dict[str, datetime] = {}
        for ticket in plan.tickets:
            known = self._first_ticket.get(ticket.account_key)
            self._first_ticket[ticket.account_key] = min(known or ticket.opened_at,
                                                         ticket.opened_at)
        self._write_batches("account", plan.accounts, self._account_item, summary)
        for key, orphans in list(self._contacts.items()):
            for contact in orphans:
                if self._account(key) is None:
                    summary.reject("contact", contact.origin, contact.key,
                                   f"account {key} is neither imported nor present")
                else:
                    self._add_contacts_to_present(key, [contact], summary)
        self._write_batches("ticket", in_time_order(plan.tickets), self._build_ticket, summary)
        self._write_batches("nps", plan.nps, self._build_nps, summary)
        return summary

    def _advance(self, count: int) -> None:
        self._done += count
        self.progress(self._done, self._total)

    def _check_time(self, at: datetime, what: str) -> datetime:
        if at.tzinfo is None:
            raise Skip(f"{what} has no time zone")
        if at > self.now + _FUTURE_TOLERANCE:
            raise Skip(f"{what} {at.isoformat()} is in the future")
        return at

    # Accounts --------------------------------------------------------------------------

    def _account(self, key: str) -> Account | None:
        """The account of a source key: built in this run, or already in the log."""
        if key not in self._accounts:
            account_id = Account.id_for(key)
            found: Account | None = None
            try:
                aggregate: Aggregate = self.desk.repository.get(account_id)
                found = aggregate if isinstance(aggregate, Account) else None
            except AggregateNotFoundError:
                pass
            self._accounts[key] = found
        return self._accounts[key]

    def desk_has(self, aggregate_id: UUID) -> bool:
        return any(True for _ in self.desk.events.get(aggregate_id, limit=1))

    def _account_item(self, item: ImportedAccount, summary: ImportSummary) -> Built | None:
        contacts = self._contacts.pop(item.key, [])
        existing = self._account(item.key)
        if existing is not None:
            summary.tallies["account"].present += 1
            self._update_present(existing, item, contacts, summary)
            return None
        try:
            account, counts = self._build_account(item, contacts, summary)
        except (Skip, DomainError):
            for contact in contacts:
                summary.reject("contact", contact.origin, contact.key,
                               f"its account {item.key} was rejected")
            raise
        self._accounts[item.key] = account
        return Built(item, [account], counts)

    def _build_account(self, item: ImportedAccount, contacts: list[ImportedContact],
                       summary: ImportSummary) -> tuple[Account, dict[str, int]]:
        currency = (item.currency or next((s.currency for s in item.revenue), None)
                    or self.currency)
        if currency not in self.desk.currencies:
            known = ", ".join(sorted(self.desk.currencies))
            raise Skip(f"currency {currency} has no configured rate (CARELOG_FX_RATES); "
                       f"known: {known}")
        spans = []
        for span in item.revenue:
            if span.currency != currency:
                summary.reject("revenue", span.origin, item.key,
                               f"revenue in {span.currency} but the account is billed in "
                               f"{currency}")
            else:
                spans.append(span)
        changes = monthly_revenue(spans, _month(self.now))
        dates = [d for d in (item.signed_up_at, self._first_ticket.get(item.key))
                 if d is not None]
        dates += [_midnight(m) for m, _ in changes[:1]]
        dates += [c.added_at for c in contacts if c.added_at is not None]
        opened = self._check_time(min(dates) if dates else self.now, "signup date")
        account = Account(id=Account.id_for(item.key), name=clean_name(item.name),
                          tier=enum_value(Tier, item.tier, "tier"),
                          manager=clean_name(item.manager, "manager"), currency=currency,
                          occurred_at=opened, actor=self.actor)
        steps: list[tuple[datetime, int, Callable[[], None]]] = []
        if item.seats is not None:
            seats = item.seats
            steps.append((opened, 0, lambda: account.report_usage(None, seats, opened,
                                                                   self.actor)))
        counts = {"contact": 0, "revenue": 0}
        for contact in contacts:
            steps.append((max(contact.added_at or opened, opened), 1,
                          self._contact_step(account, contact, opened, counts, summary)))
        for month, mrr in changes:
            at = max(_midnight(month), opened)
            steps.append((at, 2, self._revenue_step(account, month, mrr, currency, at)))
            counts["revenue"] += 1
        if item.churned_at is not None:
            churned_at = self._check_time(max(item.churned_at, opened), "churn date")
            steps.append((churned_at, 3,
                          lambda: account.churn(item.churn_reason, churned_at, self.actor)))
        for _, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
            step()
        return account, counts

    def _revenue_step(self, account: Account, month: date, mrr: Decimal, currency: str,
                      at: datetime) -> Callable[[], None]:
        period = month.strftime("%Y-%m")
        return lambda: account.record_revenue(period, Money(mrr, currency), at, self.actor)

    def _contact_step(self, account: Account, contact: ImportedContact, opened: datetime,
                      counts: dict[str, int], summary: ImportSummary) -> Callable[[], None]:
        def step() -> None:
            try:
                at = self._check_time(max(contact.added_at or opened, opened), "added date")
                account.add_contact(contact.name, contact.email, contact.phone, contact.role,
                                    at, self.actor)
                counts["contact"] += 1
            except (Skip, DomainError) as error:
                summary.reject("contact", contact.origin, contact.key, str(error))
        return step

    def _update_present(self, account: Account, item: ImportedAccount,
                        contacts: list[ImportedContact], summary: ImportSummary) -> None:
        """An account already in the log: add the contacts and revenue it lacks."""
        self._add_contacts_to_present(item.key, contacts, summary)
        spans = [s for s in item.revenue if s.currency == account.currency]
        for month, mrr in monthly_revenue(spans, _month(self.now)):
            period = month.strftime("%Y-%m")
            if account.revenue.get(period) == mrr:
                summary.tallies["revenue"].present += 1
                continue
            at = _midnight(month)
            account.record_revenue(period, Money(mrr, account.currency), at, self.actor)
            summary.tallies["revenue"].updated += 1
        if item.churned_at is not None and not account.churned:
            account.churn(item.churn_reason, self._check_time(item.churned_at, "churn date"),
                          self.actor)
        if account.pending_events and not self._save([account]):
            self._accounts.pop(item.key, None)

    def _add_contacts_to_present(self, key: str, contacts: list[ImportedContact],
                                 summary: ImportSummary) -> None:
        account = self._account(key)
        assert account is not None
        for contact in contacts:
            contact_id = Account.contact_id(account.id, contact.email)
            if str(contact_id) in account.contacts:
                summary.tallies["contact"].present += 1
                continue
            try:
                at = self._check_time(contact.added_at or self.now, "added date")
                account.add_contact(contact.name, contact.email, contact.phone, contact.role,
                                    at, self.actor)
                summary.tallies["contact"].updated += 1
            except (Skip, DomainError) as error:
                summary.reject("contact", contact.origin, contact.key, str(error))
        if account.pending_events and not self._save([account]):
            self._accounts.pop(key, None)

    # Tickets and survey answers ------------------------------------------------------------

    def _build_ticket(self, ticket: ImportedTicket, summary: ImportSummary) -> Built:
        account = self._account(ticket.account_key)
        if account is None:
            raise Skip(f"account {ticket.account_key} is neither imported nor present")
        opened = self._check_time(ticket.opened_at, "opened")
        channel = enum_value(Channel, ticket.channel, "channel")
        priority = enum_value(Priority, ticket.priority, "priority")
        contact_id = None
        if ticket.requester_email:
            candidate = Account.contact_id(account.id, ticket.requester_email)
            contact_id = candidate if str(candidate) in account.contacts else None
        opening_id = Interaction.id_for(account.id, channel, Direction.INBOUND.value,
                                        ticket.key)
        case_id = Case.id_for(opening_id)
        sla = Case.sla_terms(plan_for(Tier(account.tier)).targets[Priority(priority)],
                             account.calendar())
        first_due, resolution_due = Case.due_times(sla, priority, opened)
        case = Case(id=case_id, account_id=account.id, channel=channel,
                    subject=clean_name(ticket.subject, "subject", MAX_SUBJECT),
                    topic=clean_name(ticket.topic, "topic", 100) if ticket.topic else None,
                    priority=priority, line=1, contact_id=contact_id,
                    opening_interaction_id=opening_id, first_response_due=first_due,
                    resolution_due=resolution_due, occurred_at=opened, actor=self.actor,
                    sla=sla)
        opening = Interaction(
            id=opening_id, account_id=account.id, case_id=case_id, channel=channel,
            direction=Direction.INBOUND.value, external_id=ticket.key,
            sender=clean_name(ticket.requester_email or account.name, "sender"),
            contact_id=contact_id, text=clean_text(ticket.text), channel_allowed=True,
            occurred_at=opened, actor=self.actor)
        made: list[Aggregate] = [case, opening]
        agent = ticket.agent or f"{self.actor.rsplit(':', 1)[-1]} agent"
        steps: list[tuple[datetime, int, Callable[[], None]]] = []
        replies = [m for m in ticket.messages if not m.inbound]
        if replies:
            for message in ticket.messages:
                steps.append((message.sent_at, 1, self._message_step(
                    case, account, channel, message.key, message.inbound,
                    message.author or agent, message.text, message.sent_at, made, summary,
                    message.origin)))
        elif ticket.first_response_at is not None:
            steps.append((ticket.first_response_at, 1, self._message_step(
                case, account, channel, f"{ticket.key}/first-response", False, agent,
                "First response (imported; the text was not exported).",
                ticket.first_response_at, made, summary, ticket.origin)))
        if ticket.escalated_at is not None:
            at = ticket.escalated_at
            steps.append((at, 2, lambda: case.escalate(2, None, "escalated in the source system",
                                                       at, self.actor)))
        if ticket.resolved_at is not None:
            resolved_at = ticket.resolved_at
            steps.append((resolved_at, 3, lambda: self._resolve(case, resolved_at)))
        if ticket.closed_at is not None:
            closed_at = ticket.closed_at
            steps.append((closed_at, 4, lambda: case.close(closed_at, self.actor)))
        for at, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
            self._check_time(at, "a ticket time")
            if at < opened:
                raise Skip(f"{at.isoformat()} is before the ticket was opened")
            step()
        rated = ticket.csat is not None and self._rate(case, ticket, summary)
        return Built(ticket, made, {"message": len(made) - 1, "rating": int(rated)})

    def _message_step(self, case: Case, account: Account, channel: str, key: str,
                      inbound: bool, author: str, text: str, at: datetime,
                      made: list[Aggregate], summary: ImportSummary,
                      origin: Origin) -> Callable[[], None]:
        def step() -> None:
            if case.status == "closed":
                summary.reject("message", origin, key, "sent after the ticket was closed")
                return
            direction = Direction.INBOUND.value if inbound else Direction.OUTBOUND.value
            interaction = Interaction(
                id=Interaction.id_for(account.id, channel, direction, key),
                account_id=account.id, case_id=case.id, channel=channel, direction=direction,
                external_id=key, sender=clean_name(author or account.name, "sender"),
                contact_id=None, text=clean_text(text), channel_allowed=True, occurred_at=at,
                actor=self.actor)
            if not inbound:
                case.reply(interaction.id, clean_name(author, "agent"), channel, at, self.actor)
            made.append(interaction)
        return step

    def _resolve(self, case: Case, at: datetime) -> None:
        if case.escalated:
            case.resolve_escalation("", at, self.actor)
        case.resolve("", at, self.actor)

    def _rate(self, case: Case, ticket: ImportedTicket, summary: ImportSummary) -> bool:
        """A rating that cannot be kept is reported on its own; the ticket still lands."""
        at = ticket.rated_at or ticket.closed_at or ticket.resolved_at or ticket.opened_at
        try:
            if not case.ever_resolved:
                raise Skip("the ticket was rated but never resolved")
            self._check_time(at, "rated")
            case.rate(ticket.csat or 0, ticket.csat_comment, max(at, case.opened_at), self.actor)
        except (Skip, DomainError) as error:
            summary.reject("rating", ticket.origin, ticket.key, str(error))
            return False
        return True

    def _build_nps(self, item: ImportedNps, summary: ImportSummary) -> Built:
        account = self._account(item.account_key)
        if account is None:
            raise Skip(f"account {item.account_key} is neither imported nor present")
        contact_id = Account.contact_id(account.id, item.email)
        if str(contact_id) not in account.contacts:
            raise Skip(f"{item.email} is not a contact of the account")
        return Built(item, [SurveyResponse(
            id=SurveyResponse.id_for(account.id, contact_id, clean_name(item.survey, "survey")),
            account_id=account.id, contact_id=contact_id, score=check_score(item.score),
            comment=clean_comment(item.comment),
            occurred_at=self._check_time(item.answered_at, "answered"), actor=self.actor)])

    # Saving ----------------------------------------------------------------------------

    def _write_batches(self, kind: str, items: list[Any],
                       build: Callable[[Any, ImportSummary], Built | None],
                       summary: ImportSummary) -> None:
        """Build chunks of items and save each in one transaction; `build` returning None
        means the item was already present and has been dealt with.

        One writer thread saves a chunk while the next is built: the database's share of the
        work (and the socket waits) overlap with building aggregates. Chunks are saved in
        order, and all of them before this returns.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
            in_flight: deque[tuple[Future[list[bool]], list[Built], int]] = deque()
            for start in range(0, len(items), self.batch_size):
                chunk = items[start:start + self.batch_size]
                built = self._build_chunk(kind, chunk, build, summary)
                if self.dry_run:
                    stored = [not self.desk_has(entry.aggregates[0].id) for entry in built]
                    self._settle(kind, built, stored, len(chunk), summary)
                    continue
                in_flight.append((writer.submit(self._store_chunk, built), built, len(chunk)))
                while len(in_flight) > 1:
                    future, done, count = in_flight.popleft()
                    self._settle(kind, done, future.result(), count, summary)
            while in_flight:
                future, done, count = in_flight.popleft()
                self._settle(kind, done, future.result(), count, summary)

    @staticmethod
    def _build_chunk(kind: str, chunk: list[Any],
                     build: Callable[[Any, ImportSummary], Built | None],
                     summary: ImportSummary) -> list[Built]:
        built: list[Built] = []
        for item in chunk:
            try:
                made = build(item, summary)
            except (Skip, DomainError) as error:
                summary.reject(kind, item.origin, item.key, str(error))
                continue
            if made is not None:
                made.collect()
                built.append(made)
        return built

    def _store_chunk(self, built: list[Built]) -> list[bool]:
        """Whether each item was stored: all in one transaction, or (when something is
        already there) one at a time."""
        if self._store([e for entry in built for e in entry.events]):
            return [True] * len(built)
        return [self._store(entry.events) for entry in built]

    def _settle(self, kind: str, built: list[Built], stored: list[bool], count: int,
                summary: ImportSummary) -> None:
        for entry, created in zip(built, stored, strict=True):
            if created:
                self._count_created(kind, [entry], summary)
            else:
                summary.tallies[kind].present += 1
                self._forget(entry)
        self._advance(count)

    def _forget(self, entry: Built) -> None:
        if isinstance(entry.item, ImportedAccount):
            self._accounts.pop(entry.item.key, None)

    @staticmethod
    def _count_created(kind: str, built: list[Built], summary: ImportSummary) -> None:
        for entry in built:
            summary.tallies[kind].created += 1
            for other, count in entry.extra.items():
                summary.tallies[other].created += count

    def _store(self, events: list[DomainEventProtocol[UUID]]) -> bool:
        """Store events of many aggregates in one transaction; False when one is present."""
        if not events:
            return True
        try:
            self.desk.save_events(events)
        except IntegrityError:
            return False
        return True

    def _save(self, aggregates: list[Aggregate]) -> bool:
        """Save together; False when one of them already exists (nothing is written then)."""
        if not aggregates:
            return True
        if self.dry_run:
            for aggregate in aggregates:
                aggregate.collect_events()
            return True
        try:
            self.desk.save(*aggregates)
        except IntegrityError:
            return False
        return True
