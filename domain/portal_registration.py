"""The PortalRegistration aggregate: a contact's request for portal access, confirmed by mail.

Someone at one of an account's email domains asks for access; a single-use link goes to that
address. The link's secret is never stored: the aggregate's id derives from its SHA-256 digest
(as a `Credential`'s does), so the secret itself is the lookup. It expires, and it confirms once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStateError

_NAMESPACE = UUID("8f0d2b61-3c47-4e9a-b5d8-1e6a7c2f9b34")
LIFETIME = timedelta(hours=24)


class PortalRegistration(Aggregate):
    """A registration waiting for its address to be confirmed."""

    TOPIC = "carelog:PortalRegistration"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:PortalRegistration.Created"

    @staticmethod
    def id_for(digest: str) -> UUID:
        """`digest`: the hex SHA-256 of the link's secret."""
        return uuid5(_NAMESPACE, f"portal-registration/{digest}")

    @event("Requested", topic="carelog:PortalRegistration.Requested")
    def __init__(self, id: UUID, account_id: UUID, email: str, name: str,
                 expires_at: datetime, occurred_at: datetime, actor: str) -> None:
        self.account_id = account_id
        self.email = email
        self.name = name
        self.expires_at = expires_at
        self.confirmed = False

    def confirm(self, user_id: UUID, occurred_at: datetime, actor: str) -> None:
        if self.confirmed:
            raise InvalidStateError("this link was already used: sign in, or register again "
                                    "for a new link")
        if occurred_at >= self.expires_at:
            raise InvalidStateError("this link has expired: register again for a new one")
        self._confirmed(user_id, occurred_at, actor)

    @event("Confirmed", topic="carelog:PortalRegistration.Confirmed")
    def _confirmed(self, user_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.confirmed = True
