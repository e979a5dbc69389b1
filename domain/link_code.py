"""The LinkCode aggregate: a one-time code that binds a chat to an account's room.

A manager issues a code in Carelog and a client types `/link CODE` in their Telegram group (or
private chat, for a code issued to one contact). The aggregate's id derives from the code, so the
code itself is the lookup; it expires, and it binds exactly one conversation.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, InvalidStateError

_NAMESPACE = UUID("0b9e4c7a-52d1-4f6e-8c3b-7a1d2e9f4c60")
# No 0/O or 1/I/L: the code is read off a screen and typed into a chat.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
LIFETIME = timedelta(hours=24)


def new_code() -> str:
    """About 50 bits: guessing one of the few live codes within a day is hopeless."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    code = code.strip().upper().replace("-", "").replace(" ", "")
    if len(code) != CODE_LENGTH or any(c not in _ALPHABET for c in code):
        raise InvalidInputError("that is not a Carelog link code")
    return code


class LinkCode(Aggregate):
    """A one-time, expiring code that binds a conversation to an account (and contact)."""

    TOPIC = "carelog:LinkCode"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:LinkCode.Created"

    @staticmethod
    def id_for(code: str) -> UUID:
        return uuid5(_NAMESPACE, f"link-code/{normalise_code(code)}")

    @event("Issued", topic="carelog:LinkCode.Issued")
    def __init__(self, id: UUID, account_id: UUID, contact_id: UUID | None, channel: str,
                 expires_at: datetime, occurred_at: datetime, actor: str) -> None:
        self.account_id = account_id
        self.contact_id = contact_id
        self.channel = channel
        self.expires_at = expires_at
        self.redeemed_by: str | None = None

    def redeem(self, channel: str, conversation: str, occurred_at: datetime, actor: str) -> None:
        if self.redeemed_by is not None:
            raise InvalidStateError("this link code was already used")
        if occurred_at >= self.expires_at:
            raise InvalidStateError("this link code has expired; ask for a new one")
        if channel != self.channel:
            raise InvalidStateError(f"this link code is for {self.channel}, not {channel}")
        self._redeem(conversation, occurred_at, actor)

    @event("Redeemed", topic="carelog:LinkCode.Redeemed")
    def _redeem(self, conversation: str, occurred_at: datetime, actor: str) -> None:
        self.redeemed_by = conversation
