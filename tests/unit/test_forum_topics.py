"""A Telegram forum supergroup linked to a room: each topic is a subject with its own case."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import Arrival, CareDesk
from domain.conversation import Conversation, in_topic, split_topic
from domain.errors import InvalidInputError, NotFoundError
from domain.ports import InboundMessage
from integrations.clock import FakeClock
from tests.unit.helpers import STAFF, events, nothing_written

FORUM = "-100777"
BILLING, OUTAGE = in_topic(FORUM, "3"), in_topic(FORUM, "5")


def said(message_id: int, text: str, conversation: str, clock: FakeClock) -> InboundMessage:
    return InboundMessage(channel="telegram", external_id=f"{FORUM}:{message_id}",
                          conversation=conversation, sender="42", sender_name="Eva Client",
                          text=text, occurred_at=clock.now())


@pytest.fixture
def forum(desk: CareDesk, vip_account_id: UUID) -> UUID:
    code = desk.issue_link_code(account_id=vip_account_id, actor=STAFF).extra["code"]
    desk.redeem_link_code(code=code, channel="telegram", conversation=FORUM, title="Big Client",
                          actor="telegram")
    return vip_account_id


def receive(desk: CareDesk, account_id: UUID, message: InboundMessage) -> UUID:
    return desk.receive_message(message=message, account_id=account_id,
                                actor="telegram").ids["caseId"]


def test_a_topic_is_a_place_within_the_chat_on_telegram_only() -> None:
    assert split_topic("telegram", BILLING) == (FORUM, "3")
    assert split_topic("telegram", FORUM) == (FORUM, None)
    assert split_topic("phone", "030/1234567") == ("030/1234567", None)
    assert Conversation.id_for("telegram", BILLING) == Conversation.id_for("telegram", FORUM)
    assert Conversation.id_for("phone", "030/1") != Conversation.id_for("phone", "030")


def test_each_topic_opens_its_own_case_and_its_messages_join_it(desk, forum, clock):
    billing = receive(desk, forum, said(10, "Invoice 11 is wrong", BILLING, clock))
    outage = receive(desk, forum, said(11, "The export is down", OUTAGE, clock))
    assert billing != outage
    clock.advance(timedelta(minutes=1))
    assert receive(desk, forum, said(12, "It says 400 EUR", BILLING, clock)) == billing
    assert receive(desk, forum, said(13, "Still down", OUTAGE, clock)) == outage
    chat = desk.conversation("telegram", FORUM)
    assert chat is not None
    assert chat.topic_cases == {"3": billing, "5": outage}
    assert chat.current_case_id is None  # the General topic has no case yet
    assert desk.interaction(desk.case(billing).opening_interaction_id).conversation == BILLING
    assert len(events(desk, "carelog:Conversation.TopicCaseStarted")) == 2
    assert events(desk, "carelog:Conversation.CaseStarted") == []


def test_the_general_topic_keeps_the_chats_own_case(desk, forum, clock):
    general = receive(desk, forum, said(20, "Hello all", FORUM, clock))
    topic = receive(desk, forum, said(21, "Invoice 11 is wrong", BILLING, clock))
    assert topic != general
    assert receive(desk, forum, said(22, "Anyone?", FORUM, clock)) == general


def test_a_closed_topic_case_gives_way_to_a_new_one_in_that_topic(desk, forum, clock):
    first = receive(desk, forum, said(30, "Invoice 11 is wrong", BILLING, clock))
    desk.resolve_case(case_id=first, actor=STAFF)
    desk.close_case(case_id=first, actor=STAFF)
    second = receive(desk, forum, said(31, "Invoice 12 too", BILLING, clock))
    assert second != first
    assert desk.conversation("telegram", FORUM).case_in("3") == second


def test_a_named_topic_gives_its_case_the_subject(desk, forum, clock):
    named = desk.name_topic(channel="telegram", conversation=BILLING, name="Billing questions",
                            actor="telegram")
    with nothing_written(desk):
        again = desk.name_topic(channel="telegram", conversation=BILLING,
                                name="Billing questions", actor="telegram")
    assert again.duplicate
    assert not named.duplicate
    billing = receive(desk, forum, said(40, "Invoice 11 is wrong", BILLING, clock))
    outage = receive(desk, forum, said(41, "The export is down", OUTAGE, clock))
    assert desk.case(billing).subject == "Billing questions"
    assert desk.case(outage).subject == "The export is down"  # no name seen: the first line


def test_naming_needs_a_topic_of_a_linked_chat(desk, forum):
    with nothing_written(desk), pytest.raises(NotFoundError, match="linked"):
        desk.name_topic(channel="telegram", conversation="-100999/3", name="Billing",
                        actor="telegram")
    with nothing_written(desk), pytest.raises(InvalidInputError, match="no topic"):
        desk.name_topic(channel="telegram", conversation=FORUM, name="Billing",
                        actor="telegram")


def test_a_batch_with_two_topics_opens_two_cases(desk, forum, clock):
    arrivals = [Arrival(said(50 + i, text, place, clock), forum, "telegram")
                for i, (text, place) in enumerate([("Invoice wrong", BILLING),
                                                   ("Export down", OUTAGE),
                                                   ("400 EUR", BILLING)])]
    outcomes = desk.receive_messages(arrivals)
    cases = [o.ids["caseId"] for o in outcomes if not isinstance(o, Exception)]
    assert len(cases) == 3
    assert cases[0] == cases[2] != cases[1]


def test_a_batch_reads_the_case_of_its_topic_not_of_every_topic(desk, forum, clock):
    arrivals = [Arrival(said(60 + i, f"Topic {i}", in_topic(FORUM, str(i)), clock), forum,
                        "telegram") for i in range(1, 6)]
    opened = [o.ids["caseId"] for o in desk.receive_messages(arrivals)
              if not isinstance(o, Exception)]
    assert len(set(opened)) == 5
    read = desk.conversations([("telegram", in_topic(FORUM, "2"))])
    assert opened[1] in read
    assert not {opened[0], *opened[2:]} & set(read)
