"""The Conversation aggregate: one place on a channel where a client talks to us.

A Telegram group or private chat, a web chat visitor, a phone number: whatever the channel calls
the place. Its id derives from the channel and that name, so routing finds it without a query;
it knows the account (and contact) it belongs to and the case its messages currently join.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStateError

_NAMESPACE = UUID("6f0c1d52-3a2b-4c0e-9a51-2b7d0c9e8f11")


class Conversation(Aggregate):
    """Where a client talks to us on one channel, bound to their account."""

    TOPIC = "carelog:Conversation"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Conversation.Created"

    @staticmethod
    def id_for(channel: str, conversation: str) -> UUID:
        return uuid5(_NAMESPACE, f"conversation/{channel}/{conversation}")

    @event("Bound", topic="carelog:Conversation.Bound")
    def __init__(self, id: UUID, channel: str, conversation: str, account_id: UUID,
                 contact_id: UUID | None, title: str, link_code_id: UUID | None,
                 occurred_at: datetime, actor: str) -> None:
        self.channel = channel
        self.conversation = conversation
        self.account_id = account_id
        self.contact_id = contact_id
        self.title = title
        self.current_case_id: UUID | None = None
        self.unbound = False

    def follow_case(self, case_id: UUID, occurred_at: datetime, actor: str) -> None:
        """New messages here join this case until it is closed or another one starts."""
        if self.unbound:
            raise InvalidStateError("the conversation is no longer bound to the account")
        if case_id != self.current_case_id:
            self._case_started(case_id, occurred_at, actor)

    def unbind(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.unbound:
            raise InvalidStateError("the conversation is already unbound")
        self._unbind(reason, occurred_at, actor)

    @event("CaseStarted", topic="carelog:Conversation.CaseStarted")
    def _case_started(self, case_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.current_case_id = case_id

    @event("Unbound", topic="carelog:Conversation.Unbound")
    def _unbind(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.unbound = True
        self.current_case_id = None
