"""The Conversation aggregate: one place on a channel where a client talks to us.

A Telegram group or private chat, a web chat visitor, a phone number: whatever the channel calls
the place. Its id derives from the channel and that name, so routing finds it without a query;
it knows the account (and contact) it belongs to and the case its messages currently join.

A place may hold topics (a Telegram forum supergroup has one per subject): a message's
conversation is then `<place>/<topic>` (`in_topic`; on Telegram only, where a chat id never
holds a slash, while a phone number may). The binding is the place's, so every topic
of a linked group reaches the room, while each topic follows its own case; the place itself
(a forum's General topic) follows the case it always did.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidStateError
from domain.values import Channel

_NAMESPACE = UUID("6f0c1d52-3a2b-4c0e-9a51-2b7d0c9e8f11")
TOPIC_SEPARATOR = "/"
_WITH_TOPICS = frozenset({Channel.TELEGRAM.value})


def in_topic(place: str, topic: str | None) -> str:
    """The conversation of a topic within a place (the place itself for no topic)."""
    return place if topic is None else f"{place}{TOPIC_SEPARATOR}{topic}"


def split_topic(channel: str, conversation: str) -> tuple[str, str | None]:
    """(place, topic) of a conversation; topic None when it names the place itself."""
    if channel not in _WITH_TOPICS:
        return conversation, None
    place, sep, topic = conversation.partition(TOPIC_SEPARATOR)
    return (place, topic) if sep and topic else (conversation, None)


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
        """The binding of the place: a topic's conversation finds its place's."""
        place, _ = split_topic(channel, conversation)
        return uuid5(_NAMESPACE, f"conversation/{channel}/{place}")

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
        self.topic_cases: dict[str, UUID] = {}
        """The case each topic's messages currently join."""
        self.topic_names: dict[str, str] = {}
        self.unbound = False

    def case_in(self, topic: str | None) -> UUID | None:
        """The case messages in this topic (None: the place itself) currently join."""
        return self.current_case_id if topic is None else self.topic_cases.get(topic)

    def case_of(self, conversation: str) -> UUID | None:
        """The case a message said in `conversation` (here, or in one of its topics) joins."""
        return self.case_in(split_topic(self.channel, conversation)[1])

    def follow_case(self, case_id: UUID, occurred_at: datetime, actor: str,
                    topic: str | None = None) -> None:
        """New messages here (in `topic`) join this case until it is closed or another one
        starts."""
        if self.unbound:
            raise InvalidStateError("the conversation is no longer bound to the account")
        if case_id == self.case_in(topic):
            return
        if topic is None:
            self._case_started(case_id, occurred_at, actor)
        else:
            self._topic_case_started(topic, case_id, occurred_at, actor)

    def name_topic(self, topic: str, name: str, occurred_at: datetime, actor: str) -> bool:
        """A topic was created or renamed; False when it had that name already."""
        if self.unbound:
            raise InvalidStateError("the conversation is no longer bound to the account")
        if self.topic_names.get(topic) == name:
            return False
        self._topic_named(topic, name, occurred_at, actor)
        return True

    def unbind(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.unbound:
            raise InvalidStateError("the conversation is already unbound")
        self._unbind(reason, occurred_at, actor)

    @event("CaseStarted", topic="carelog:Conversation.CaseStarted")
    def _case_started(self, case_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.current_case_id = case_id

    @event("TopicCaseStarted", topic="carelog:Conversation.TopicCaseStarted")
    def _topic_case_started(self, topic: str, case_id: UUID, occurred_at: datetime,
                            actor: str) -> None:
        self.topic_cases[topic] = case_id

    @event("TopicNamed", topic="carelog:Conversation.TopicNamed")
    def _topic_named(self, topic: str, name: str, occurred_at: datetime, actor: str) -> None:
        self.topic_names[topic] = name

    @event("Unbound", topic="carelog:Conversation.Unbound")
    def _unbind(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.unbound = True
        self.current_case_id = None
        self.topic_cases = {}
