"""Realistic demo data, written through the same CareDesk commands a user would call.

Revenue is spread like real B2B (a few large accounts, many small), tiers follow revenue, and a
year of cases arrives on every channel the plans allow, with replies, escalations, resolutions,
ratings and the occasional message on a channel the client's plan lacks. Everything derives from
the seed and the end date, and ids come from them, so running it twice adds nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from domain.application import CareDesk, RefusedChannelError
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
_FEATURE_AREAS = {"Can we get bulk edit for orders?": "Orders",
                  "Request: audit log export": "Security",
                  "Is there a way to schedule reports?": "Reporting"}
_CHANNEL_WEIGHT = {Channel.EMAIL: 40, Channel.PORTAL: 15, Channel.WEB_CHAT: 15,
                   Channel.TELEGRAM: 12, Channel.PHONE: 10, Channel.WEB_FORM: 6, Channel.API: 2}
_CASES_PER_MONTH = {Tier.VIP: 3.0, Tier.ENTERPRISE: 2.0, Tier.BUSINESS: 1.0, Tier.STANDARD: 0.4}
_ACTOR = "system:demo"

Progress = Callable[[int, int], None]


@dataclass
class DemoSummary:
    accounts: int = 0
    cases: int = 0
    interactions: int = 0
    refused: int = 0
    duplicates: int = 0
    feedback: int = 0


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


def _business_time(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(8, 0), UTC) + timedelta(minutes=rng.randrange(0, 600))


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


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
        self.feedback: dict[str, UUID] = {}
        """Feature requests filed as product feedback, by request."""

    def run(self, progress: Progress | None = None) -> DemoSummary:
        accounts = self._open_accounts()
        for n, account in enumerate(accounts, start=1):
            if account.existed:  # seeded before with this seed: leave it as it is
                if progress is not None:
                    progress(n, len(accounts))
                continue
            self._revenue(account)
            self._cases(account)
            if account.churn_at is not None:
                self.desk.churn_account(account_id=account.id, reason="Moved to a competitor",
                                        actor=_ACTOR, occurred_at=account.churn_at)
            if progress is not None:
                progress(n, len(accounts))
        return self.summary

    def _open_accounts(self) -> list[_Account]:
        rng = self.rng
        # Log-normal MRR: a long tail of small accounts and a few very large ones.
        mrrs = sorted((Decimal(round(rng.lognormvariate(7.6, 1.25), 2)) for _ in range(self.count)),
                      reverse=True)
        made: list[_Account] = []
        for i, mrr in enumerate(mrrs):
            tier = (Tier.VIP if i < 20 else Tier.ENTERPRISE if i < 80
                    else Tier.BUSINESS if i < 180 else Tier.STANDARD)
            name = (f"{_PREFIXES[i % len(_PREFIXES)]} {_SUFFIXES[(i // len(_PREFIXES)) % 12]}"
                    + (f" {i // (len(_PREFIXES) * 12) + 1}" if i >= len(_PREFIXES) * 12 else ""))
            own = random.Random(f"{self.seed}-{i}")
            opened = datetime.combine(self.start, time(9), UTC) - timedelta(
                days=own.randrange(30, 900))
            result = self.desk.open_account(
                name=name, tier=tier.value, manager=MANAGERS[i % len(MANAGERS)], currency="EUR",
                actor=_ACTOR, occurred_at=opened, external_ref=f"demo-{self.seed}-{i}")
            account_id = result.ids["accountId"]
            contacts = [] if result.duplicate else self._contacts(own, account_id, name, i, opened)
            churn = None
            if tier in (Tier.BUSINESS, Tier.STANDARD) and own.random() < 0.06:
                churn = _business_time(own, self.start + timedelta(
                    days=own.randrange(60, max(61, 30 * self.months - 5))))
            made.append(_Account(account_id, i, name, tier, mrr, contacts, churn, own,
                                 result.duplicate))
            self.summary.accounts += 0 if result.duplicate else 1
        return made

    def _contacts(self, rng: random.Random, account_id: UUID, company: str, i: int,
                  opened: datetime) -> list[tuple[UUID, str]]:
        domain = company.lower().replace(" ", "") + ".example"
        roles = ["champion", "executive_sponsor", "billing", "user", "user"][: rng.randint(2, 5)]
        contacts = []
        for k, role in enumerate(roles):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            result = self.desk.add_contact(
                account_id=account_id, name=f"{first} {last}",
                email=f"{first}.{last}.{k}@{domain}".lower(), role=role, actor=_ACTOR,
                phone=f"+49 30 {1000000 + i * 10 + k}", occurred_at=opened + timedelta(hours=k))
            contacts.append((result.ids["contactId"], f"{first} {last}"))
        return contacts

    def _revenue(self, account: _Account) -> None:
        rng, mrr = account.rng, account.mrr
        for m in range(self.months + 1):
            day = self.start + timedelta(days=30 * m)
            at = datetime.combine(day.replace(day=1), time(6), UTC)
            if account.churn_at is not None and at >= account.churn_at:
                break
            if rng.random() < 0.04:  # expansion
                mrr *= Decimal("1.2")
            elif rng.random() < 0.03:  # contraction
                mrr *= Decimal("0.85")
            self.desk.record_revenue(
                account_id=account.id, period=f"{day.year:04d}-{day.month:02d}",
                mrr=Money(mrr.quantize(Decimal("0.01")), "EUR"), actor=_ACTOR, occurred_at=at)

    def _cases(self, account: _Account) -> None:
        rng = account.rng
        plan = plan_for(account.tier)
        allowed = [c for c in _CHANNEL_WEIGHT if plan.allows(c)]
        weights = [_CHANNEL_WEIGHT[c] for c in allowed]
        last = datetime.combine(self.until, time(0), UTC)
        k = 0
        for month in range(self.months):
            for _ in range(_poisson(rng, _CASES_PER_MONTH[account.tier])):
                day = self.start + timedelta(days=30 * month + rng.randrange(0, 30))
                opened = _business_time(rng, day)
                if opened >= last or (account.churn_at and opened >= account.churn_at):
                    continue
                k += 1
                if rng.random() < 0.02:
                    self._refused(account, k, opened)
                    continue
                channel = rng.choices(allowed, weights)[0]
                self._case(account, k, channel, opened, last)

    def _refused(self, account: _Account, k: int, at: datetime) -> None:
        lacking = [c for c in Channel if not plan_for(account.tier).allows(c)]
        if not lacking:
            return
        contact_id, name = account.rng.choice(account.contacts)
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
              last: datetime) -> None:
        rng, desk = account.rng, self.desk
        topic = rng.choice(list(_TOPICS))
        priority = rng.choices(list(Priority), [5, 20, 60, 15])[0]
        if topic == "outage":
            priority = Priority.URGENT
        contact_id, name = rng.choice(account.contacts)
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
        t = opened + timedelta(minutes=rng.randrange(1, 30))
        if t >= last:
            return
        desk.assign_case(case_id=case_id, agent=agent, actor=f"staff:{agent}", occurred_at=t)
        target = plan_for(account.tier).targets[priority].first_response
        # Most answers come well inside the target; about one in eight is late.
        factor = rng.uniform(0.1, 0.9) if rng.random() > 0.12 else rng.uniform(1.1, 3.0)
        t = opened + target * factor
        for reply in range(rng.choice([1, 1, 2, 2, 3])):
            if t >= last:
                return
            desk.reply_to_case(case_id=case_id, text=self._answer(topic, reply), agent=agent,
                               actor=f"staff:{agent}", external_message_id=f"{ref}-r{reply}",
                               occurred_at=t)
            self.summary.interactions += 1
            t += timedelta(hours=rng.uniform(1, 20))
        if rng.random() < 0.15 and t < last:
            desk.escalate_case(case_id=case_id, reason="Needs a specialist", actor=f"staff:{agent}",
                               department="engineering" if topic in ("integration", "outage",
                                                                     "performance") else None,
                               occurred_at=t)
            t += timedelta(hours=rng.uniform(2, 48))
            if t >= last:
                return
            desk.resolve_escalation(case_id=case_id, note="Fixed by line 2", actor="staff:line2",
                                    occurred_at=t)
        t += timedelta(hours=rng.uniform(0.5, 24))
        if t >= last:
            return
        desk.resolve_case(case_id=case_id, resolution="Answered", actor=f"staff:{agent}",
                          occurred_at=t)
        if rng.random() < 0.05 and t + timedelta(days=1) < last:
            t += timedelta(days=1)
            desk.reopen_case(case_id=case_id, reason="Still happening", actor=_ACTOR, occurred_at=t)
            t += timedelta(hours=4)
            if t >= last:
                return
            desk.resolve_case(case_id=case_id, resolution="Fixed for good", actor=f"staff:{agent}",
                              occurred_at=t)
        if rng.random() < 0.45 and t + timedelta(hours=2) < last:
            t += timedelta(hours=2)
            csat = rng.choices([1, 2, 3, 4, 5], [4, 6, 12, 33, 45])[0]
            desk.rate_case(case_id=case_id, csat=csat, actor=_ACTOR, comment=None, occurred_at=t)
        if rng.random() < 0.8 and t + timedelta(days=3) < last:
            desk.close_case(case_id=case_id, actor="system:auto-close",
                            occurred_at=t + timedelta(days=3))

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
