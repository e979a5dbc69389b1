"""Realistic demo data, written through the same CareDesk commands a user would call.

Revenue is spread like real B2B (a few large accounts, many small), tiers follow revenue, and a
year of cases arrives on every channel the plans allow, with replies, escalations, resolutions,
ratings and the occasional message on a channel the client's plan lacks.

Each account follows a hidden trajectory (thriving, steady, slipping, at risk, churning,
recovering): a quality between 0 and 1 that moves over the year and drives every signal the
key-account health model reads. Good accounts answer surveys well, get quick answers, meet
their manager often (the executive sponsor now and then), use most of their seats, pay on time
and grow; accounts going bad open more cases, wait longer, escalate, go quiet, pay late, ask to
pay less, lose their champion, and their manager flags the renewal; a few give notice and churn;
recovering ones climb back after a new champion is named.

Everything derives from the seed and the end date, and ids come from them, so running it twice
adds nothing: an account that exists already is left as it is.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Cache
from eventsourcing.domain import MutableOrImmutableAggregate

from domain.account import Account
from domain.application import CareDesk, CommandResult, RefusedChannelError
from domain.service_plans import plan_for
from domain.values import Channel, Money, Priority, Tier

_PREFIXES = ["Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme",
             "Hooli", "Vandelay", "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Oscorp",
             "Wonka", "Gringotts", "Monarch", "Pied Piper", "Massive Dynamic", "Blue Sun",
             "Gekko", "Nakatomi", "Virtucon", "Dunder"]
_SUFFIXES = ["Logistics", "Retail", "Health", "Energy", "Foods", "Systems", "Bank", "Media",
             "Telecom", "Insurance", "Pharma", "Motors"]
MANAGERS = ["Anna Berg", "Ben Okafor", "Chloe Martin", "David Kim", "Elena Rossi",
             "Farid Haddad", "Grace Liu", "Hugo Lambert"]
AGENTS = ["Ivy", "Jonas", "Kemal", "Lena", "Marco", "Nadia", "Oskar", "Priya", "Quentin", "Rosa"]
_FIRST = ["Alex", "Sam", "Maria", "John", "Yuki", "Omar", "Sofia", "Lars", "Ines", "Tom",
          "Mei", "Raj", "Eva", "Paul", "Zoe", "Ali"]
_LAST = ["Smith", "Novak", "Garcia", "Müller", "Tanaka", "Haddad", "Rossi", "Jensen",
         "Silva", "Brown", "Chen", "Patel", "Keller", "Dubois", "Evans", "Ivanova"]
_TOPICS = {
    "billing": ["Invoice shows the wrong amount", "Question about our last invoice",
                "Please update our billing address", "Payment failed this month"],
    "login": ["Users cannot log in", "Password reset e-mail never arrives",
              "SSO login loops back to the start page"],
    "integration": ["API returns 500 on order sync", "Webhook deliveries are delayed",
                    "Export to our ERP is missing fields"],
    "performance": ["Dashboard is very slow since Monday", "Reports time out for large ranges"],
    "feature": ["Can we get bulk edit for orders?", "Request: audit log export",
                "Is there a way to schedule reports?"],
    "onboarding": ["New team members need training", "How do we set up roles?"],
    "outage": ["Service unavailable for our users", "Errors on checkout page"],
}
# Knowledge base: (title, body, language, topic, visibility, plans).
_ARTICLES = [
    ("Resetting a password", "If the password reset e-mail does not arrive within five "
     "minutes, check the spam folder, then ask your administrator to resend the invitation "
     "from Settings > Users.", "en", "login", "public", []),
    ("Signing in with SSO", "SSO loops back to the start page when the identity provider's "
     "clock is off or the redirect URL is missing. Check both under Settings > Security.",
     "en", "login", "plans", [Tier.VIP.value, Tier.ENTERPRISE.value]),
    ("Understanding your invoice", "Each invoice lists seats per month. Amounts change when "
     "seats are added mid-month; the difference is prorated by day.", "en", "billing",
     "public", []),
    ("Rechnung verstehen", "Jede Rechnung listet die Plätze pro Monat. Werden Plätze im "
     "laufenden Monat hinzugefügt, wird die Differenz tageweise berechnet.", "de", "billing",
     "public", []),
    ("Как сбросить пароль", "Если письмо для сброса пароля не пришло за пять минут, проверьте "  # noqa: RUF001 (Russian)
     "папку «Спам» и попросите администратора отправить приглашение ещё раз.", "ru", "login",
     "public", []),
    ("Setting up roles for a new team", "Create a role under Settings > Roles, then invite "
     "people to it. Onboarding sessions can be booked with your manager.", "en", "onboarding",
     "public", []),
    ("Escalating a failed payment", "Internal: retry the charge once, then hand the account "
     "to the manager with the card-issuer's reason.", "en", "billing", "internal", []),
]
_FEATURE_AREAS = {"Can we get bulk edit for orders?": "Orders",
                  "Request: audit log export": "Security",
                  "Is there a way to schedule reports?": "Reporting"}
_CHANNEL_WEIGHT = {Channel.EMAIL: 40, Channel.PORTAL: 15, Channel.WEB_CHAT: 15,
                   Channel.TELEGRAM: 12, Channel.PHONE: 10, Channel.WEB_FORM: 6, Channel.API: 2}
_CASES_PER_MONTH = {Tier.VIP: 3.0, Tier.ENTERPRISE: 2.0, Tier.BUSINESS: 1.0, Tier.STANDARD: 0.4}
# Days between touchpoints with a healthy account; a souring one hears from its manager less.
_TOUCH_DAYS = {Tier.VIP: 13.0, Tier.ENTERPRISE: 17.0, Tier.BUSINESS: 26.0, Tier.STANDARD: 32.0}
_USAGE_EVERY = timedelta(days=27)  # inside the model's 28-day window for seat utilisation
_ACTOR = "system:demo"
_SLA_CLOCK = "system:sla-clock"
_BILLING = "system:billing"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Progress = Callable[[int, int], None]


class Trajectory(StrEnum):
    """The hidden course of an account over the year; it drives every signal it sends."""

    THRIVING = "thriving"
    STEADY = "steady"
    SLIPPING = "slipping"
    AT_RISK = "at_risk"
    CHURNING = "churning"
    RECOVERING = "recovering"


_TRAJECTORY_WEIGHT = {Trajectory.THRIVING: 17, Trajectory.STEADY: 30, Trajectory.SLIPPING: 20,
                      Trajectory.AT_RISK: 13, Trajectory.CHURNING: 7, Trajectory.RECOVERING: 13}
_CHURN_REASONS = ["Moved to a competitor", "Budget cut after a reorganisation",
                  "Consolidated onto their parent company's platform",
                  "Project cancelled; no longer needs the service"]


@dataclass
class DemoSummary:
    accounts: int = 0
    cases: int = 0
    interactions: int = 0
    refused: int = 0
    duplicates: int = 0
    touchpoints: int = 0
    invoices: int = 0
    expansions: int = 0
    contractions: int = 0
    churned: int = 0
    survey_responses: int = 0
    feedback: int = 0
    articles: int = 0
    announcements: int = 0


@dataclass
class _Account:
    id: UUID
    index: int
    name: str
    tier: Tier
    mrr: Decimal
    contacts: list[tuple[UUID, str]]
    churn_at: datetime | None
    rng: random.Random
    existed: bool
    manager: str = ""
    opened: datetime = _EPOCH
    roles: dict[UUID, str] = field(default_factory=dict)
    trajectory: Trajectory = Trajectory.STEADY
    turn: float = 0.5  # where (0..1 of the period) the trajectory bends
    end: float = 1.0  # where the bend is complete (the churn, for churning accounts)
    noise: float = 0.0
    optimistic: bool = False  # a manager who reads the account rosier than it is
    new_logo: bool = False
    champion_left: datetime | None = None
    champion_back: datetime | None = None
    new_champion: UUID | None = None
    steps: list[tuple[datetime, Decimal]] = field(default_factory=list)  # MRR from that time

    @property
    def champion(self) -> UUID | None:
        return next((c for c, role in self.roles.items() if role == "champion"), None)

    @property
    def sponsor(self) -> UUID | None:
        return next((c for c, role in self.roles.items() if role == "executive_sponsor"), None)

    def champion_at(self, at: datetime) -> UUID | None:
        if self.champion_left is None or at < self.champion_left:
            return self.champion
        if self.champion_back is not None and at >= self.champion_back:
            return self.new_champion
        return None

    def contacts_at(self, at: datetime) -> list[tuple[UUID, str]]:
        gone = self.champion if self.champion_left is not None and at >= self.champion_left \
            else None
        return [c for c in self.contacts if c[0] != gone] or self.contacts

    def mrr_at(self, at: datetime) -> Decimal:
        mrr = self.steps[0][1] if self.steps else self.mrr
        for when, value in self.steps:
            if when > at:
                break
            mrr = value
        return mrr


# One command on an account, due at a business time; actions are run in time order.
_Action = tuple[datetime, int, Callable[[], Any]]


def _business_time(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(8, 0), UTC) + timedelta(minutes=rng.randrange(0, 600))


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 before `lo`, 1 after `hi`, linear between."""
    if hi <= lo:
        return 1.0 if x >= lo else 0.0
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _month_start(at: datetime) -> datetime:
    return datetime.combine(at.date().replace(day=1), time(6), UTC)


