"""The Account aggregate: a client company, its revenue, service tier, manager and contacts."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.values import ContactRole, Money, Tier, enum_value

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
        self.churned = False

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

    def check_active(self) -> None:
        if self.churned:
            raise InvalidStateError(f"account {self.name} has churned")

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
