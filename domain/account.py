"""The Account aggregate: a client company, its revenue, service tier, manager and contacts."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.business_calendar import BusinessCalendar, default_calendar
from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.service_plans import plan_for
from domain.values import (
    Channel,
    ContactRole,
    Money,
    RenewalLikelihood,
    RenewalRisk,
    Sentiment,
    Tier,
    TouchpointKind,
    enum_value,
)

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Mail providers anyone can sign up at never identify a company.
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net",
    "web.de", "mail.ru", "yandex.ru", "yandex.com", "qq.com", "163.com"})


def _clean_domain(domain: str) -> str:
    domain = domain.strip().lower().lstrip("@")
    if not _DOMAIN.match(domain):
        raise InvalidInputError(f"{domain!r} is not a mail domain")
    if domain in PUBLIC_MAIL_DOMAINS:
        raise InvalidInputError(f"{domain} is a public mail provider, not a company's domain")
    return domain
MAX_NAME = 200


def clean_name(raw: str, what: str = "name", limit: int = MAX_NAME) -> str:
    name = " ".join(raw.split())
    if not name:
        raise InvalidInputError(f"{what} must not be empty")
    if len(name) > limit:
        raise InvalidInputError(f"{what} is longer than {limit} characters")
    return name


class Account(Aggregate):
    """A client company: the unit whose revenue Customer Care is judged on."""

    TOPIC = "carelog:Account"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Account.Created"

    @staticmethod
    def id_for(external_ref: str) -> UUID:
        """Accounts imported or seeded from another system keep a stable id per source key."""
        return uuid5(NAMESPACE_URL, f"/carelog/accounts/{external_ref}")

    @staticmethod
    def contact_id(account_id: UUID, email: str) -> UUID:
        return uuid5(account_id, f"contact:{email.lower()}")

    @event("Opened", topic="carelog:Account.Opened")
    def __init__(
        self,
        id: UUID,
        name: str,
        tier: str,
        manager: str,
        currency: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.name = name
        self.tier = tier
        self.manager = manager
        self.currency = currency
        self.revenue: dict[str, Decimal] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.email_domains: list[str] = []
        self.invoices: dict[str, dict[str, Any]] = {}
        self.renewal_risk = RenewalRisk.NONE.value
        self.sentiment: str | None = None
        self.calendar_document: dict[str, Any] | None = None
        self.churned = False
        self.portal_access: bool | None = None
        """Granted or revoked for this account; None: as its plan says."""
        self.self_registration = False

    # Commands: guards first, then the event.

    def record_revenue(self, period: str, mrr: Money, occurred_at: datetime, actor: str) -> None:
        if not _PERIOD.match(period):
            raise InvalidInputError(f"revenue period must be YYYY-MM, not {period!r}")
        if mrr.amount < 0:
            raise InvalidInputError("revenue must not be negative")
        if mrr.currency != self.currency:
            raise InvalidInputError(
                f"revenue is in {mrr.currency} but the account is billed in {self.currency}"
            )
        self._record_revenue(period, mrr.amount, mrr.currency, occurred_at, actor)

    def change_tier(self, tier: str, occurred_at: datetime, actor: str) -> None:
        tier = enum_value(Tier, tier, "tier")
        if tier == self.tier:
            raise InvalidStateError(f"the account is already on the {tier} tier")
        self._change_tier(tier, occurred_at, actor)

    def assign_manager(self, manager: str, occurred_at: datetime, actor: str) -> None:
        manager = clean_name(manager, "manager")
        if manager == self.manager:
            raise InvalidStateError(f"{manager} already manages this account")
        self._assign_manager(manager, occurred_at, actor)

    def add_contact(
        self, name: str, email: str, phone: str | None, role: str, occurred_at: datetime, actor: str
    ) -> UUID:
        email = email.strip().lower()
        if not _EMAIL.match(email) or len(email) > 254:
            raise InvalidInputError(f"{email!r} is not an email address")
        contact_id = self.contact_id(self.id, email)
        existing = self.contacts.get(str(contact_id))
        if existing is not None and existing["active"]:
            raise InvalidStateError(f"{email} is already a contact of this account")
        self._add_contact(
            contact_id,
            clean_name(name, "contact name"),
            email,
            (phone or "").strip() or None,
            enum_value(ContactRole, role, "contact role"),
            occurred_at,
            actor,
        )
        return contact_id

    def set_email_domains(self, domains: list[str], occurred_at: datetime, actor: str) -> None:
        """The company's mail domains: mail from an unknown address there reaches this account."""
        cleaned = sorted({_clean_domain(d) for d in domains})
        if cleaned == self.email_domains:
            raise InvalidStateError("the account already has exactly these email domains")
        self._set_email_domains(cleaned, occurred_at, actor)

    def grant_portal_access(self, self_registration: bool, occurred_at: datetime,
                            actor: str) -> None:
        """The account's contacts may use the portal whatever the plan; with
        `self_registration`, anyone at one of its email domains may sign up."""
        if self.portal_access is True and self.self_registration == self_registration:
            raise InvalidStateError("the account already has exactly this portal access")
        self._grant_portal_access(self_registration, occurred_at, actor)

    def revoke_portal_access(self, reason: str, occurred_at: datetime, actor: str) -> None:
        """No portal for this account's contacts, whatever the plan."""
        if self.portal_access is False:
            raise InvalidStateError("the account has no portal access already")
        self._revoke_portal_access(clean_name(reason, "reason"), occurred_at, actor)

    def has_portal(self, plan_tiers: frozenset[str]) -> bool:
        """Whether its client users may sign in: as granted or revoked for the account, else
        as the plan says (its tier among `plan_tiers` and its channels including the portal)."""
        if self.portal_access is not None:
            return self.portal_access
        plan = plan_for(Tier(self.tier))
        return self.tier in plan_tiers and plan.allows(Channel.PORTAL)

    def may_self_register(self, plan_tiers: frozenset[str]) -> bool:
        return self.self_registration and self.has_portal(plan_tiers)

    def active_contact_ids(self) -> set[UUID]:
        return {UUID(k) for k, c in self.contacts.items() if c["active"]}

    def contact_by_email(self, address: str) -> UUID | None:
        contact_id = self.contact_id(self.id, address.strip().lower())
        contact = self.contacts.get(str(contact_id))
        return contact_id if contact is not None and contact["active"] else None

    def change_contact_role(
        self, contact_id: UUID, role: str, occurred_at: datetime, actor: str
    ) -> None:
        contact = self._active_contact(contact_id)
        role = enum_value(ContactRole, role, "contact role")
        if contact["role"] == role:
            raise InvalidStateError(f"the contact already has the role {role}")
        self._change_contact_role(contact_id, role, occurred_at, actor)

    def remove_contact(self, contact_id: UUID, occurred_at: datetime, actor: str) -> None:
        self._active_contact(contact_id)
        self._contact_left(contact_id, occurred_at, actor)

    def churn(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.churned:
            raise InvalidStateError("the account has already churned")
        self._churn(clean_name(reason, "churn reason", 2000), occurred_at, actor)

    def log_touchpoint(self, kind: str, two_way: bool, contact_ids: list[UUID], summary: str,
                       occurred_at: datetime, actor: str) -> None:
        """A meeting, call or exchange with the client; the attendees' roles are kept with it."""
        kind = enum_value(TouchpointKind, kind, "touchpoint kind")
        roles = sorted({self._active_contact(c)["role"] for c in contact_ids})
        text = summary.strip()
        if len(text) > 5000:
            raise InvalidInputError("the touchpoint summary is longer than 5000 characters")
        self._log_touchpoint(kind, two_way, list(dict.fromkeys(contact_ids)), roles, text,
                             occurred_at, actor)

    def report_usage(self, active_users: int | None, licensed_seats: int | None,
                     occurred_at: datetime, actor: str) -> None:
        if active_users is None and licensed_seats is None:
            raise InvalidInputError("report active users, licensed seats or both")
        for value, what in ((active_users, "active users"), (licensed_seats, "licensed seats")):
            if value is not None and (type(value) is not int or value < 0):
                raise InvalidInputError(f"{what} must be a whole number of at least 0")
        if licensed_seats == 0:
            raise InvalidInputError("licensed seats must be at least 1")
        self._report_usage(active_users, licensed_seats, occurred_at, actor)

    def issue_invoice(self, number: str, amount: Money, due_on: date, occurred_at: datetime,
                      actor: str) -> UUID:
        number = clean_name(number, "invoice number", 100)
        invoice_id = uuid5(self.id, f"invoice:{number}")
        if str(invoice_id) in self.invoices:
            raise InvalidStateError(f"invoice {number} has already been issued")
        if amount.amount <= 0:
            raise InvalidInputError("an invoice amount must be positive")
        if amount.currency != self.currency:
            raise InvalidInputError(
                f"the invoice is in {amount.currency} but the account is billed in "
                f"{self.currency}")
        if due_on < occurred_at.date():
            raise InvalidInputError("an invoice cannot fall due before it is issued")
        self._issue_invoice(invoice_id, number, amount.amount, amount.currency, due_on,
                            occurred_at, actor)
        return invoice_id

    def mark_invoice_paid(self, invoice_id: UUID, occurred_at: datetime, actor: str) -> None:
        invoice = self._invoice(invoice_id)
        if invoice["paid"]:
            raise InvalidStateError(f"invoice {invoice['number']} is already paid")
        self._invoice_paid(invoice_id, occurred_at, actor)

    def mark_invoice_overdue(self, invoice_id: UUID, occurred_at: datetime, actor: str) -> None:
        invoice = self._invoice(invoice_id)
        if invoice["paid"]:
            raise InvalidStateError(f"invoice {invoice['number']} is paid")
        if occurred_at.date() <= invoice["due_on"]:
            raise InvalidStateError(
                f"invoice {invoice['number']} is not due until {invoice['due_on'].isoformat()}")
        if invoice["overdue"]:
            raise InvalidStateError(f"invoice {invoice['number']} is already marked overdue")
        self._invoice_overdue(invoice_id, occurred_at, actor)

    def record_payment_failure(self, invoice_id: UUID | None, reason: str,
                               occurred_at: datetime, actor: str) -> None:
        if invoice_id is not None and self._invoice(invoice_id)["paid"]:
            raise InvalidStateError("the invoice is already paid")
        self._payment_failed(invoice_id, clean_name(reason, "reason", 2000), occurred_at, actor)

    def request_contraction(self, reason: str, new_mrr: Money | None, occurred_at: datetime,
                            actor: str) -> None:
        if new_mrr is not None and (new_mrr.amount < 0 or new_mrr.currency != self.currency):
            raise InvalidInputError(
                f"the requested MRR must be a non-negative amount in {self.currency}")
        self._request_contraction(clean_name(reason, "reason", 2000),
                                  None if new_mrr is None else new_mrr.amount,
                                  occurred_at, actor)

    def set_renewal(self, renews_on: date, likelihood: str | None, occurred_at: datetime,
                    actor: str) -> None:
        if likelihood is not None:
            likelihood = enum_value(RenewalLikelihood, likelihood, "renewal likelihood")
        self._set_renewal(renews_on, likelihood, occurred_at, actor)

    def set_renewal_risk(self, level: str, note: str, occurred_at: datetime, actor: str) -> None:
        level = enum_value(RenewalRisk, level, "renewal risk")
        if level == self.renewal_risk:
            raise InvalidStateError(f"the renewal risk is already {level}")
        self._set_renewal_risk(level, note.strip(), occurred_at, actor)

    def set_sentiment(self, level: str, note: str, occurred_at: datetime, actor: str) -> None:
        level = enum_value(Sentiment, level, "sentiment")
        self._set_sentiment(level, note.strip(), occurred_at, actor)

    def set_calendar(self, document: dict[str, Any], occurred_at: datetime,
                     actor: str) -> None:
        """The business hours SLA targets are counted in (zone, opening hours, holidays)."""
        calendar = BusinessCalendar.from_document(document)
        self._set_calendar(calendar.to_document(), occurred_at, actor)

    def calendar(self) -> BusinessCalendar:
        if self.calendar_document is None:
            return default_calendar(Tier(self.tier))
        return BusinessCalendar.from_document(self.calendar_document)

    def check_active(self) -> None:
        if self.churned:
            raise InvalidStateError(f"account {self.name} has churned")

    def _invoice(self, invoice_id: UUID) -> dict[str, Any]:
        invoice = self.invoices.get(str(invoice_id))
        if invoice is None:
            raise NotFoundError(f"invoice {invoice_id} not found on this account")
        return invoice

    def _active_contact(self, contact_id: UUID) -> dict[str, Any]:
        contact = self.contacts.get(str(contact_id))
        if contact is None or not contact["active"]:
            raise NotFoundError(f"contact {contact_id} not found on this account")
        return contact

    # Events: they only change state.

    @event("RevenueRecorded", topic="carelog:Account.RevenueRecorded")
    def _record_revenue(
        self, period: str, mrr: Decimal, currency: str, occurred_at: datetime, actor: str
    ) -> None:
        self.revenue[period] = mrr

    @event("TierChanged", topic="carelog:Account.TierChanged")
    def _change_tier(self, tier: str, occurred_at: datetime, actor: str) -> None:
        self.tier = tier

    @event("ManagerAssigned", topic="carelog:Account.ManagerAssigned")
    def _assign_manager(self, manager: str, occurred_at: datetime, actor: str) -> None:
        self.manager = manager

    @event("ContactAdded", topic="carelog:Account.ContactAdded")
    def _add_contact(
        self,
        contact_id: UUID,
        name: str,
        email: str,
        phone: str | None,
        role: str,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.contacts[str(contact_id)] = {
            "name": name, "email": email, "phone": phone, "role": role, "active": True
        }

    @event("EmailDomainsSet", topic="carelog:Account.EmailDomainsSet")
    def _set_email_domains(self, domains: list[str], occurred_at: datetime, actor: str) -> None:
        self.email_domains = list(domains)

    @event("PortalAccessGranted", topic="carelog:Account.PortalAccessGranted")
    def _grant_portal_access(self, self_registration: bool, occurred_at: datetime,
                             actor: str) -> None:
        self.portal_access = True
        self.self_registration = self_registration

    @event("PortalAccessRevoked", topic="carelog:Account.PortalAccessRevoked")
    def _revoke_portal_access(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.portal_access = False
        self.self_registration = False

    @event("ContactRoleChanged", topic="carelog:Account.ContactRoleChanged")
    def _change_contact_role(
        self, contact_id: UUID, role: str, occurred_at: datetime, actor: str
    ) -> None:
        self.contacts[str(contact_id)]["role"] = role

    @event("ContactLeft", topic="carelog:Account.ContactLeft")
    def _contact_left(self, contact_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.contacts[str(contact_id)]["active"] = False

    @event("Churned", topic="carelog:Account.Churned")
    def _churn(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.churned = True

    @event("TouchpointLogged", topic="carelog:Account.TouchpointLogged")
    def _log_touchpoint(self, kind: str, two_way: bool, contact_ids: list[UUID],
                        roles: list[str], summary: str, occurred_at: datetime,
                        actor: str) -> None:
        pass

    @event("UsageReported", topic="carelog:Account.UsageReported")
    def _report_usage(self, active_users: int | None, licensed_seats: int | None,
                      occurred_at: datetime, actor: str) -> None:
        pass

    @event("InvoiceIssued", topic="carelog:Account.InvoiceIssued")
    def _issue_invoice(self, invoice_id: UUID, number: str, amount: Decimal, currency: str,
                       due_on: date, occurred_at: datetime, actor: str) -> None:
        self.invoices[str(invoice_id)] = {
            "number": number, "due_on": due_on, "paid": False, "overdue": False}

    @event("InvoicePaid", topic="carelog:Account.InvoicePaid")
    def _invoice_paid(self, invoice_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.invoices[str(invoice_id)]["paid"] = True

    @event("InvoiceOverdue", topic="carelog:Account.InvoiceOverdue")
    def _invoice_overdue(self, invoice_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.invoices[str(invoice_id)]["overdue"] = True

    @event("PaymentFailed", topic="carelog:Account.PaymentFailed")
    def _payment_failed(self, invoice_id: UUID | None, reason: str, occurred_at: datetime,
                        actor: str) -> None:
        pass

    @event("ContractionRequested", topic="carelog:Account.ContractionRequested")
    def _request_contraction(self, reason: str, new_mrr: Decimal | None, occurred_at: datetime,
                             actor: str) -> None:
        pass

    @event("RenewalSet", topic="carelog:Account.RenewalSet")
    def _set_renewal(self, renews_on: date, likelihood: str | None, occurred_at: datetime,
                     actor: str) -> None:
        pass

    @event("RenewalRiskSet", topic="carelog:Account.RenewalRiskSet")
    def _set_renewal_risk(self, level: str, note: str, occurred_at: datetime,
                          actor: str) -> None:
        self.renewal_risk = level

    @event("SentimentSet", topic="carelog:Account.SentimentSet")
    def _set_sentiment(self, level: str, note: str, occurred_at: datetime, actor: str) -> None:
        self.sentiment = level

    @event("CalendarSet", topic="carelog:Account.CalendarSet")
    def _set_calendar(self, document: dict[str, Any], occurred_at: datetime,
                      actor: str) -> None:
        self.calendar_document = document