def _period(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _nothing() -> None:
    return None


class _SeedingCache(Cache[UUID, MutableOrImmutableAggregate[UUID]]):
    """Accounts kept in memory by the repository while the demo seeds them.

    Only accounts are kept: their histories grow long, a case's stays short. Taking an account
    out removes it, and only a save puts it back, so a command whose save fails leaves nothing
    half-applied behind: the next load replays the stored events.
    """

    def get(self, key: UUID, *, evict: bool = False) -> MutableOrImmutableAggregate[UUID]:
        return self.cache.pop(key)  # type: ignore[no-any-return]

    def put(self, key: UUID, value: MutableOrImmutableAggregate[UUID] | None) -> None:
        if isinstance(value, Account):
            self.cache[key] = value


class DemoGenerator:
    def __init__(self, desk: CareDesk, *, accounts: int = 250, months: int = 12, seed: int = 7,
                 until: date | None = None) -> None:
        self.desk = desk
        self.count = accounts
        self.months = months
        self.seed = seed
        self.rng = random.Random(seed)
        self.until = until or datetime.now(UTC).date()
        self.start = self.until - timedelta(days=30 * months)
        self.summary = DemoSummary()
        self._t0 = datetime.combine(self.start, time(0), UTC)
        self._last = datetime.combine(self.until, time(0), UTC)
        self.feedback: dict[str, UUID] = {}
        """Feature requests filed as product feedback, by request."""
        self._forget: Callable[[], None] = _nothing

    def run(self, progress: Progress | None = None) -> DemoSummary:
        repository = self.desk.repository
        if repository.cache is not None:
            return self._run(progress)
        # Seeding sends dozens of commands to each account, and each would replay the whole
        # history of the account first; keep the account in memory between them instead.
        cache = _SeedingCache()
        settings = repository.fastforward, repository.deepcopy_from_cache
        repository.cache, repository.fastforward, repository.deepcopy_from_cache = (
            cache, False, False)  # a save puts the account back; nothing else changes it
        self._forget = cache.cache.clear
        try:
            return self._run(progress)
        finally:
            repository.cache = None
            repository.fastforward, repository.deepcopy_from_cache = settings
            self._forget = _nothing

    def _run(self, progress: Progress | None) -> DemoSummary:
        # Each account is opened right before its story: its history reaches the log together.
        seeded = False
        for n, account in enumerate(self._open_accounts(), start=1):
            seeded = seeded or not account.existed
            if not account.existed:  # one seeded before with this seed is left as it is
                self._story(account)
                self._surveys(account)
                self._forget()
                if account.churn_at is not None:
                    self.desk.churn_account(
                        account_id=account.id, reason=account.rng.choice(_CHURN_REASONS),
                        actor=f"staff:{account.manager}", occurred_at=account.churn_at)
                    self.summary.churned += 1
            if progress is not None:
                progress(n, self.count)
        if seeded:  # a run that found every account seeded before leaves the rest as it is
            self._knowledge_base()
            self._announcements()
        return self.summary

    # Self-service -------------------------------------------------------------------------

    def _knowledge_base(self) -> None:
        """Articles on some of the case topics (the others stay candidates for new ones)."""
        at = self._last - timedelta(days=20)
        for title, body, language, topic, visibility, plans in _ARTICLES:
            article_id = self.desk.draft_article(
                title=title, body=body, language=language, topic=topic, actor=_ACTOR,
                occurred_at=at).ids["articleId"]
            self.desk.publish_article(article_id=article_id, visibility=visibility,
                                      plans=plans, actor=_ACTOR, occurred_at=at)
            self.summary.articles += 1

    def _announcements(self) -> None:
        """A past maintenance window, resolved, and an incident going on now."""
        desk = self.desk
        done = self._last - timedelta(days=10)
        maintenance = desk.publish_announcement(
            kind="maintenance", title="Database upgrade",
            text="The service is read-only on Sunday between 02:00 and 04:00 UTC.",
            starts_at=done, ends_at=done + timedelta(hours=2), services=["Core platform"],
            actor=_ACTOR, occurred_at=done - timedelta(days=3)).ids["announcementId"]
        desk.resolve_announcement(announcement_id=maintenance, actor=_ACTOR,
                                  text="The upgrade is complete.",
                                  occurred_at=done + timedelta(hours=2))
        desk.publish_announcement(
            kind="incident", title="Webhook deliveries delayed",
            text="Webhooks to your systems arrive up to 30 minutes late. Nothing is lost; "
                 "we will post an update within the hour.",
            starts_at=self._last - timedelta(hours=2), services=["Webhooks", "API"],
            plans=[Tier.VIP.value, Tier.ENTERPRISE.value], actor=_ACTOR,
            occurred_at=self._last - timedelta(hours=1))
        self.summary.announcements += 2

    # Accounts and their plan ----------------------------------------------------------------

    def _open_accounts(self) -> Iterator[_Account]:
        rng = self.rng
        # Log-normal MRR: a long tail of small accounts and a few very large ones.
        mrrs = sorted((Decimal(round(rng.lognormvariate(7.6, 1.25), 2)) for _ in range(self.count)),
                      reverse=True)
        span = 30 * self.months
        for i, mrr in enumerate(mrrs):
            tier = (Tier.VIP if i < 20 else Tier.ENTERPRISE if i < 80
                    else Tier.BUSINESS if i < 180 else Tier.STANDARD)
            name = (f"{_PREFIXES[i % len(_PREFIXES)]} {_SUFFIXES[(i // len(_PREFIXES)) % 12]}"
                    + (f" {i // (len(_PREFIXES) * 12) + 1}" if i >= len(_PREFIXES) * 12 else ""))
            own = random.Random(f"{self.seed}-{i}")
            opened = datetime.combine(self.start, time(9), UTC) - timedelta(
                days=own.randrange(45, 600))
            # A few smaller clients signed during the period: new logos, still onboarding.
            new_logo = i >= 100 and span >= 120 and own.random() < 0.06
            if new_logo:
                opened = datetime.combine(self.start, time(9), UTC) + timedelta(
                    days=own.randrange(20, span - 75), minutes=own.randrange(0, 480))
            manager = MANAGERS[i % len(MANAGERS)]
            result = self.desk.open_account(
                name=name, tier=tier.value, manager=manager, currency="EUR",
                actor=_ACTOR, occurred_at=opened, external_ref=f"demo-{self.seed}-{i}")
            account_id = result.ids["accountId"]
            account = _Account(account_id, i, name, tier, mrr, [], None, own, result.duplicate,
                               manager=manager, opened=opened, new_logo=new_logo)
            if not result.duplicate:
                self._contacts(account)
                self._plan(account)
            self.summary.accounts += 0 if result.duplicate else 1
            yield account

    def _contacts(self, account: _Account) -> None:
        rng, i = account.rng, account.index
        domain = re.sub(r"[^a-z0-9]", "", account.name.lower()) + ".example"
        # Mail from anyone at the company reaches its room, not only from known contacts.
        self.desk.set_email_domains(account_id=account.id, domains=[domain], actor=_ACTOR,
                                    occurred_at=account.opened)
        roles = ["champion", "executive_sponsor", "billing", "user", "user"][: rng.randint(2, 5)]
        for k, role in enumerate(roles):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            result = self.desk.add_contact(
                account_id=account.id, name=f"{first} {last}",
                email=f"{first}.{last}.{k}@{domain}".lower(), role=role, actor=_ACTOR,
                phone=f"+49 30 {1000000 + i * 10 + k}",
                occurred_at=account.opened + timedelta(hours=k))
            contact_id = result.ids["contactId"]
            account.contacts.append((contact_id, f"{first} {last}"))
            account.roles[contact_id] = role

    def _plan(self, account: _Account) -> None:
        """Pick the account's hidden trajectory, its bend, its churn and its champion's fate."""
        rng = account.rng
        kinds = list(_TRAJECTORY_WEIGHT)
        trajectory = rng.choices(kinds, [_TRAJECTORY_WEIGHT[k] for k in kinds])[0]
        if account.new_logo and trajectory not in (Trajectory.THRIVING, Trajectory.STEADY):
            trajectory = Trajectory.STEADY
        if account.tier is Tier.VIP and trajectory is Trajectory.CHURNING:
            trajectory = Trajectory.AT_RISK  # the biggest clients rarely leave within a year
        account.trajectory = trajectory
        account.noise = rng.uniform(-0.04, 0.04)
        account.optimistic = rng.random() < 0.08
        if trajectory is Trajectory.SLIPPING:
            account.turn = rng.uniform(0.35, 0.7)
        elif trajectory is Trajectory.AT_RISK:
            account.turn = rng.uniform(0.1, 0.45)
        elif trajectory is Trajectory.CHURNING:
            account.end = rng.uniform(0.45, 0.92)
            account.turn = account.end - rng.uniform(0.25, 0.4)
            account.churn_at = _business_time(rng, self._day(account.end))
        elif trajectory is Trajectory.RECOVERING:
            account.turn = rng.uniform(0.2, 0.45)
            account.end = account.turn + rng.uniform(0.45, 1.2)  # some are not there yet
        else:
            account.turn = rng.uniform(0.0, 1.0)
        self._plan_champion(account)

    def _plan_champion(self, account: _Account) -> None:
        rng, trajectory = account.rng, account.trajectory
        leave: float | None = None
        back_days: int | None = None
        if trajectory in (Trajectory.SLIPPING, Trajectory.AT_RISK, Trajectory.CHURNING):
            if rng.random() < 0.5:
                leave = max(0.03, account.turn + rng.uniform(0.0, 0.15))
                if trajectory is Trajectory.CHURNING:
                    leave = min(leave, account.end - 0.08)
                elif rng.random() < 0.6:
                    back_days = rng.randrange(25, 70)
        elif trajectory is Trajectory.RECOVERING:
            leave = rng.uniform(0.01, max(0.02, account.turn - 0.12))
            back_days = max(7, round((account.turn - leave) * 30 * self.months))
        elif rng.random() < 0.06:
            leave = rng.uniform(0.1, 0.9)
            back_days = rng.randrange(7, 25)
        if leave is None or account.champion is None:
            return
        left = _business_time(rng, self._day(leave))
        if left <= account.opened + timedelta(days=30) or left >= self._last:
            return
        account.champion_left = left
        if back_days is None:
            return
        back = _business_time(rng, left.date() + timedelta(days=back_days))
        if back < self._last and (account.churn_at is None or back < account.churn_at):
            account.champion_back = back

    def _day(self, x: float) -> date:
        return self.start + timedelta(days=round(min(1.0, max(0.0, x)) * 30 * self.months))

    def _quality(self, account: _Account, at: datetime) -> float:
        """How well the relationship goes at `at`, 0 (lost) to 1 (excellent)."""
        x = (at - self._t0) / (self._last - self._t0)
        turn, end = account.turn, account.end
        match account.trajectory:
            case Trajectory.THRIVING:
                q = 0.93
            case Trajectory.STEADY:
                q = 0.84
            case Trajectory.SLIPPING:
                q = 0.84 - 0.36 * _ramp(x, turn, 1.0)
            case Trajectory.AT_RISK:
                q = 0.76 - 0.46 * _ramp(x, turn, 1.0)
            case Trajectory.CHURNING:
                q = 0.74 - 0.52 * _ramp(x, turn, end)
            case Trajectory.RECOVERING:
                q = 0.38 + 0.52 * _ramp(x, turn, end)
        return min(0.98, max(0.05, q + account.noise))

    def _alive(self, account: _Account, at: datetime) -> bool:
        """Whether something may happen on the account at `at` (opened, not churned, past)."""
        return account.opened < at < self._last and (
            account.churn_at is None or at < account.churn_at)

    # The account's year: revenue, usage, billing, touchpoints and the manager's reviews ----

    def _story(self, account: _Account) -> None:
        actions: list[_Action] = []
        self._revenue(account, actions)
        self._usage(account, actions)
        self._billing(account, actions)
        self._champion(account, actions)
        self._touchpoints(account, actions)
        self._reviews(account, actions)
        self._cases(account, actions)
        # In time order, so each account's history reaches the log roughly as it happened.
        actions.sort(key=lambda a: (a[0], a[1]))
        for _, _, act in actions:
            act()

    @staticmethod
    def _add(actions: list[_Action], at: datetime, act: Callable[[], Any]) -> None:
        actions.append((at, len(actions), act))

    def _revenue(self, account: _Account, actions: list[_Action]) -> None:
        """Monthly MRR; thriving accounts expand, souring ones ask to pay less first."""
        rng, mrr = account.rng, account.mrr
        contracted = False
        recorded: Decimal | None = None
        months: set[str] = set()
        for m in range(-1, self.months + 1):  # from the month before: a full year back
            at = _month_start(datetime.combine(self.start + timedelta(days=30 * m), time(6),
                                               UTC))
            if account.churn_at is not None and at >= account.churn_at:
                break
            if at >= self._last:
                break
            if at <= account.opened or _period(at) in months:
                continue  # 30-day steps meet some calendar month twice
            months.add(_period(at))
            if recorded is None and account.new_logo:
                first = account.opened + timedelta(hours=2)
                account.steps.append((first, mrr))
                self._record_mrr(account, actions, first, mrr)
                recorded = mrr
            q = self._quality(account, at)
            trajectory = account.trajectory
            if m > 0 and recorded is not None:
                grow = {Trajectory.THRIVING: 0.1, Trajectory.STEADY: 0.025}.get(trajectory, 0.0)
                if trajectory is Trajectory.RECOVERING and q > 0.8:
                    grow = 0.08
                shrink = trajectory in (Trajectory.SLIPPING, Trajectory.AT_RISK,
                                        Trajectory.CHURNING) and q < 0.62 and not contracted
                if shrink:
                    contracted = True
                    shrink = rng.random() < 0.6
                elif trajectory is Trajectory.STEADY and rng.random() < 0.012:
                    shrink = True
                if shrink:
                    new = (mrr * Decimal(str(round(rng.uniform(0.65, 0.9), 2)))).quantize(
                        Decimal("0.01"))
                    asked = at - timedelta(days=rng.randrange(12, 26), hours=rng.randrange(0, 8))
                    if self._alive(account, asked):
                        self._add(actions, asked, self._contraction(account, asked, new))
                    mrr = new
                    self.summary.contractions += 1
                elif rng.random() < grow:
                    mrr = (mrr * Decimal(str(round(rng.uniform(1.1, 1.35), 2)))).quantize(
                        Decimal("0.01"))
                    self.summary.expansions += 1
            if recorded is None or mrr != recorded:
                account.steps.append((at, mrr))
            self._record_mrr(account, actions, at, mrr)  # billing reports every month
            recorded = mrr

    def _record_mrr(self, account: _Account, actions: list[_Action], at: datetime,
                    mrr: Decimal) -> None:
        money = Money(mrr.quantize(Decimal("0.01")), "EUR")
        self._add(actions, at, lambda: self.desk.record_revenue(
            account_id=account.id, period=_period(at), mrr=money, actor=_ACTOR, occurred_at=at))

    def _contraction(self, account: _Account, at: datetime,
                     new: Decimal) -> Callable[[], CommandResult]:
        reason = account.rng.choice(["Fewer seats needed after a hiring freeze",
                                     "Budget cut: dropping the premium modules",
                                     "Asked to downgrade at the next billing cycle"])
        return lambda: self.desk.request_contraction(
            account_id=account.id, reason=reason, new_mrr=Money(new, "EUR"),
            actor=f"staff:{account.manager}", occurred_at=at)

    def _usage(self, account: _Account, actions: list[_Action]) -> None:
        """Active users against licensed seats every four weeks, from the usage integration."""
        rng = account.rng
        base = account.steps[0][1] if account.steps else account.mrr
        seats0 = max(5, min(4000, int(base / 40)))
        t = max(self._t0, account.opened + timedelta(days=2)) + timedelta(
            days=rng.randrange(0, 27), hours=rng.randrange(0, 6))
        while self._alive(account, t):
            mrr = account.mrr_at(t)
            seats = max(5, round(seats0 * float(mrr / base))) if base else seats0
            ratio = 0.40 + 0.52 * self._quality(account, t) + rng.uniform(-0.03, 0.03)
            if account.new_logo:
                ratio *= min(1.0, 0.45 + 0.55 * (t - account.opened).days / 90)
            active = max(0, min(seats, round(seats * ratio)))
            self._add(actions, t, self._report(account, t, active, seats))
            t += _USAGE_EVERY + timedelta(minutes=rng.randrange(-90, 90))

    def _report(self, account: _Account, at: datetime, active: int,
                seats: int) -> Callable[[], CommandResult]:
        return lambda: self.desk.report_usage(account_id=account.id, active_users=active,
                                              licensed_seats=seats, actor="integration:usage",
                                              occurred_at=at)

    def _billing(self, account: _Account, actions: list[_Action]) -> None:
        """Invoices (monthly for the large accounts, quarterly for the rest), net 30; healthy
        clients pay on time, souring ones late, after a failed payment, or not yet."""
        rng = account.rng
        every = 1 if account.tier in (Tier.VIP, Tier.ENTERPRISE) else 3
        billed: set[str] = set()
        for m in range(0, self.months, every):
            issued = _month_start(datetime.combine(self.start + timedelta(days=30 * m), time(6),
                                                   UTC)) + timedelta(days=1, hours=1)
            if issued <= account.opened + timedelta(hours=3) or _period(issued) in billed:
                continue  # 30-day steps meet some calendar month twice: bill it once
            billed.add(_period(issued))
            if not self._alive(account, issued):
                break
            q = self._quality(account, issued)
            number = f"INV-{self.seed}-{account.index:04d}-{_period(issued)}"
            amount = Money((account.mrr_at(issued) * every).quantize(Decimal("0.01")), "EUR")
            due = issued.date() + timedelta(days=30)
            due_at = datetime.combine(due, time(10), UTC)
            ids: dict[str, UUID] = {}
            self._add(actions, issued, self._issue(account, issued, number, amount, due, ids))
            self.summary.invoices += 1
            late = rng.random() < 0.03 + 0.55 * (1 - q) ** 2
            paid = (due_at + timedelta(days=rng.uniform(3, 50)) if late
                    else issued + timedelta(days=rng.uniform(4, 29)))
            if late and q < 0.6 and rng.random() < 0.4 and self._alive(account, due_at):
                self._add(actions, due_at, self._invoice_step(account, ids, due_at, "failed"))
            marked = due_at + timedelta(days=8)
            if paid > marked + timedelta(days=2) and self._alive(account, marked):
                self._add(actions, marked, self._invoice_step(account, ids, marked, "overdue"))
            if self._alive(account, paid):
                self._add(actions, paid, self._invoice_step(account, ids, paid, "paid"))

    def _invoice_step(self, account: _Account, ids: dict[str, UUID], at: datetime,
                      step: str) -> Callable[[], CommandResult]:
        def act() -> CommandResult:
            if step == "failed":
                return self.desk.record_payment_failure(
                    account_id=account.id, invoice_id=ids["id"], actor=_BILLING,
                    reason="Card declined", occurred_at=at)
            if step == "overdue":
                return self.desk.mark_invoice_overdue(account_id=account.id, invoice_id=ids["id"],
                                                      actor=_BILLING, occurred_at=at)
            return self.desk.mark_invoice_paid(account_id=account.id, invoice_id=ids["id"],
                                               actor=_BILLING, occurred_at=at)

        return act

    def _issue(self, account: _Account, at: datetime, number: str, amount: Money, due: date,
               ids: dict[str, UUID]) -> Callable[[], None]:
        def act() -> None:
            result = self.desk.issue_invoice(account_id=account.id, number=number,
                                             amount=amount, due_on=due, actor=_BILLING,
                                             occurred_at=at)
            ids["id"] = result.ids["invoiceId"]

        return act

    def _champion(self, account: _Account, actions: list[_Action]) -> None:
        """The champion leaves the client; a colleague steps up or a new hire is named."""
        left, champion = account.champion_left, account.champion
        if left is None or champion is None:
            return
        self._add(actions, left, lambda: self.desk.remove_contact(
            account_id=account.id, contact_id=champion, actor=f"staff:{account.manager}",
            occurred_at=left))
        back = account.champion_back
        if back is None:
            return
        user = next((c for c, role in account.roles.items() if role == "user"), None)
        if user is not None:
            account.new_champion = user
            self._add(actions, back, lambda: self.desk.change_contact_role(
                account_id=account.id, contact_id=user, role="champion",
                actor=f"staff:{account.manager}", occurred_at=back))
            return
        rng = account.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = account.name.lower().replace(" ", "") + ".example"
        email = f"{first}.{last}.new@{domain}".lower()
        account.new_champion = Account.contact_id(account.id, email)
        self._add(actions, back, lambda: self.desk.add_contact(
            account_id=account.id, name=f"{first} {last}", email=email, role="champion",
            actor=f"staff:{account.manager}", occurred_at=back))

    def _touchpoints(self, account: _Account, actions: list[_Action]) -> None:
        """Meetings, calls, e-mails and visits; the sponsor joins healthy accounts each quarter."""
        rng = account.rng
        base = _TOUCH_DAYS[account.tier]
        kinds = ["meeting", "call", "email"] + (
            ["visit"] if account.tier in (Tier.VIP, Tier.ENTERPRISE) else [])
        weights = [30, 35, 25, 10][: len(kinds)]
        t = _business_time(rng, max(self.start, (account.opened + timedelta(days=3)).date())
                           + timedelta(days=rng.randrange(0, int(base))))
        sponsor_seen = account.opened
        while self._alive(account, t):
            q = self._quality(account, t)
            kind = rng.choices(kinds, weights)[0]
            champion, sponsor = account.champion_at(t), account.sponsor
            if q > 0.55 and t - sponsor_seen > timedelta(days=70):
                kind = "meeting"  # the quarterly business review
            two_way = kind != "email" or rng.random() < 0.35 + 0.6 * q
            present: list[UUID] = []
            if champion is not None and rng.random() < 0.85:
                present.append(champion)
            with_sponsor = kind in ("meeting", "visit") and (
                rng.random() < 0.1 + 0.4 * q or (q > 0.55 and t - sponsor_seen > timedelta(
                    days=70)))
            if sponsor is not None and with_sponsor and two_way:
                present.append(sponsor)
                sponsor_seen = t
            if not present:
                others = [c for c, _ in account.contacts_at(t) if c != sponsor]
                if others:
                    present.append(rng.choice(others))
            summary = self._touch_summary(kind, q, rng)
            self._add(actions, t, partial(
                self.desk.log_touchpoint, account_id=account.id, kind=kind, two_way=two_way,
                contact_ids=present, summary=summary, actor=f"staff:{account.manager}",
                occurred_at=t))
            self.summary.touchpoints += 1
            gap = base * (0.7 + 1.6 * (1 - q)) * rng.uniform(0.7, 1.3)
            t = _business_time(rng, t.date() + timedelta(days=max(2, round(gap))))

    @staticmethod
    def _touch_summary(kind: str, q: float, rng: random.Random) -> str:
        if kind == "email":
            good = ["Shared the release notes; they will roll out the new reports",
                    "Sent the usage summary; champion confirmed the rollout plan"]
            bad = ["Followed up on the open issues; no answer yet",
                   "Asked for a call about the renewal; they are slow to reply"]
        else:
            good = ["Business review: adoption on track, planning the next team",
                    "Roadmap session; they want to extend to another department",
                    "Check-in: happy with support, asked about new features"]
            bad = ["Escalation review: frustrated about open tickets and response times",
                   "Difficult call: they question the value for the price",
                   "They are evaluating alternatives before the renewal"]
        return rng.choice(good if q >= 0.6 else bad)

    def _reviews(self, account: _Account, actions: list[_Action]) -> None:
        """The manager's monthly review: renewal date and likelihood, renewal risk, sentiment."""
        rng = account.rng
        actor = f"staff:{account.manager}"
        risk, sentiment, renewal = "none", "", (date.min, "")
        notice: datetime | None = None
        if account.churn_at is not None:
            notice = account.churn_at - timedelta(days=rng.randrange(25, 60))
            if self._alive(account, notice):
                self._add(actions, notice, partial(
                    self.desk.set_renewal_risk, account_id=account.id, level="churn_notice",
                    actor=actor, occurred_at=notice,
                    note="The client gave notice: they will not renew"))
            else:
                notice = None
        for m in range(self.months):
            at = _business_time(rng, self.start + timedelta(days=30 * m + rng.randrange(1, 8)))
            if not self._alive(account, at) or at < account.opened + timedelta(days=7):
                continue
            q = self._quality(account, at)
            noticed = notice is not None and at >= notice
            level = risk
            if noticed:
                level = "churn_notice"
            elif q < 0.46:
                level = "at_risk"
            elif q < 0.62 or (risk != "none" and q < 0.68):
                level = "early_warning" if risk != "at_risk" or q >= 0.52 else "at_risk"
            else:
                level = "none"
            if level != risk and not noticed:
                note = {"none": "Back on track", "early_warning": "Usage and mood are slipping",
                        "at_risk": "Renewal in danger: open issues, low engagement"}[level]
                self._add(actions, at, partial(
                    self.desk.set_renewal_risk, account_id=account.id, level=level, actor=actor,
                    note=note, occurred_at=at))
            risk = level
            mood = q + (0.2 if account.optimistic else 0.0)
            feeling = "healthy" if mood >= 0.7 else "concerned" if mood >= 0.5 else "at_risk"
            if feeling != sentiment:
                self._add(actions, at + timedelta(minutes=5), partial(
                    self.desk.set_sentiment, account_id=account.id, level=feeling, actor=actor,
                    occurred_at=at + timedelta(minutes=5)))
                sentiment = feeling
            likelihood = {"churn_notice": "zero", "at_risk": "low",
                          "early_warning": "medium"}.get(risk, "high" if q >= 0.7 else "medium")
            renews = self._renewal_date(account, at)
            if (renews, likelihood) != renewal:
                self._add(actions, at + timedelta(minutes=10), partial(
                    self.desk.set_renewal, account_id=account.id, renews_on=renews,
                    likelihood=likelihood, actor=actor, occurred_at=at + timedelta(minutes=10)))
                renewal = (renews, likelihood)

    def _renewal_date(self, account: _Account, at: datetime) -> date:
        if account.churn_at is not None:
            return account.churn_at.date()  # the contract ends and is not renewed
        opened = account.opened.date()
        for year in range(at.year, at.year + 2):
            try:
                candidate = opened.replace(year=year)
            except ValueError:  # 29 February
                candidate = date(year, 3, 1)
            if candidate > at.date():
                return candidate
        return at.date() + timedelta(days=365)

    # Cases ------------------------------------------------------------------------------

    def _cases(self, account: _Account, actions: list[_Action]) -> None:
        rng = account.rng
        plan = plan_for(account.tier)
        allowed = [c for c in _CHANNEL_WEIGHT if plan.allows(c)]
        weights = [_CHANNEL_WEIGHT[c] for c in allowed]
        last = self._last
        k = 0
        for month in range(self.months):
            middle = datetime.combine(self.start + timedelta(days=30 * month + 15), time(12),
                                      UTC)
            q = self._quality(account, middle)
            lam = _CASES_PER_MONTH[account.tier] * (0.75 + 1.3 * (1 - q))
            for _ in range(_poisson(rng, lam)):
                day = self.start + timedelta(days=30 * month + rng.randrange(0, 30))
                opened = _business_time(rng, day)
                if opened >= last or opened <= account.opened + timedelta(hours=6) or (
                        account.churn_at and opened >= account.churn_at):
                    continue
                k += 1
                if rng.random() < 0.02:
                    self._add(actions, opened, partial(self._refused, account, k, opened))
                    continue
                channel = rng.choices(allowed, weights)[0]
                self._add(actions, opened, partial(self._case, account, k, channel, opened,
                                                   self._quality(account, opened)))

    def _refused(self, account: _Account, k: int, at: datetime) -> None:
        lacking = [c for c in Channel if not plan_for(account.tier).allows(c)]
        if not lacking:
            return
        contact_id, name = account.rng.choice(account.contacts_at(at))
        try:
            self.desk.open_case(
                account_id=account.id, channel=account.rng.choice(lacking).value,
                subject="Quick question", text="Hi, can you call me back about our account?",
                actor=_ACTOR, contact_id=contact_id, sender=name,
                external_message_id=f"demo-{self.seed}-{account.index}-{k}", occurred_at=at)
        except RefusedChannelError:
            self.summary.refused += 1
            self.summary.interactions += 1

    def _case(self, account: _Account, k: int, channel: Channel, opened: datetime,
              q: float) -> None:
        rng, desk, last = account.rng, self.desk, self._last
        topic = rng.choice(list(_TOPICS))
        priority = rng.choices(list(Priority), [5, 20, 60, 15])[0]
        if topic == "outage":
            priority = Priority.URGENT
        contact_id, name = rng.choice(account.contacts_at(opened))
        ref = f"demo-{self.seed}-{account.index}-{k}"
        subject = rng.choice(_TOPICS[topic])
        result = desk.open_case(
            account_id=account.id, channel=channel.value, subject=subject,
            text=f"Hello, {rng.choice(_TOPICS[topic]).lower()}. Can you help? Regards, {name}",
            actor=_ACTOR, priority=priority.value, topic=topic, contact_id=contact_id,
            sender=name, external_message_id=ref, occurred_at=opened)
        if result.duplicate:
            self.summary.duplicates += 1
            return
        self.summary.cases += 1
        self.summary.interactions += 1
        case_id = result.ids["caseId"]
        if topic == "feature":
            self._feedback(account, case_id, subject, opened)
        agent = AGENTS[(account.index + k) % len(AGENTS)]
        staff = f"staff:{agent}"

        def open_at_end() -> None:  # the SLA clock's last look at a case still open
            desk.record_sla_breaches(case_id=case_id, actor=_SLA_CLOCK, at=last)

        t = opened + timedelta(minutes=rng.randrange(1, 30))
        if t >= last:
            open_at_end()
            return
        desk.assign_case(case_id=case_id, agent=agent, actor=staff, occurred_at=t)
        if priority is Priority.NORMAL and rng.random() < 0.06:
            t += timedelta(minutes=rng.randrange(2, 15))
            if t >= last:
                open_at_end()
                return
            priority = Priority.HIGH  # more users affected than first reported
            desk.change_priority(case_id=case_id, priority=priority.value, actor=staff,
                                 occurred_at=t)
        targets = plan_for(account.tier).targets[priority]
        late_odds = 0.02 + 0.45 * (1 - q) ** 2
        # Most answers come well inside the target; souring accounts wait longer more often.
        factor = rng.uniform(0.1, 0.9) if rng.random() > late_odds else rng.uniform(1.1, 3.0)
        first = max(opened + targets.first_response * factor, t + timedelta(minutes=2))
        if first >= last:
            open_at_end()
            return
        if factor > 1:
            desk.record_sla_breaches(case_id=case_id, actor=_SLA_CLOCK, at=first)
        desk.reply_to_case(case_id=case_id, text=self._answer(topic, 0), agent=agent,
                           actor=staff, external_message_id=f"{ref}-r0", occurred_at=first)
        self.summary.interactions += 1
        t = first
        paused = timedelta(0)
        if rng.random() < 0.12:
            t += timedelta(minutes=rng.randrange(5, 30))
            desk.wait_on_client(case_id=case_id, reason="Waiting for logs from the client",
                                actor=staff, occurred_at=t)
            paused = timedelta(hours=rng.uniform(3, 60))
            t += paused
            if t >= last:
                open_at_end()
                return
            desk.resume_case(case_id=case_id, reason="The client sent the details",
                             actor=_ACTOR, occurred_at=t)
        slow = rng.random() < late_odds
        factor = rng.uniform(1.1, 2.5) if slow else rng.uniform(0.25, 0.85)
        resolved = max(opened + targets.resolution * factor + paused,
                       t + timedelta(minutes=45))
        span = resolved - t
        for reply in range(1, rng.choice([1, 1, 2, 2, 3])):
            at = t + span * (reply / 4)
            if at >= last:
                open_at_end()
                return
            desk.reply_to_case(case_id=case_id, text=self._answer(topic, reply), agent=agent,
                               actor=staff, external_message_id=f"{ref}-r{reply}",
                               occurred_at=at)
            self.summary.interactions += 1
        if rng.random() < 0.06 + 0.35 * (1 - q) ** 2:
            at = t + span * 0.8
            if at >= last:
                open_at_end()
                return
            desk.escalate_case(case_id=case_id, reason="Needs a specialist", actor=staff,
                               department="engineering" if topic in ("integration", "outage",
                                                                     "performance") else None,
                               occurred_at=at)
            if q < 0.55 and last - opened < timedelta(days=40) and rng.random() < 0.5:
                open_at_end()  # line 2 is still on it
                return
            at = t + span * 0.95
            if at >= last:
                open_at_end()
                return
            desk.resolve_escalation(case_id=case_id, note="Fixed by line 2", actor="staff:line2",
                                    occurred_at=at)
        t = resolved
        if t >= last:
            open_at_end()
            return
        if slow:
            desk.record_sla_breaches(case_id=case_id, actor=_SLA_CLOCK, at=t)
        desk.resolve_case(case_id=case_id, resolution="Answered", actor=staff, occurred_at=t)
        if rng.random() < 0.04 + 0.1 * (1 - q) and t + timedelta(days=1) < last:
            t += timedelta(days=1)
            desk.reopen_case(case_id=case_id, reason="Still happening", actor=_ACTOR, occurred_at=t)
            t += timedelta(hours=4)
            if t >= last:
                open_at_end()
                return
            desk.resolve_case(case_id=case_id, resolution="Fixed for good", actor=staff,
                              occurred_at=t)
        if rng.random() < 0.45 and t + timedelta(hours=2) < last:
            t += timedelta(hours=2)
            satisfied = rng.random() < 0.35 + 0.62 * q - (0.15 if slow else 0.0)
            csat = (5 if rng.random() < 0.6 else 4) if satisfied \
                else rng.choices([1, 2, 3], [2, 3, 5])[0]
            desk.rate_case(case_id=case_id, csat=csat, actor=_ACTOR, comment=None, occurred_at=t)
        if rng.random() < 0.8 and t + timedelta(days=3) < last:
            desk.close_case(case_id=case_id, actor="system:auto-close",
                            occurred_at=t + timedelta(days=3))

    def _surveys(self, account: _Account) -> None:
        """A relationship NPS survey every 90 days; about a third of the contacts answer."""
        rng = account.rng
        last = datetime.combine(self.until, time(0), UTC)
        for wave in range(0, 30 * self.months, 90):
            for contact_id, _ in account.contacts:
                if rng.random() >= 0.35:
                    continue
                at = _business_time(rng, self.start + timedelta(days=wave + rng.randrange(0, 14)))
                if at >= last or (account.churn_at is not None and at >= account.churn_at):
                    continue
                # Larger plans are looked after more closely, and it shows.
                promoter = {Tier.VIP: 0.6, Tier.ENTERPRISE: 0.5}.get(account.tier, 0.4)
                score = (rng.choice([9, 10]) if rng.random() < promoter
                         else rng.choice([7, 8, 8, 6, 5, 3]))
                result = self.desk.record_nps(
                    account_id=account.id, contact_id=contact_id, score=score,
                    survey=f"demo-{self.seed}-nps-{wave}", actor=_ACTOR, occurred_at=at,
                    comment="Reliable and quick support." if score >= 9 else None)
                self.summary.survey_responses += 0 if result.duplicate else 1
    def _feedback(self, account: _Account, case_id: UUID, request: str, at: datetime) -> None:
        """The first case asking for a feature files it; later ones add their account."""
        known = self.feedback.get(request)
        if known is None:
            self.feedback[request] = self.desk.submit_feedback(
                account_id=account.id, product_area=_FEATURE_AREAS[request], title=request,
                text=f"Asked for in a {account.tier.value} account's case.", case_id=case_id,
                actor=_ACTOR, occurred_at=at).ids["feedbackId"]
        else:
            self.desk.support_feedback(feedback_id=known, account_id=account.id,
                                       case_id=case_id, actor=_ACTOR, occurred_at=at)
        self.summary.feedback += 1

    @staticmethod
    def _answer(topic: str, n: int) -> str:
        if n == 0:
            return f"Thanks for reaching out about {topic}. We are looking into it now."
        return "We have an update: the fix is in place. Could you confirm it works for you?"
