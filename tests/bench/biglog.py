"""Builds a large, realistic CareDesk log fast: real aggregates and events, saved in batches.

Filling a million events through single commands takes hours on PostgreSQL. Here the same
aggregates CareDesk makes (Account, Case, Interaction, built the way its commands build them,
changed through their own domain methods and guards) are held in memory and saved with one
`desk.save(...)` per simulated day, so each transaction carries ~1,000 events.

The simulation: a few hundred accounts with log-normal MRR (tiers follow revenue), monthly
revenue, the odd tier change, new manager, new contact and churn; about a hundred cases a day
spread over the accounts by tier, each with its own plan (assignment, replies on the case's
channel, client follow-ups, escalations, resolution, reopening, rating, auto-close) executed
in time order. A case's events land in the log on the day they happen, so the log interleaves
many cases as a live system's would. Everything derives from the seed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from api.demo import AGENTS, MANAGERS
from domain.account import Account
from domain.application import CareDesk
from domain.business_calendar import default_calendar
from domain.case import Case
from domain.interaction import Interaction
from domain.service_plans import plan_for
from domain.values import Channel, Money, Priority, Tier

# Bump when the simulation changes in a way the source hash below would not notice.
GENERATOR_VERSION = 1
EVENTS_PER_CASE = 10.5  # measured average, used only to size the simulated period
ACTOR = "system:bench"

_ROOT = Path(__file__).resolve().parents[2]
_FINGERPRINTED = (
    Path(__file__),
    _ROOT / "domain" / "account.py",
    _ROOT / "domain" / "case.py",
    _ROOT / "domain" / "interaction.py",
    _ROOT / "domain" / "values.py",
    _ROOT / "domain" / "service_plans.py",
)

_NAMES = ["Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme",
          "Hooli", "Vandelay", "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Oscorp", "Wonka",
          "Monarch", "Blue Sun", "Gekko", "Nakatomi", "Virtucon", "Dunder"]
_TRADES = ["Logistics", "Retail", "Health", "Energy", "Foods", "Systems", "Bank", "Media",
           "Telecom", "Insurance", "Pharma", "Motors"]
_PEOPLE = ["Alex Smith", "Sam Novak", "Maria Garcia", "John Müller", "Yuki Tanaka",
           "Omar Haddad", "Sofia Rossi", "Lars Jensen", "Ines Silva", "Mei Chen", "Raj Patel"]
_ROLES = ["champion", "executive_sponsor", "billing", "user", "user"]
_TOPICS = {
    "billing": ["Invoice shows the wrong amount", "Payment failed this month"],
    "login": ["Users cannot log in", "Password reset e-mail never arrives"],
    "integration": ["API returns 500 on order sync", "Webhook deliveries are delayed"],
    "performance": ["Dashboard is very slow since Monday", "Reports time out"],
    "feature": ["Can we get bulk edit for orders?", "Request: audit log export"],
    "onboarding": ["New team members need training", "How do we set up roles?"],
    "outage": ["Service unavailable for our users", "Errors on checkout page"],
}
_TOPIC_NAMES = list(_TOPICS)
_CHANNEL_WEIGHT = {Channel.EMAIL: 40, Channel.PORTAL: 15, Channel.WEB_CHAT: 15,
                   Channel.TELEGRAM: 12, Channel.PHONE: 10, Channel.WEB_FORM: 6, Channel.API: 2}
_TIER_CASE_WEIGHT = {Tier.VIP: 3.0, Tier.ENTERPRISE: 2.0, Tier.BUSINESS: 1.0, Tier.STANDARD: 0.4}
_PRIORITIES = list(Priority)
_PRIORITY_WEIGHTS = [5, 20, 60, 15]


def fingerprint() -> str:
    """Changes whenever the generator or the aggregates it builds change."""
    digest = hashlib.sha256(f"v{GENERATOR_VERSION}".encode())
    for path in _FINGERPRINTED:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class LogSummary:
    events: int = 0
    accounts: int = 0
    cases: int = 0
    interactions: int = 0
    saves: int = 0
    days: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class _Client:
    index: int
    account: Account
    tier: Tier
    mrr: Decimal
    contacts: list[tuple[UUID, str]]
    churn_on: date | None
    channels: list[Channel]
    channel_cum: list[float]


@dataclass
class _Flow:
    """One case being worked, with what happens next."""

    client: _Client
    case: Case
    topic: str
    agent: str
    ref: str
    replies: int = 0


Progress = Callable[[int, int], None]


class BigLogWriter:
    """Writes roughly `target_events` events into `desk`; see the module docstring."""

    def __init__(self, desk: CareDesk, *, accounts: int = 400, cases_per_day: float = 100.0,
                 seed: int = 11, until: date = date(2026, 3, 1)) -> None:
        self.desk = desk
        self.accounts = accounts
        self.cases_per_day = cases_per_day
        self.seed = seed
        self.until = until
        self.rng = random.Random(seed)
        self.summary = LogSummary()
        self._heap: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._ids = itertools.count()
        self._touched: dict[int, Aggregate] = {}
        self._clients: list[_Client] = []
        self._active: list[_Client] = []
        self._active_cum: list[float] = []

    @property
    def clients(self) -> list[_Client]:
        """Every account made, with its aggregate (as saved) and its contacts."""
        return list(self._clients)

    # Driving ------------------------------------------------------------------------------

    def write(self, target_events: int, progress: Progress | None = None) -> LogSummary:
        started = time.perf_counter()
        days = max(30, math.ceil(target_events / (self.cases_per_day * EVENTS_PER_CASE)))
        start = self.until - timedelta(days=days)
        self._open_accounts(start)
        day = start
        while self.summary.events < target_events:
            self._run_day(day)
            day += timedelta(days=1)
            self.summary.days += 1
            if progress is not None:
                progress(self.summary.events, target_events)
        self.summary.seconds = time.perf_counter() - started
        self.summary.extra["first_day"] = start.isoformat()
        self.summary.extra["last_day"] = (day - timedelta(days=1)).isoformat()
        return self.summary

    def _save(self) -> None:
        if not self._touched:
            return
        recordings = self.desk.save(*self._touched.values())
        self._touched.clear()
        self.summary.events += len(recordings)
        self.summary.saves += 1

    def _touch(self, aggregate: Aggregate) -> None:
        self._touched.setdefault(id(aggregate), aggregate)

    def _at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action, args))

    def _run_day(self, day: date) -> None:
        rng = self.rng
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = begin + timedelta(days=1)
        if day.day == 1:
            self._month(day, begin)
        for client in [c for c in self._active if c.churn_on == day]:
            self._at(begin + timedelta(hours=17), self._churn, client)
        if day.weekday() < 5:  # clients write on working days
            lam = self.cases_per_day * 7 / 5
            for _ in range(_poisson(rng, lam)):
                client = rng.choices(self._active, cum_weights=self._active_cum)[0]
                opened = begin + timedelta(hours=7, minutes=rng.randrange(0, 660))
                self._at(opened, self._open_case, client)
        while self._heap and self._heap[0][0] < end:
            when, _, action, args = heapq.heappop(self._heap)
            action(when, *args)
        self._save()

    # Accounts -----------------------------------------------------------------------------

    def _open_accounts(self, start: date) -> None:
        rng = self.rng
        mrrs = sorted((Decimal(round(rng.lognormvariate(7.6, 1.25), 2))
                       for _ in range(self.accounts)), reverse=True)
        n = self.accounts
        for i, mrr in enumerate(mrrs):
            tier = (Tier.VIP if i < n * 0.05 else Tier.ENTERPRISE if i < n * 0.2
                    else Tier.BUSINESS if i < n * 0.45 else Tier.STANDARD)
            name = f"{_NAMES[i % len(_NAMES)]} {_TRADES[(i // len(_NAMES)) % len(_TRADES)]}"
            if i >= len(_NAMES) * len(_TRADES):
                name += f" {i // (len(_NAMES) * len(_TRADES)) + 1}"
            opened = datetime(start.year, start.month, start.day, 9, tzinfo=UTC) - timedelta(
                days=rng.randrange(30, 900))
            account = Account(
                id=Account.id_for(f"bench-{self.seed}-{i}"), name=name, tier=tier.value,
                manager=MANAGERS[i % len(MANAGERS)], currency="EUR", occurred_at=opened,
                actor=ACTOR)
            domain = name.lower().replace(" ", "") + ".example"
            contacts = []
            for k, role in enumerate(_ROLES[: rng.randint(2, 5)]):
                person = rng.choice(_PEOPLE)
                contact_id = account.add_contact(
                    person, f"{person.split()[0]}.{k}@{domain}".lower(), f"+49 30 {i:05d}{k}",
                    role, opened + timedelta(hours=k), ACTOR)
                contacts.append((contact_id, person))
            churn_on = None
            if tier in (Tier.BUSINESS, Tier.STANDARD) and rng.random() < 0.06:
                churn_on = start + timedelta(days=rng.randrange(60, 2000))
            channels = [c for c in _CHANNEL_WEIGHT if plan_for(tier).allows(c)]
            client = _Client(i, account, tier, mrr, contacts, churn_on, channels,
                             list(itertools.accumulate(_CHANNEL_WEIGHT[c] for c in channels)))
            self._clients.append(client)
            self._touch(account)
        self.summary.accounts = len(self._clients)
        self._active = list(self._clients)
        self._reweigh()
        self._save()

    def _reweigh(self) -> None:
        self._active_cum = list(itertools.accumulate(
            _TIER_CASE_WEIGHT[c.tier] for c in self._active))

    def _month(self, day: date, begin: datetime) -> None:
        rng = self.rng
        period = f"{day.year:04d}-{day.month:02d}"
        for client in self._active:
            if rng.random() < 0.04:
                client.mrr *= Decimal("1.2")
            elif rng.random() < 0.03:
                client.mrr *= Decimal("0.85")
            at = begin + timedelta(hours=6, seconds=client.index)
            self._at(at, self._revenue, client, period)
            if rng.random() < 0.01:
                self._at(at + timedelta(hours=4), self._new_manager, client)
            if rng.random() < 0.03:
                self._at(at + timedelta(hours=5), self._new_contact, client)
            if rng.random() < 0.01:
                self._at(at + timedelta(hours=6), self._retier, client)
            self._at(at + timedelta(hours=7), self._health_signals, client, day)

    def _health_signals(self, at: datetime, client: _Client, day: date) -> None:
        """A month of what key-account health reads beside cases: a touchpoint, usage, an
        invoice paid (now and then late), and the manager's renewal risk when it turns."""
        rng, account = self.rng, client.account
        if account.churned:
            return
        sponsor = [c for c, _ in client.contacts if account.contacts[str(c)]["active"]
                   and account.contacts[str(c)]["role"] == "executive_sponsor"]
        account.log_touchpoint(rng.choice(["meeting", "call"]), rng.random() < 0.8,
                               sponsor[:1] if rng.random() < 0.4 else [], "", at, ACTOR)
        seats = 20 + client.index % 80
        account.report_usage(int(seats * rng.uniform(0.35, 0.95)), seats, at, ACTOR)
        invoice = account.issue_invoice(f"B{day.isoformat()}", Money(
            client.mrr.quantize(Decimal("0.01")), "EUR"), day + timedelta(days=30), at, ACTOR)
        late = rng.choice([0, 0, 0, 5, 20, 75])
        paid = at + timedelta(days=25 + late)
        self._at(paid, self._paid, client, invoice)
        if rng.random() < 0.05:
            level = rng.choice(["none", "early_warning", "at_risk"])
            if level != account.renewal_risk:
                account.set_renewal_risk(level, "", at, "staff:manager")
        self._touch(account)

    def _paid(self, at: datetime, client: _Client, invoice: UUID) -> None:
        if not client.account.churned and not client.account.invoices[str(invoice)]["paid"]:
            client.account.mark_invoice_paid(invoice, at, ACTOR)
            self._touch(client.account)

    def _revenue(self, at: datetime, client: _Client, period: str) -> None:
        client.account.record_revenue(
            period, Money(client.mrr.quantize(Decimal("0.01")), "EUR"), at, ACTOR)
        self._touch(client.account)

    def _new_manager(self, at: datetime, client: _Client) -> None:
        current = client.account.manager
        manager = self.rng.choice([m for m in MANAGERS if m != current])
        client.account.assign_manager(manager, at, "staff:admin")
        self._touch(client.account)

    def _new_contact(self, at: datetime, client: _Client) -> None:
        person = self.rng.choice(_PEOPLE)
        n = next(self._ids)
        contact_id = client.account.add_contact(
            person, f"{person.split()[0]}.{n}@client{client.index}.example".lower(), None,
            "user", at, ACTOR)
        client.contacts.append((contact_id, person))
        self._touch(client.account)

    def _retier(self, at: datetime, client: _Client) -> None:
        tiers = list(Tier)
        k = tiers.index(client.tier)
        client.tier = tiers[k + 1] if k + 1 < len(tiers) and self.rng.random() < 0.5 else (
            tiers[k - 1] if k > 0 else tiers[k + 1])
        client.account.change_tier(client.tier.value, at, ACTOR)
        client.channels = [c for c in _CHANNEL_WEIGHT if plan_for(client.tier).allows(c)]
        client.channel_cum = list(itertools.accumulate(
            _CHANNEL_WEIGHT[c] for c in client.channels))
        self._reweigh()
        self._touch(client.account)

    def _churn(self, at: datetime, client: _Client) -> None:
        client.account.churn("Moved to a competitor", at, ACTOR)
        self._touch(client.account)
        self._active = [c for c in self._active if c is not client]
        self._reweigh()

    # Cases --------------------------------------------------------------------------------

    def _message(self, at: datetime, client: _Client, case_id: UUID | None, channel: str,
                 direction: str, sender: str, contact_id: UUID | None, text: str,
                 allowed: bool = True, actor: str = ACTOR) -> Interaction:
        external_id = f"bench-{self.seed}-m{next(self._ids)}"
        interaction = Interaction(
            id=Interaction.id_for(account_id=client.account.id, channel=channel,
                                  direction=direction, external_id=external_id),
            account_id=client.account.id,
            case_id=case_id, channel=channel, direction=direction, external_id=external_id,
            sender=sender, contact_id=contact_id, text=text, channel_allowed=allowed,
            occurred_at=at, actor=actor)
        self._touch(interaction)
        self.summary.interactions += 1
        return interaction

    def _open_case(self, at: datetime, client: _Client) -> None:
        rng = self.rng
        if client.account.churned:
            return
        contact_id, person = rng.choice(client.contacts)
        if rng.random() < 0.02:  # a message on a channel the plan lacks: recorded, refused
            lacking = [c for c in Channel if c not in client.channels]
            if lacking:
                self._message(at, client, None, rng.choice(lacking).value, "inbound", person,
                              contact_id, "Hi, can you call me back about our account?",
                              allowed=False)
                return
        channel = rng.choices(client.channels, cum_weights=client.channel_cum)[0].value
        topic = rng.choice(_TOPIC_NAMES)
        priority = (Priority.URGENT if topic == "outage"
                    else rng.choices(_PRIORITIES, _PRIORITY_WEIGHTS)[0])
        subject = rng.choice(_TOPICS[topic])
        external_id = f"bench-{self.seed}-c{next(self._ids)}"
        message_id = Interaction.id_for(account_id=client.account.id, channel=channel,
                                        direction="inbound", external_id=external_id)
        sla = Case.sla_terms(plan_for(client.tier).targets[priority],
                             default_calendar(client.tier))
        first_due, resolution_due = Case.due_times(sla, priority.value, at)
        case = Case(
            id=Case.id_for(message_id), account_id=client.account.id, channel=channel,
            subject=subject, topic=topic, priority=priority.value, line=1, contact_id=contact_id,
            opening_interaction_id=message_id, first_response_due=first_due,
            resolution_due=resolution_due, occurred_at=at, actor=ACTOR, sla=sla)
        self._touch(case)
        interaction = Interaction(
            id=message_id, account_id=client.account.id, case_id=case.id, channel=channel,
            direction="inbound", external_id=external_id, sender=person, contact_id=contact_id,
            text=f"Hello, {subject.lower()}. Can you help? Regards, {person}",
            channel_allowed=True, occurred_at=at, actor=ACTOR)
        self._touch(interaction)
        self.summary.cases += 1
        self.summary.interactions += 1
        agent = AGENTS[rng.randrange(len(AGENTS))]
        flow = _Flow(client, case, topic, agent, external_id)
        self._plan(flow, at, priority)

    def _plan(self, flow: _Flow, opened: datetime, priority: Priority) -> None:
        rng = self.rng
        t = opened + timedelta(minutes=rng.randrange(1, 30))
        self._at(t, self._assign, flow)
        target = plan_for(flow.client.tier).targets[priority].first_response
        factor = rng.uniform(0.1, 0.9) if rng.random() > 0.12 else rng.uniform(1.1, 3.0)
        t = max(t, opened + target * factor)
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            self._at(t, self._reply, flow)
            if rng.random() < 0.5:
                self._at(t + timedelta(minutes=rng.randrange(20, 300)), self._follow_up, flow)
            t += timedelta(hours=rng.uniform(5.5, 20))
        if rng.random() < 0.15:
            self._at(t, self._escalate, flow)
            t += timedelta(hours=rng.uniform(2, 48))
            self._at(t, self._end_escalation, flow)
        t += timedelta(hours=rng.uniform(0.5, 24))
        self._at(t, self._resolve, flow, "Answered")
        if rng.random() < 0.05:
            t += timedelta(days=1)
            self._at(t, self._reopen, flow)
            t += timedelta(hours=4)
            self._at(t, self._resolve, flow, "Fixed for good")
        if rng.random() < 0.45:
            t += timedelta(hours=2)
            self._at(t, self._rate, flow, rng.choices((1, 2, 3, 4, 5), (4, 6, 12, 33, 45))[0])
        if rng.random() < 0.8:
            self._at(t + timedelta(days=3), self._close, flow)

    def _assign(self, at: datetime, flow: _Flow) -> None:
        flow.case.assign(flow.agent, at, f"staff:{flow.agent}")
        self._touch(flow.case)

    def _reply(self, at: datetime, flow: _Flow) -> None:
        case, actor = flow.case, f"staff:{flow.agent}"
        text = (f"Thanks for reaching out about {flow.topic}. We are looking into it now."
                if flow.replies == 0 else
                "We have an update: the fix is in place. Could you confirm it works for you?")
        interaction = self._message(at, flow.client, case.id, case.channel, "outbound",
                                    flow.agent, None, text, actor=actor)
        case.reply(interaction.id, flow.agent, case.channel, at, actor)
        flow.replies += 1
        self._touch(case)

    def _follow_up(self, at: datetime, flow: _Flow) -> None:
        contact_id, person = self.rng.choice(flow.client.contacts)
        self._message(at, flow.client, flow.case.id, flow.case.channel, "inbound", person,
                      contact_id, "Thanks, one more detail: it also happens for our EU team.")

    def _escalate(self, at: datetime, flow: _Flow) -> None:
        department = ("engineering" if flow.topic in ("integration", "outage", "performance")
                      else None)
        flow.case.escalate(2, department, "Needs a specialist", at, f"staff:{flow.agent}")
        self._touch(flow.case)

    def _end_escalation(self, at: datetime, flow: _Flow) -> None:
        flow.case.resolve_escalation("Fixed by line 2", at, "staff:line2")
        self._touch(flow.case)

    def _resolve(self, at: datetime, flow: _Flow, resolution: str) -> None:
        flow.case.resolve(resolution, at, f"staff:{flow.agent}")
        self._touch(flow.case)

    def _reopen(self, at: datetime, flow: _Flow) -> None:
        flow.case.reopen("Still happening", at, ACTOR)
        self._touch(flow.case)

    def _rate(self, at: datetime, flow: _Flow, csat: int) -> None:
        flow.case.rate(csat, None, at, ACTOR)
        self._touch(flow.case)

    def _close(self, at: datetime, flow: _Flow) -> None:
        flow.case.close(at, "system:auto-close")
        self._touch(flow.case)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:  # normal approximation; exact sampling is slow for large means
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
