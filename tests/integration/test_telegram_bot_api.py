"""The Bot API client and `TelegramSender` against a real local HTTP server speaking the Bot
API; the sender's contract also on the fake, so unit tests of the router can trust it."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from domain.ports import DeliveryReceipt, MessageSender, OutboundMessage
from integrations.settings import Secret
from integrations.telegram.bot_api import (
    BotApi,
    BotApiError,
    BotApiUnavailableError,
    TelegramSender,
    split_text,
)
from integrations.telegram.fake import FakeTelegramSender
from integrations.telegram.updates import BotIdentity
from tests.telegram_server import (
    BLOCKED,
    KICKED,
    TOKEN,
    BotApiStub,
    Refusal,
    bot_api_stub,
    too_many_requests,
)

pytestmark = pytest.mark.integration

GROUP = "-1001234567890"


def reply(text: str = "We are on it", chat: str = GROUP, in_reply_to: str | None = None,
          channel: str = "telegram") -> OutboundMessage:
    return OutboundMessage(channel=channel, conversation=chat, text=text,
                           message_id="carelog-msg-1", in_reply_to=in_reply_to)


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with bot_api_stub(max_poll=1.0) as server:
        yield server


@pytest.fixture
def api(stub: BotApiStub) -> Iterator[BotApi]:
    with BotApi(Secret(TOKEN), base_url=stub.url, timeout=2.0) as client:
        yield client


def test_get_me_names_the_bot(api: BotApi, stub: BotApiStub) -> None:
    assert api.get_me() == BotIdentity(7000000001, "CarelogBot")
    assert [c.method for c in stub.calls] == ["getMe"]


def test_get_me_tells_whether_the_bot_sees_all_group_messages(api: BotApi,
                                                              stub: BotApiStub) -> None:
    assert not api.get_me().reads_all_group_messages  # privacy mode, Telegram's default
    stub.bot_user["can_read_all_group_messages"] = True
    assert api.get_me().reads_all_group_messages


def test_set_webhook_sends_url_secret_and_update_kinds(api: BotApi, stub: BotApiStub) -> None:
    api.set_webhook("https://care.example.com/webhooks/telegram", Secret("tok_en-1"))
    assert stub.webhook == {"url": "https://care.example.com/webhooks/telegram",
                            "secret_token": "tok_en-1",
                            "allowed_updates": ["message", "edited_message"],
                            "drop_pending_updates": False}
    with pytest.raises(ValueError, match="secret token"):
        api.set_webhook("https://care.example.com/webhooks/telegram", Secret("bad token"))
    assert len(stub.calls_to("setWebhook")) == 1


def test_get_updates_honours_the_offset(api: BotApi, stub: BotApiStub) -> None:
    stub.queue({"update_id": 10}, {"update_id": 11}, {"update_id": 12})
    assert [u["update_id"] for u in api.get_updates(None, timeout=0)] == [10, 11, 12]
    assert [u["update_id"] for u in api.get_updates(12, timeout=0)] == [12]
    assert api.get_updates(13, timeout=0) == []
    assert stub.calls_to("getUpdates")[1].params["offset"] == 12


def test_get_updates_is_refused_while_a_webhook_is_set(api: BotApi, stub: BotApiStub) -> None:
    api.set_webhook("https://care.example.com/webhooks/telegram", Secret("tok"))
    with pytest.raises(BotApiError) as refused:
        api.get_updates(None, timeout=0)
    assert refused.value.status == 409
    api.delete_webhook()
    assert api.get_updates(None, timeout=0) == []


def test_send_message_answers_the_sent_message(api: BotApi, stub: BotApiStub) -> None:
    sent = api.send_message(GROUP, "Fixed in 4.2", reply_to_message_id=100)
    assert sent["message_id"] == 1000
    assert stub.calls_to("sendMessage")[0].params == {
        "chat_id": GROUP, "text": "Fixed in 4.2",
        "reply_parameters": {"message_id": 100, "allow_sending_without_reply": True}}


def test_a_wrong_token_is_an_error_that_does_not_show_the_token(stub: BotApiStub) -> None:
    wrong = "123456:WRONG-token-value"
    with BotApi(Secret(wrong), base_url=stub.url) as api, pytest.raises(BotApiError) as refused:
        api.get_me()
    assert refused.value.status == 401
    assert wrong not in str(refused.value)
    assert wrong not in repr(api)


def test_the_token_never_reaches_the_logs(api: BotApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.get_me()
    api.send_message(GROUP, "hello")
    assert any("/bot<token>/getMe" in r.getMessage() for r in caplog.records)
    assert not any(TOKEN in r.getMessage() for r in caplog.records)
    assert TOKEN.split(":")[1] not in caplog.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_unavailable_and_surely_not_done() -> None:
    with BotApi(Secret(TOKEN), base_url=f"http://127.0.0.1:{free_port()}") as api, \
            pytest.raises(BotApiUnavailableError) as unavailable:
        api.get_me()
    assert unavailable.value.maybe_done is False
    assert TOKEN not in str(unavailable.value)


# The sender ------------------------------------------------------------------------------------


@pytest.fixture(params=["bot-api", "fake"])
def sender(request: pytest.FixtureRequest, api: BotApi) -> MessageSender:
    return TelegramSender(api) if request.param == "bot-api" else FakeTelegramSender()


def test_a_send_is_delivered_with_telegrams_message_id(sender: MessageSender) -> None:
    assert sender.channel == "telegram"
    first = sender.send(reply())
    second = sender.send(reply("And now it is fixed"))
    assert first == DeliveryReceipt(True, f"{GROUP}:1000")
    assert second == DeliveryReceipt(True, f"{GROUP}:1001")


def test_a_message_for_another_channel_is_not_sent(sender: MessageSender) -> None:
    receipt = sender.send(reply(channel="email"))
    assert not receipt.delivered
    assert not receipt.retryable


def test_a_reply_answers_the_clients_message_even_when_it_was_edited(
        api: BotApi, stub: BotApiStub) -> None:
    sender = TelegramSender(api)
    assert sender.send(reply(in_reply_to=f"{GROUP}:100")).delivered
    assert sender.send(reply(in_reply_to=f"{GROUP}:101:edit:1764601290")).delivered
    assert sender.send(reply(in_reply_to="-100999:5")).delivered  # another chat: no reply
    assert sender.send(reply(in_reply_to="<abc@mail.example>")).delivered
    assert [c.params.get("reply_parameters", {}).get("message_id")
            for c in stub.calls_to("sendMessage")] == [100, 101, None, None]


def test_a_message_for_a_forum_topic_goes_to_that_topic(api: BotApi, stub: BotApiStub) -> None:
    sender = TelegramSender(api)
    receipt = sender.send(reply(chat=f"{GROUP}/7", in_reply_to=f"{GROUP}:100"))
    assert receipt == DeliveryReceipt(True, f"{GROUP}:1000")
    assert sender.send(reply()).delivered  # the chat itself: the General topic
    first, general = stub.calls_to("sendMessage")
    assert first.params["chat_id"] == GROUP
    assert first.params["message_thread_id"] == 7
    assert first.params["reply_parameters"]["message_id"] == 100
    assert "message_thread_id" not in general.params
    assert [m.get("message_thread_id") for m in stub.sent] == [7, None]
    refused = sender.send(reply(chat=f"{GROUP}/general"))
    assert (refused.delivered, refused.retryable) == (False, False)


def test_a_rate_limit_is_retryable_with_telegrams_wait(api: BotApi, stub: BotApiStub) -> None:
    stub.fail_sends(too_many_requests(34))
    receipt = TelegramSender(api).send(reply())
    assert receipt == DeliveryReceipt(False, error="Telegram rate limit (429): retry after 34 s",
                                      retryable=True)
    assert TelegramSender(api).send(reply()).delivered  # the flood is over


@pytest.mark.parametrize("refusal", [BLOCKED, KICKED])
def test_a_blocked_or_kicked_bot_is_a_final_failure(api: BotApi, stub: BotApiStub,
                                                    refusal: Refusal) -> None:
    stub.fail_sends(refusal)
    receipt = TelegramSender(api).send(reply())
    assert not receipt.delivered
    assert not receipt.retryable
    assert receipt.error is not None
    assert "403" in receipt.error
    assert stub.sent == []


def test_an_empty_text_is_a_final_failure_and_one_over_the_limit_goes_in_two(
        api: BotApi, stub: BotApiStub) -> None:
    sender = TelegramSender(api)
    over = sender.send(reply("x" * 4097))
    assert over.delivered
    assert [len(m["text"]) for m in stub.sent] == [4096, 1]
    empty = sender.send(reply("  "))
    assert (empty.delivered, empty.retryable) == (False, False)
    assert len(stub.calls_to("sendMessage")) == 2  # the empty one never left


def test_a_timeout_is_retryable_and_says_it_may_have_gone_out(stub: BotApiStub) -> None:
    stub.send_delay = 1.5
    with BotApi(Secret(TOKEN), base_url=stub.url, timeout=0.3) as api:
        receipt = TelegramSender(api).send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, True)
    assert receipt.error is not None
    assert "may have been delivered" in receipt.error
    assert TOKEN not in receipt.error
    deadline = time.monotonic() + 5
    while not stub.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stub.sent) == 1  # and indeed it went out after we stopped waiting


def test_an_unreachable_telegram_is_retryable() -> None:
    with BotApi(Secret(TOKEN), base_url=f"http://127.0.0.1:{free_port()}") as api:
        receipt = TelegramSender(api).send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, True)
    assert receipt.error is not None
    assert "may have been" not in receipt.error


def test_the_fake_fails_when_told() -> None:
    fake = FakeTelegramSender()
    fake.fail_next(fake.rate_limited(3), fake.blocked())
    assert fake.send(reply()).retryable
    assert not fake.send(reply()).retryable
    assert fake.send(reply()).delivered
    assert (len(fake.attempts), len(fake.sent)) == (3, 1)
    with pytest.raises(ValueError, match="delivered"):
        fake.fail_next(DeliveryReceipt(True, "x:1"))


def test_a_long_message_goes_out_in_parts_telegram_accepts(api: BotApi,
                                                           stub: BotApiStub) -> None:
    paragraphs = [f"Paragraph {n}: " + "details " * 120 for n in range(12)]
    text = "\n\n".join(paragraphs)  # about 11,600 characters
    receipt = TelegramSender(api).send(reply(text, in_reply_to=f"{GROUP}:7"))
    assert receipt.delivered
    sent = [m["text"] for m in stub.sent]
    assert len(sent) == 3
    assert all(len(part.encode("utf-16-le")) // 2 <= 4096 for part in sent)
    assert all(part.startswith("Paragraph") for part in sent)  # cut between paragraphs
    assert " ".join(sent).split() == text.split()
    assert len((receipt.external_id or "").split()) == 3
    replies = [c for c in stub.calls_to("sendMessage") if "reply_parameters" in c.params
               or "reply_to_message_id" in c.params]
    assert len(replies) == 1  # only the first part answers the client's message


def test_emoji_count_twice_towards_the_limit() -> None:
    parts = split_text("😀" * 5000)
    assert [len(p) for p in parts] == [2048, 2048, 904]


def test_a_long_message_cut_off_midway_is_not_sent_again(api: BotApi, stub: BotApiStub,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    real = api.send_message
    calls: list[str] = []

    def second_fails(chat: str, text: str, reply_to: int | None = None,
                     topic: int | None = None) -> dict[str, object]:
        calls.append(text)
        if len(calls) == 2:
            raise BotApiError("sendMessage", 429, "Too Many Requests: retry after 3",
                              retry_after=3)
        return real(chat, text, reply_to, topic)

    monkeypatch.setattr(api, "send_message", second_fails)
    receipt = TelegramSender(api).send(reply("word " * 2000))
    assert not receipt.delivered
    assert not receipt.retryable  # a retry would repeat part 1
    assert (receipt.error or "").startswith("sent parts 1-1 of 3, then: Telegram rate limit")
