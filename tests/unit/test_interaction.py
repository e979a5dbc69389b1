"""Interactions: duplicate deliveries are answered as duplicates, bad messages are refused."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.application import RefusedChannelError
from domain.errors import InvalidInputError, NotFoundError
from domain.interaction import MAX_TEXT, Interaction
from tests.unit.helpers import CLIENT, STAFF, events, head, nothing_written, topics

RECORDED = "carelog:Interaction.Recorded"


def open_case(desk, account_id, **kwargs):
    fields = {"channel": "email", "subject": "Cannot log in", "text": "Hello"} | kwargs
    return desk.open_case(account_id=account_id, actor=CLIENT, **fields)


def record(desk, account_id, **kwargs):
    fields = {"channel": "email", "direction": "inbound", "text": "One more thing"} | kwargs
    return desk.record_interaction(account_id=account_id, actor=CLIENT, **fields)


@pytest.fixture
def case_id(desk, account_id):
    return open_case(desk, account_id).ids["caseId"]


# Duplicate delivery ---------------------------------------------------------------------


def test_opening_a_case_twice_from_the_same_message_is_a_duplicate(desk, account_id):
    first = open_case(desk, account_id, external_message_id="<m1@client.example>")

    with nothing_written(desk):
        again = open_case(desk, account_id, external_message_id="<m1@client.example>")

    assert first.duplicate is False
    assert again.duplicate is True
    assert again.ids == first.ids
    assert again.notification_id == first.notification_id
    assert topics(desk).count(RECORDED) == 1
    assert topics(desk).count("carelog:Case.Opened") == 1


def test_the_interaction_id_derives_from_the_channel_message_id(desk, account_id):
    result = open_case(desk, account_id, external_message_id="<m1@client.example>")

    assert result.ids["interactionId"] == Interaction.id_for(
        account_id, "email", "inbound", "<m1@client.example>")


def test_the_same_message_id_on_another_channel_is_another_message(desk, vip_account_id):
    by_mail = open_case(desk, vip_account_id, channel="email", external_message_id="42")
    by_chat = open_case(desk, vip_account_id, channel="telegram", external_message_id="42")

    assert by_chat.duplicate is False
    assert by_chat.ids["caseId"] != by_mail.ids["caseId"]


def test_recording_a_message_twice_is_a_duplicate(desk, account_id, case_id):
    first = record(desk, account_id, case_id=case_id, external_message_id="m2")

    with nothing_written(desk):
        again = record(desk, account_id, case_id=case_id, external_message_id="m2")

    assert again.duplicate is True
    assert again.ids == first.ids == {"interactionId": first.ids["interactionId"]}
    assert [e.external_id for e in events(desk, RECORDED)].count("m2") == 1


def test_a_message_recorded_first_is_a_duplicate_when_it_later_opens_a_case(desk, account_id):
    recorded = record(desk, account_id, external_message_id="m3")

    with nothing_written(desk):
        opened = open_case(desk, account_id, external_message_id="m3")

    assert opened.duplicate is True
    assert opened.ids == {"interactionId": recorded.ids["interactionId"]}


def test_a_refused_channel_message_delivered_twice_is_stored_once(desk, account_id):
    with pytest.raises(RefusedChannelError) as info:
        open_case(desk, account_id, channel="telegram", external_message_id="tg-7")

    with nothing_written(desk):
        again = open_case(desk, account_id, channel="telegram", external_message_id="tg-7")

    assert again.duplicate is True
    assert again.ids == {"interactionId": info.value.result.ids["interactionId"]}
    assert topics(desk).count(RECORDED) == 1


def test_a_refused_channel_message_recorded_twice_is_answered_as_a_duplicate(desk, account_id):
    with pytest.raises(RefusedChannelError) as info:
        record(desk, account_id, channel="phone", external_message_id="call-9")

    with nothing_written(desk):
        again = record(desk, account_id, channel="phone", external_message_id="call-9")

    assert again.duplicate is True
    assert again.ids == info.value.result.ids


def test_a_reply_sent_twice_with_the_same_message_id_is_stored_once(desk, case_id):
    first = desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                               external_message_id="out-1")

    with nothing_written(desk):
        again = desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                                   external_message_id="out-1")

    assert again.duplicate is True
    assert again.ids == first.ids
    assert topics(desk).count("carelog:Case.Replied") == 1
    assert [e.direction for e in events(desk, RECORDED)] == ["inbound", "outbound"]


def test_replies_without_a_message_id_are_separate_messages(desk, case_id):
    a = desk.reply_to_case(case_id=case_id, text="One", agent="Ann", actor=STAFF)
    b = desk.reply_to_case(case_id=case_id, text="Two", agent="Ann", actor=STAFF)

    assert a.ids["interactionId"] != b.ids["interactionId"]
    assert topics(desk).count("carelog:Case.Replied") == 2


def test_a_redelivered_reply_to_a_case_closed_meanwhile_is_still_a_duplicate(desk, case_id):
    desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                       external_message_id="out-1")
    desk.close_case(case_id=case_id, actor=STAFF)

    with nothing_written(desk):
        again = desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                                   external_message_id="out-1")
    assert again.duplicate is True


def test_a_redelivered_reply_with_its_original_expected_version_is_a_duplicate(desk, case_id):
    first = desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                               external_message_id="out-1", expected_version=1)

    again = desk.reply_to_case(case_id=case_id, text="Fixed.", agent="Ann", actor=STAFF,
                               external_message_id="out-1", expected_version=1)

    assert again.duplicate is True
    assert again.ids == first.ids


def test_the_same_message_id_from_another_account_is_not_a_duplicate(desk, open_account):
    first_account = open_account(name="First Ltd")
    other_account = open_account(name="Other Ltd")
    first = record(desk, first_account, channel="api", external_message_id="req-1")

    other = record(desk, other_account, channel="api", external_message_id="req-1")

    assert other.duplicate is False
    assert other.ids["interactionId"] != first.ids["interactionId"]
    assert desk.repository.get(other.ids["interactionId"]).account_id == other_account


# What is stored ---------------------------------------------------------------------------


def test_message_text_is_stored_as_received(desk, account_id):
    result = record(desk, account_id, text="  Hello,\n\n  see below.  ")

    stored = events(desk, RECORDED)[-1]
    assert stored.originator_id == result.ids["interactionId"]
    assert stored.text == "  Hello,\n\n  see below.  "


def test_the_sender_defaults_to_the_actor(desk, account_id):
    record(desk, account_id)
    record(desk, account_id, sender="Bob Client <bob@client.example>")

    assert [e.sender for e in events(desk, RECORDED)] == [
        CLIENT, "Bob Client <bob@client.example>"]


def test_a_message_may_name_a_contact_of_its_account(desk, account_id):
    contact_id = desk.add_contact(account_id=account_id, name="Bob", email="bob@client.example",
                                  role="user", actor=STAFF).ids["contactId"]

    record(desk, account_id, contact_id=contact_id)

    assert events(desk, RECORDED)[-1].contact_id == contact_id


def test_a_text_of_exactly_max_text_characters_is_accepted(desk, account_id):
    record(desk, account_id, text="x" * MAX_TEXT)

    assert len(events(desk, RECORDED)[-1].text) == MAX_TEXT


def test_an_outbound_message_on_a_channel_outside_the_plan_is_recorded_as_allowed(
        desk, account_id):
    result = record(desk, account_id, channel="phone", direction="outbound",
                    text="Called back")

    assert result.duplicate is False
    assert desk.repository.get(result.ids["interactionId"]).channel_allowed is True


def test_an_inbound_message_outside_the_plan_is_recorded_then_refused(desk, account_id):
    with pytest.raises(RefusedChannelError) as info:
        record(desk, account_id, channel="phone")

    stored = desk.repository.get(info.value.result.ids["interactionId"])
    assert stored.channel_allowed is False
    assert info.value.result.notification_id == head(desk)


# Bad input --------------------------------------------------------------------------------

BAD_TEXT = [
    pytest.param("", "must not be empty", id="empty"),
    pytest.param(" \t\n ", "must not be empty", id="whitespace"),
    pytest.param("x" * (MAX_TEXT + 1), f"longer than {MAX_TEXT}", id="too-long"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
def test_opening_a_case_with_bad_text_is_refused(desk, account_id, text, message):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message) as info:
        open_case(desk, account_id, text=text)
    assert info.value.code == "INVALID_INPUT"


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
def test_recording_a_message_with_bad_text_is_refused(desk, account_id, text, message):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        record(desk, account_id, text=text)


@pytest.mark.parametrize(("text", "message"), BAD_TEXT)
def test_replying_with_bad_text_is_refused(desk, case_id, text, message):
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.reply_to_case(case_id=case_id, text=text, agent="Ann", actor=STAFF)


def test_an_unknown_channel_is_refused_with_the_known_ones(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError) as info:
        record(desk, account_id, channel="fax")
    assert info.value.message == ("unknown channel 'fax'; expected one of: email, telegram, "
                                  "web_chat, portal, phone, web_form, api, room")


def test_opening_a_case_on_an_unknown_channel_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="unknown channel"):
        open_case(desk, account_id, channel="pigeon")


def test_a_reply_on_an_unknown_channel_is_refused(desk, case_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="unknown channel"):
        desk.reply_to_case(case_id=case_id, text="Hi", agent="Ann", actor=STAFF,
                           channel="pigeon")


def test_an_unknown_direction_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError,
                                              match="unknown direction 'sideways'"):
        record(desk, account_id, direction="sideways")


def test_a_blank_external_message_id_is_refused(desk, account_id):
    with nothing_written(desk), pytest.raises(InvalidInputError, match="external message id"):
        record(desk, account_id, external_message_id="   ")


def test_a_message_for_an_unknown_account_is_not_found(desk):
    missing = uuid4()
    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        record(desk, missing)
    assert info.value.message == f"account {missing} not found"
    assert info.value.code == "NOT_FOUND"


def test_a_message_for_an_unknown_case_is_not_found(desk, account_id):
    missing = uuid4()
    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        record(desk, account_id, case_id=missing)
    assert info.value.message == f"case {missing} not found"


def test_a_case_of_another_account_answers_exactly_like_a_missing_case(
        desk, account_id, open_account):
    foreign_case = open_case(desk, open_account(name="Other Ltd")).ids["caseId"]

    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        record(desk, account_id, case_id=foreign_case)

    assert info.value.code == "NOT_FOUND"
    assert info.value.message == f"case {foreign_case} not found"


def test_an_account_id_passed_as_a_case_answers_like_a_missing_case(desk, account_id):
    with nothing_written(desk), pytest.raises(NotFoundError) as info:
        record(desk, account_id, case_id=account_id)
    assert info.value.message == f"case {account_id} not found"


def test_a_contact_of_another_account_is_not_found(desk, account_id, open_account):
    other = open_account(name="Other Ltd")
    foreign_contact = desk.add_contact(account_id=other, name="Eve", email="eve@other.example",
                                       role="user", actor=STAFF).ids["contactId"]

    with nothing_written(desk), pytest.raises(NotFoundError, match="contact") as info:
        record(desk, account_id, contact_id=foreign_contact)
    assert info.value.message == f"contact {foreign_contact} not found on this account"

    with nothing_written(desk), pytest.raises(NotFoundError, match="contact"):
        open_case(desk, account_id, contact_id=foreign_contact)


def test_a_reply_to_an_unknown_case_is_not_found(desk):
    with nothing_written(desk), pytest.raises(NotFoundError, match="case"):
        desk.reply_to_case(case_id=uuid4(), text="Hi", agent="Ann", actor=STAFF)
