"""Value objects and enumerations shared by the aggregates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum

from domain.errors import InvalidInputError


class Channel(StrEnum):
    """Where a client's message came from or where our answer goes."""

    EMAIL = "email"
    TELEGRAM = "telegram"
    WEB_CHAT = "web_chat"
    PORTAL = "portal"
    PHONE = "phone"
    WEB_FORM = "web_form"
    API = "api"
    ROOM = "room"
    """A staff post in the account's room, mirrored to the chats bound to it."""


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Tier(StrEnum):
    """The service plan a client company pays for; decides channels and SLA targets."""

    VIP = "vip"
    ENTERPRISE = "enterprise"
    BUSINESS = "business"
    STANDARD = "standard"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class CaseStatus(StrEnum):
    """Where a case stands. `RESOLVED` means the client's question is answered."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ContactRole(StrEnum):
    USER = "user"
    CHAMPION = "champion"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    BILLING = "billing"


class TouchpointKind(StrEnum):
    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    VISIT = "visit"
    OTHER = "other"


class RenewalRisk(StrEnum):
    """The manager's reading of the renewal; `at_risk` and `churn_notice` cap health at red."""

    NONE = "none"
    EARLY_WARNING = "early_warning"
    AT_RISK = "at_risk"
    CHURN_NOTICE = "churn_notice"


class RenewalLikelihood(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    ZERO = "zero"


class Sentiment(StrEnum):
    """The manager's own reading of the account, shown beside the score, never blended in."""

    HEALTHY = "healthy"
    CONCERNED = "concerned"
    AT_RISK = "at_risk"


class ActorKind(StrEnum):
    STAFF = "staff"
    CONTACT = "contact"
    SYSTEM = "system"
    INTEGRATION = "integration"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what caused an event: a staff member, a client contact, a rule or an integration."""

    kind: ActorKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Actor:
        kind, _, ident = text.partition(":")
        try:
            return cls(ActorKind(kind), ident)
        except ValueError:
            raise InvalidInputError(f"unknown actor {text!r}") from None

    @classmethod
    def staff(cls, staff_id: str) -> Actor:
        return cls(ActorKind.STAFF, staff_id)

    @classmethod
    def system(cls, rule: str) -> Actor:
        return cls(ActorKind.SYSTEM, rule)


_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one ISO 4217 currency; amounts are always `Decimal`, never float."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidInputError("money amounts must be decimals")
        if not self.amount.is_finite():
            raise InvalidInputError("money amounts must be finite")
        if not _CURRENCY.match(self.currency):
            raise InvalidInputError(
                f"currency must be a three-letter ISO 4217 code, not {self.currency!r}")


def enum_value(enum: type[Enum], raw: str, what: str) -> str:
    """Validate `raw` against an enumeration and return its canonical value."""
    try:
        return str(enum(raw).value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise InvalidInputError(f"unknown {what} {raw!r}; expected one of: {allowed}") from None
