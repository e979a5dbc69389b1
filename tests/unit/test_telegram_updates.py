"""Reading Bot API updates, on payloads shaped like https://core.telegram.org/bots/api#update."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.ports import Attachment
from integrations.telegram.updates import (
    BotIdentity,
    ChatMigrated,
    Ignored,
    InvalidUpdateError,
    LinkRequest,
    TelegramMessage,
    TopicNamed,
    parse_update,
    split_external_id,
)

BOT = BotIdentity(id=7000000001, username="CarelogBot")
DATE = 1764601200  # 2025-12-01 15:00:00 UTC
ANNA = {"id": 111222333, "is_bot": False, "first_name": "Anna", "last_name": "Berg",
        "username": "annab", "language_code": "de"}
GROUP = {"id": -1001234567890, "title": "Acme <> Support", "type": "supergroup"}
PRIVATE = {"id": 111222333, "first_name": "Anna", "last_name": "Berg", "username": "annab",
           "type": "private"}


def message(text: str | None = "Hello, the export fails", chat: dict[str, Any] = PRIVATE,
            message_id: int = 42, sender: dict[str, Any] | None = ANNA,
            **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"message_id": message_id, "date": DATE, "chat": chat}
    if sender is not None:
        raw["from"] = sender
    if text is not None:
        raw["text"] = text
    raw.update(extra)
    return raw


def update(update_id: int = 10, kind: str = "message", **fields: Any) -> dict[str, Any]:
    return {"update_id": update_id, kind: message(**fields)}


def read(raw: Any) -> TelegramMessage:
    parsed = parse_update(raw, BOT)
    assert isinstance(parsed, TelegramMessage), parsed
    return parsed


def test_a_private_text_message_reads_as_an_inbound_message() -> None:
    parsed = read(update())
    msg = parsed.message
    assert (parsed.update_id, parsed.chat_type, parsed.message_id) == (10, "private", 42)
    assert msg.channel == "telegram"
    assert msg.external_id == "111222333:42"
    assert (msg.conversation, msg.sender, msg.sender_name) == ("111222333", "111222333",
                                                               "Anna Berg")
    assert msg.text == "Hello, the export fails"
    assert msg.occurred_at == datetime(2025, 12, 1, 15, 0, tzinfo=UTC)
    assert (msg.thread, msg.edit_of, msg.attachments) == ((), None, ())


def test_a_group_message_names_the_group_and_its_sender() -> None:
    group = {"id": -4001234567, "title": "Acme IT", "type": "group"}
    parsed = read(update(chat=group, message_id=7,
                         text="Printer down",
                         entities=[]))
    assert parsed.chat_type == "group"
    assert parsed.chat_title == "Acme IT"
    assert parsed.message.conversation == "-4001234567"
    assert parsed.message.external_id == "-4001234567:7"
    assert parsed.message.sender == "111222333"


def test_a_supergroup_message_keeps_the_long_negative_chat_id() -> None:
    parsed = read(update(chat=GROUP, message_id=9001))
    assert parsed.chat_type == "supergroup"
    assert parsed.message.external_id == "-1001234567890:9001"
    assert split_external_id(parsed.message.external_id) == ("-1001234567890", 9001)


def test_the_sender_name_falls_back_to_the_username_then_the_id() -> None:
    only_username = {"id": 5, "is_bot": False, "first_name": " ", "username": "zed"}
    assert read(update(sender=only_username)).message.sender_name == "@zed"
    bare = {"id": 6, "is_bot": False, "first_name": ""}
    assert read(update(sender=bare)).message.sender_name == "6"


def test_an_edited_message_is_an_edit_of_the_original_not_a_new_message() -> None:
    raw = update(11, "edited_message", text="Hello, the CSV export fails",
                 edit_date=DATE + 90)
    parsed = read(raw)
    msg = parsed.message
    assert parsed.is_edit
    assert msg.edit_of == "111222333:42"
    assert msg.external_id == f"111222333:42:edit:{DATE + 90}"
    assert msg.occurred_at == datetime(2025, 12, 1, 15, 1, 30, tzinfo=UTC)
    assert parsed.sent_at == datetime(2025, 12, 1, 15, 0, tzinfo=UTC)  # the original's order
    assert read(copy.deepcopy(raw)).message == msg  # redelivered: the same ids


def test_two_edits_of_one_message_are_two_records() -> None:
    first = read(update(11, "edited_message", edit_date=DATE + 60)).message
    second = read(update(12, "edited_message", edit_date=DATE + 120)).message
    assert first.edit_of == second.edit_of
    assert first.external_id != second.external_id


def test_an_edit_without_edit_date_is_refused() -> None:
    with pytest.raises(InvalidUpdateError, match="edit_date"):
        parse_update(update(11, "edited_message"), BOT)


def test_a_reply_threads_to_the_message_it_answers() -> None:
    original = message("Our invoice is wrong", chat=GROUP, message_id=100)
    parsed = read(update(chat=GROUP, message_id=101, text="It is invoice 2025-11",
                         reply_to_message=original))
    assert parsed.message.thread == ("-1001234567890:100",)


def test_a_forum_topic_message_is_not_a_reply_to_the_topic_opener() -> None:
    opener = {"message_id": 3, "date": DATE, "chat": GROUP, "from": ANNA,
              "forum_topic_created": {"name": "Billing", "icon_color": 7322096}}
    parsed = read(update(chat=GROUP, message_id=4, message_thread_id=3, is_topic_message=True,
                         reply_to_message=opener))
    assert parsed.message.thread == ()


def test_a_forum_topic_message_is_said_in_its_topic() -> None:
    parsed = read(update(chat={**GROUP, "is_forum": True}, message_id=4, message_thread_id=3,
                         is_topic_message=True))
    assert parsed.message.conversation == "-1001234567890/3"
    assert parsed.message.external_id == "-1001234567890:4"  # message ids are the chat's


def test_the_general_topic_and_reply_threads_are_said_in_the_chat() -> None:
    general = read(update(chat={**GROUP, "is_forum": True}, message_id=5))
    assert general.message.conversation == "-1001234567890"
    original = {"message_id": 100, "date": DATE, "chat": GROUP, "from": ANNA, "text": "Hi"}
    # In a supergroup that is no forum, a reply carries a thread id but no is_topic_message.
    reply = read(update(chat=GROUP, message_id=101, message_thread_id=100,
                        reply_to_message=original))
    assert reply.message.conversation == "-1001234567890"
    assert reply.message.thread == ("-1001234567890:100",)


def test_an_edit_in_a_topic_stays_in_the_topic() -> None:
    parsed = read(update(kind="edited_message", chat=GROUP, message_id=4, message_thread_id=3,
                         is_topic_message=True, edit_date=DATE + 60))
    assert parsed.message.conversation == "-1001234567890/3"
    assert parsed.message.edit_of == "-1001234567890:4"


@pytest.mark.parametrize("service", ["forum_topic_created", "forum_topic_edited"])
def test_a_topic_created_or_renamed_names_the_topic(service: str) -> None:
    raw = update(chat=GROUP, text=None, message_id=3, message_thread_id=3,
                 is_topic_message=True, **{service: {"name": " Billing ",
                                                     "icon_color": 7322096}})
    assert parse_update(raw, BOT) == TopicNamed(
        10, "-1001234567890/3", "Billing", datetime(2025, 12, 1, 15, 0, tzinfo=UTC))


@pytest.mark.parametrize("service", [
    {"forum_topic_closed": {}}, {"forum_topic_reopened": {}},
    {"forum_topic_edited": {"icon_custom_emoji_id": "5312536423851630001"}},  # icon only
    {"forum_topic_created": {"name": "Billing"}, "message_thread_id": "3"},  # not a topic
])
def test_other_topic_service_messages_are_ignored(service: dict[str, Any]) -> None:
    raw = update(chat=GROUP, text=None, message_id=9,
                 **{"message_thread_id": 3, "is_topic_message": True, **service})
    parsed = parse_update(raw, BOT)
    assert isinstance(parsed, Ignored)
    assert parsed.reason.startswith("service message: forum_topic_")


def test_a_photo_with_caption_keeps_the_caption_and_the_largest_size() -> None:
    photo = [
        {"file_id": "AgAD-s", "file_unique_id": "AQAD-s", "width": 90, "height": 67,
         "file_size": 1234},
        {"file_id": "AgAD-m", "file_unique_id": "AQAD-m", "width": 320, "height": 240,
         "file_size": 20480},
        {"file_id": "AgAD-l", "file_unique_id": "AQAD-l", "width": 1280, "height": 960,
         "file_size": 181234},
    ]
    parsed = read(update(text=None, photo=photo, caption="See the error dialog",
                         caption_entities=[]))
    assert parsed.message.text == "See the error dialog"
    assert parsed.message.attachments == (Attachment("photo.jpg", "image/jpeg", 181234),)


def test_a_photo_alone_gets_a_placeholder_text() -> None:
    photo = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 90, "height": 67}]
    parsed = read(update(text=None, photo=photo))
    assert parsed.message.text == "[photo]"
    assert parsed.message.attachments == (Attachment("photo.jpg", "image/jpeg", 0),)


def test_a_document_records_its_name_type_and_size() -> None:
    document = {"file_name": "invoice-2025-11.pdf", "mime_type": "application/pdf",
                "file_id": "BQACAgIAAxk", "file_unique_id": "AgADx", "file_size": 52341}
    parsed = read(update(text=None, document=document))
    assert parsed.message.text == "[document: invoice-2025-11.pdf]"
    assert parsed.message.attachments == (
        Attachment("invoice-2025-11.pdf", "application/pdf", 52341),)


def test_a_document_name_loses_any_path() -> None:
    document = {"file_name": "../../etc/passwd", "file_id": "x", "file_unique_id": "y"}
    parsed = read(update(text=None, document=document))
    assert parsed.message.attachments == (
        Attachment("passwd", "application/octet-stream", 0),)


def test_a_voice_message_is_recorded_as_audio() -> None:
    voice = {"duration": 4, "mime_type": "audio/ogg", "file_id": "AwAC", "file_unique_id": "Ag",
             "file_size": 9020}
    parsed = read(update(text=None, voice=voice))
    assert parsed.message.text == "[voice]"
    assert parsed.message.attachments == (Attachment("voice.ogg", "audio/ogg", 9020),)


@pytest.mark.parametrize(("text", "code"), [
    ("/link ACME-7Q2X", "ACME-7Q2X"),
    ("/link@CarelogBot ACME-7Q2X", "ACME-7Q2X"),
    ("/link@carelogbot  ACME-7Q2X ", "ACME-7Q2X"),
])
def test_a_link_command_asks_to_bind_the_chat(text: str, code: str) -> None:
    raw = update(chat=GROUP, text=text,
                 entities=[{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}])
    parsed = parse_update(raw, BOT)
    assert parsed == LinkRequest(
        update_id=10, chat_id="-1001234567890", chat_type="supergroup",
        chat_title="Acme <> Support", code=code, sender="111222333", sender_name="Anna Berg",
        occurred_at=datetime(2025, 12, 1, 15, 0, tzinfo=UTC))


@pytest.mark.parametrize("text", ["/link", "/link x", "/link ACME 7Q2X",
                                  "/link <script>alert(1)</script>"])
def test_a_link_command_without_a_valid_code_is_ignored(text: str) -> None:
    parsed = parse_update(update(chat=GROUP, text=text), BOT)
    assert isinstance(parsed, Ignored)
    assert "code" in parsed.reason


def test_commands_for_another_bot_are_ignored() -> None:
    for text in ("/link@OtherBot ACME-7Q2X", "/start@OtherBot"):
        parsed = parse_update(update(chat=GROUP, text=text), BOT)
        assert isinstance(parsed, Ignored), text


def test_the_word_link_in_a_sentence_is_an_ordinary_message() -> None:
    assert read(update(text="/linking is broken")).message.text == "/linking is broken"
    assert read(update(text="please link ACME-7Q2X")).message.text == "please link ACME-7Q2X"


def test_an_edited_link_command_is_an_edit_not_a_new_binding() -> None:
    parsed = parse_update(update(11, "edited_message", chat=GROUP, text="/link ACME-7Q2X",
                                 edit_date=DATE + 5), BOT)
    assert isinstance(parsed, TelegramMessage)
    assert parsed.is_edit


def test_our_own_messages_and_other_bots_are_ignored() -> None:
    ours = {"id": BOT.id, "is_bot": True, "first_name": "Carelog", "username": "CarelogBot"}
    assert parse_update(update(sender=ours), BOT) == Ignored(10, "our own message")
    other = {"id": 99, "is_bot": True, "first_name": "Helper"}
    assert parse_update(update(sender=other), BOT) == Ignored(10, "a message from a bot")


def test_an_anonymous_admin_speaks_as_the_group() -> None:
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                 "username": "GroupAnonymousBot"}
    parsed = read(update(chat=GROUP, sender=anonymous, sender_chat=GROUP))
    assert (parsed.message.sender, parsed.message.sender_name) == ("-1001234567890",
                                                                   "Acme <> Support")


def test_a_channel_post_forwarded_into_its_discussion_group_is_ignored() -> None:
    channel = {"id": -1005550001, "title": "Acme News", "type": "channel"}
    raw = update(chat=GROUP, sender={"id": 777000, "is_bot": False, "first_name": "Telegram"},
                 sender_chat=channel, is_automatic_forward=True)
    assert parse_update(raw, BOT) == Ignored(
        10, "a channel post forwarded into its discussion group")


def test_service_messages_are_ignored() -> None:
    joined = update(chat=GROUP, text=None, new_chat_members=[ANNA])
    assert parse_update(joined, BOT) == Ignored(10, "service message: new_chat_members")
    created = update(chat={"id": -4001, "title": "Acme", "type": "group"}, text=None,
                     group_chat_created=True)
    assert parse_update(created, BOT) == Ignored(10, "service message: group_chat_created")


def test_a_group_upgraded_to_a_supergroup_moves_its_binding() -> None:
    raw = update(chat={"id": -4001234567, "title": "Acme IT", "type": "group"}, text=None,
                 migrate_to_chat_id=-1009876543210)
    assert parse_update(raw, BOT) == ChatMigrated(10, "-4001234567", "-1009876543210")


@pytest.mark.parametrize("kind", ["my_chat_member", "chat_member", "callback_query",
                                  "channel_post", "message_reaction", "poll"])
def test_update_kinds_we_do_not_handle_are_ignored(kind: str) -> None:
    parsed = parse_update({"update_id": 77, kind: {"some": "thing"}}, BOT)
    assert parsed == Ignored(77, f"update kind not handled: {kind}")


def test_a_channel_post_shaped_as_a_message_is_ignored() -> None:
    channel = {"id": -1005550001, "title": "News", "type": "channel"}
    parsed = parse_update(update(chat=channel, sender=None), BOT)
    assert parsed == Ignored(10, "channel posts are not handled")


@pytest.mark.parametrize("raw", [
    [], "update", None, {}, {"update_id": "10"}, {"update_id": True},
    {"update_id": 10, "message": {"message_id": 1, "date": DATE}},
    {"update_id": 10, "message": {"message_id": 1, "date": DATE,
                                  "chat": {"id": 5, "type": "secret"}}},
    {"update_id": 10, "message": {"message_id": "1", "date": DATE, "chat": PRIVATE}},
    {"update_id": 10, "message": {"message_id": 1, "chat": PRIVATE, "from": ANNA}},
    {"update_id": 10, "message": {"message_id": 1, "date": DATE, "chat": PRIVATE,
                                  "text": "no sender"}},
    {"update_id": 10, "message": {"message_id": 1, "date": 10**13, "chat": PRIVATE,
                                  "from": ANNA, "text": "far future"}},
])
def test_bad_shapes_are_refused_clearly(raw: Any) -> None:
    with pytest.raises(InvalidUpdateError):
        parse_update(raw, BOT)


def test_updates_delivered_twice_or_out_of_order_keep_their_ids_and_order_keys() -> None:
    """C6 at the reading level: ids depend on the message, never on arrival; the router
    stores each id once and orders the room by (date, message_id)."""
    def at(update_id: int, message_id: int, date: int) -> dict[str, Any]:
        return {"update_id": update_id, "message": message(
            f"message {message_id}", chat=GROUP, message_id=message_id, date=date)}

    arrivals = [at(10, 500, DATE), at(10, 500, DATE), at(12, 502, DATE + 2),
                at(11, 501, DATE + 1), at(987654, 503, DATE + 3)]
    parsed = [read(raw) for raw in arrivals]
    assert [p.update_id for p in parsed] == [10, 10, 12, 11, 987654]
    assert parsed[0].message == parsed[1].message
    distinct = {p.message.external_id: p for p in parsed}
    assert len(distinct) == 4
    in_order = sorted(distinct.values(), key=lambda p: p.order_key)
    assert [p.message.text for p in in_order] == [f"message {n}" for n in (500, 501, 502, 503)]


def test_messages_of_one_second_are_ordered_by_message_id() -> None:
    late = read(update(11, chat=GROUP, message_id=61, text="second"))
    early = read(update(12, chat=GROUP, message_id=60, text="first"))
    assert sorted([late, early], key=lambda p: p.order_key) == [early, late]


def test_split_external_id_reads_only_message_ids() -> None:
    assert split_external_id("111222333:42") == ("111222333", 42)
    assert split_external_id("111222333:42:edit:1764601290") is None
    assert split_external_id("<abc@mail>") is None
    assert split_external_id("x:1") is None
