"""Routing client messages from any channel to the case they belong to, and chat binding."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import CareDesk, RefusedChannelError
from domain.case import Case
from domain.errors import (
    ChannelNotAllowedError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
)
from domain.interaction import Interaction
from domain.ports import Attachment, DeliveryReceipt, InboundMessage
from integrations.clock import FakeClock
from tests.unit.helpers import STAFF, events, nothing_written

GROUP = "-100123"


def said(external_id: str, text: str = "Hello", *, channel: str = "telegram",
         conversation: str = GROUP, clock: FakeClock, **kwargs: object) -> InboundMessage:
    return InboundMessage(channel=channel, external_id=external_id, conversation=conversation,
                          sender="42", sender_name="Eva Client", text=text,
                          occurred_at=clock.now(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def bound(desk: CareDesk, vip_account_id: UUID) -> UUID:
    code = desk.issue_link_code(account_id=vip_account_id, actor=STAFF).extra["code"]
    desk.redeem_link_code(code=code, channel="telegram", conversation=GROUP, title="Big Client",
                          actor="telegram")
    return vip_account_id


def test_a_link_code_binds_one_chat_once(desk, vip_account_id, clock):
    issued = desk.issue_link_code(account_id=vip_account_id, actor=STAFF)
    code = issued.extra["code"]
    assert len(code) == 10
    assert issued.extra["expiresAt"] == clock.now() + timedelta(hours=24)
    result = desk.redeem_link_code(code=code.lower(), channel="telegram", conversation=GROUP,
                                   title="Big Client", actor="telegram")
    assert result.ids["accountId"] == vip_account_id
    chat = desk.conversation("telegram", GROUP)
    assert chat is not None
    assert chat.account_id == vip_account_id
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already used"):
        desk.redeem_link_code(code=code, channel="telegram", conversation="-100999",
                              title="Other", actor="telegram")
    # The code never reaches the log.
    assert all(code not in repr(e.__dict__) for e in events(desk, "carelog:LinkCode.Issued"))


def test_an_expired_or_unknown_code_binds_nothing(desk, vip_account_id, clock):
    code = desk.issue_link_code(account_id=vip_account_id, actor=STAFF).extra["code"]
    clock.advance(timedelta(hours=24))
    with nothing_written(desk), pytest.raises(InvalidStateError, match="expired"):
        desk.redeem_link_code(code=code, channel="telegram", conversation=GROUP, title="x",
                              actor="telegram")
    with nothing_written(desk), pytest.raises(InvalidInputError, match="not valid"):
        desk.redeem_link_code(code="ABCDEFGHJK", channel="telegram", conversation=GROUP,
                              title="x", actor="telegram")
    with nothing_written(desk), pytest.raises(InvalidInputError, match="not a Carelog"):
        desk.redeem_link_code(code="0000", channel="telegram", conversation=GROUP, title="x",
                              actor="telegram")


def test_a_linked_chat_cannot_be_linked_again(desk, bound, open_account):
    other = open_account(name="Other AG", tier="vip")
    code = desk.issue_link_code(account_id=other, actor=STAFF).extra["code"]
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already linked"):
        desk.redeem_link_code(code=code, channel="telegram", conversation=GROUP, title="x",
                              actor="telegram")


def test_messages_in_a_chat_join_its_open_case_until_it_is_closed(desk, bound, clock):
    first = desk.receive_message(message=said("-100123:1", "Export is broken", clock=clock),
                                 account_id=bound, actor="telegram")
    case_id = first.ids["caseId"]
    clock.advance(timedelta(minutes=2))
    second = desk.receive_message(message=said("-100123:2", "Since this morning", clock=clock),
                                  account_id=bound, actor="telegram")
    assert second.ids["caseId"] == case_id
    desk.resolve_case(case_id=case_id, actor=STAFF)
    third = desk.receive_message(message=said("-100123:3", "Still broken", clock=clock),
                                 account_id=bound, actor="telegram")
    assert third.ids["caseId"] == case_id
    assert desk.repository.get(case_id).status == "open"  # reopened by the client
    desk.resolve_case(case_id=case_id, actor=STAFF)
    desk.close_case(case_id=case_id, actor=STAFF)
    fourth = desk.receive_message(message=said("-100123:4", "New question", clock=clock),
                                  account_id=bound, actor="telegram")
    assert fourth.ids["caseId"] != case_id
    assert desk.conversation("telegram", GROUP).current_case_id == fourth.ids["caseId"]


def test_a_redelivered_message_is_stored_once(desk, bound, clock):
    message = said("-100123:7", clock=clock)
    first = desk.receive_message(message=message, account_id=bound, actor="telegram")
    with nothing_written(desk):
        again = desk.receive_message(message=message, account_id=bound, actor="telegram")
    assert again.duplicate
    assert again.ids == first.ids


def test_an_edit_changes_the_message_and_is_recorded_once(desk, bound, clock):
    first = desk.receive_message(message=said("-100123:8", "Helo", clock=clock),
                                 account_id=bound, actor="telegram")
    edit = said("-100123:8:edit:1700000000", "Hello", clock=clock, edit_of="-100123:8")
    result = desk.receive_message(message=edit, account_id=bound, actor="telegram")
    assert result.ids == {"interactionId": first.ids["interactionId"]}
    with nothing_written(desk):
        assert desk.receive_message(message=edit, account_id=bound, actor="telegram").duplicate
    interaction = desk.repository.get(first.ids["interactionId"])
    assert isinstance(interaction, Interaction)
    assert interaction.text == "Hello"
    assert len(events(desk, "carelog:Interaction.Edited")) == 1


def test_an_email_reply_joins_the_case_of_the_message_it_answers(desk, account_id, clock):
    desk.add_contact(account_id=account_id, name="Eva", email="eva@acme.example", role="user",
                     actor=STAFF)
    opening = said("m1@acme.example", "Invoice question", channel="email",
                   conversation="eva@acme.example", subject="Invoice", clock=clock,
                   attachments=(Attachment("inv.pdf", "application/pdf", 1234),))
    case_id = desk.receive_message(message=opening, account_id=account_id,
                                   actor="email").ids["caseId"]
    case = desk.repository.get(case_id)
    assert isinstance(case, Case)
    assert case.subject == "Invoice"
    reply = said("m2@acme.example", "More details", channel="email",
                 conversation="eva@acme.example", subject="Re: Invoice", clock=clock,
                 thread=("m0@elsewhere", "m1@acme.example"))
    assert desk.receive_message(message=reply, account_id=account_id,
                                actor="email").ids["caseId"] == case_id
    fresh = said("m3@acme.example", "Another topic", channel="email",
                 conversation="eva@acme.example", subject="Other", clock=clock)
    assert desk.receive_message(message=fresh, account_id=account_id,
                                actor="email").ids["caseId"] != case_id
    tagged = said("m4@acme.example", "About that", channel="email",
                  conversation="eva@acme.example", subject="[CL] Invoice", clock=clock,
                  case_ref=str(case_id))
    assert desk.receive_message(message=tagged, account_id=account_id,
                                actor="email").ids["caseId"] == case_id


def test_a_case_tag_of_another_account_opens_a_new_case(desk, account_id, open_account, clock):
    other = open_account(name="Other AG")
    foreign = desk.receive_message(
        message=said("x1", "hi", channel="email", conversation="a@o.example", clock=clock),
        account_id=other, actor="email").ids["caseId"]
    mine = desk.receive_message(
        message=said("x2", "hi", channel="email", conversation="b@acme.example", clock=clock,
                     case_ref=str(foreign)), account_id=account_id, actor="email")
    assert mine.ids["caseId"] != foreign


def test_an_auto_reply_is_recorded_and_opens_nothing(desk, account_id, clock):
    result = desk.receive_message(
        message=said("ooo1", "I am out of office", channel="email", conversation="a@acme.example",
                     clock=clock, automated=True), account_id=account_id, actor="email")
    assert "caseId" not in result.ids
    assert events(desk, "carelog:Case.Opened") == []


def test_a_message_on_a_channel_off_the_plan_is_kept_and_refused(desk, account_id, clock):
    with pytest.raises(RefusedChannelError) as info:
        desk.receive_message(message=said("t1", clock=clock), account_id=account_id,
                             actor="telegram")
    assert "email" in info.value.allowed
    assert len(events(desk, "carelog:Interaction.Recorded")) == 1
    assert events(desk, "carelog:Case.Opened") == []


def test_room_posts_and_their_delivery_are_recorded(desk, bound):
    posted = desk.post_to_room(account_id=bound, text="Maintenance tonight", author="Ann",
                               actor=STAFF)
    interaction_id = posted.ids["interactionId"]
    desk.attempt_delivery(interaction_id=interaction_id, actor="delivery")
    desk.record_delivery(interaction_id=interaction_id,
                         receipt=DeliveryReceipt(delivered=True, external_id="-100123:99"),
                         actor="delivery")
    assert desk.repository.get(interaction_id).delivery == "delivered"
    with pytest.raises(InvalidStateError):
        desk.attempt_delivery(interaction_id=interaction_id, actor="delivery")


def test_email_domains_are_company_domains(desk, account_id):
    desk.set_email_domains(account_id=account_id, domains=["Acme.example", "@acme.de"],
                           actor=STAFF)
    assert desk.repository.get(account_id).email_domains == ["acme.de", "acme.example"]
    with nothing_written(desk), pytest.raises(InvalidInputError, match="public mail"):
        desk.set_email_domains(account_id=account_id, domains=["gmail.com"], actor=STAFF)
    with nothing_written(desk), pytest.raises(InvalidInputError, match="not a mail domain"):
        desk.set_email_domains(account_id=account_id, domains=["no domain"], actor=STAFF)


def test_a_link_code_for_a_foreign_contact_is_refused(desk, vip_account_id):
    with nothing_written(desk), pytest.raises(NotFoundError):
        desk.issue_link_code(account_id=vip_account_id, actor=STAFF, contact_id=UUID(int=5))


def test_no_link_code_for_a_plan_without_telegram(desk, account_id):
    with nothing_written(desk), pytest.raises(ChannelNotAllowedError, match="Please contact"):
        desk.issue_link_code(account_id=account_id, actor=STAFF)


def test_vip_cases_can_open_straight_on_line_two(desk, vip_account_id, account_id, clock):
    desk.vip_line = 2
    vip = desk.receive_message(message=said("v1", channel="email", conversation="a@b.example",
                                            clock=clock), account_id=vip_account_id,
                               actor="email").ids["caseId"]
    other = desk.receive_message(message=said("s1", channel="email", conversation="a@b.example",
                                              clock=clock), account_id=account_id,
                                 actor="email").ids["caseId"]
    assert (desk.repository.get(vip).line, desk.repository.get(other).line) == (2, 1)
