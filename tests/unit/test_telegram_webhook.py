"""The webhook's checks: secret token before anything else (C5), size, JSON, then the update."""

from __future__ import annotations

import json

import pytest

from integrations.settings import Secret
from integrations.telegram import webhook
from integrations.telegram.updates import InvalidUpdateError, TelegramMessage
from integrations.telegram.webhook import (
    PayloadTooLargeError,
    WebhookRefusedError,
    derive_secret_token,
    is_valid_secret_token,
    read_update,
    receive_update,
    verify_secret,
)

SECRET = Secret("s3cret_Token-for-Carelog")
BODY = json.dumps({"update_id": 10, "message": {
    "message_id": 42, "date": 1764601200, "text": "Hello",
    "from": {"id": 111222333, "is_bot": False, "first_name": "Anna"},
    "chat": {"id": 111222333, "first_name": "Anna", "type": "private"}}}).encode()


def test_the_right_secret_reads_the_update() -> None:
    parsed = receive_update(SECRET.value, BODY, SECRET)
    assert isinstance(parsed, TelegramMessage)
    assert parsed.message.external_id == "111222333:42"


@pytest.mark.parametrize("header", [None, "", "s3cret_Token-for-carelog",
                                    "s3cret_Token-for-Carelog ", "x" * 300])
def test_a_missing_or_wrong_secret_is_refused(header: str | None) -> None:
    with pytest.raises(WebhookRefusedError):
        receive_update(header, BODY, SECRET)


def test_with_no_secret_configured_every_delivery_is_refused() -> None:
    for expected in (None, Secret("")):
        with pytest.raises(WebhookRefusedError):
            verify_secret("", expected)
        with pytest.raises(WebhookRefusedError):
            verify_secret("anything", expected)


def test_a_forged_delivery_is_refused_before_the_body_is_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """C5: a forged update costs no JSON decoding or parsing, even when its body is garbage."""
    def must_not_run(*_: object) -> None:
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(webhook.json, "loads", must_not_run)
    monkeypatch.setattr(webhook, "parse_update", must_not_run)
    for header in (None, "wrong"):
        with pytest.raises(WebhookRefusedError):
            receive_update(header, b"\xff{not json" * 1000, SECRET)


def test_an_oversized_body_is_refused_after_authentication() -> None:
    with pytest.raises(PayloadTooLargeError):
        receive_update(SECRET.value, b" " * 2048 + BODY, SECRET, max_bytes=2048)
    with pytest.raises(WebhookRefusedError):  # a forger learns nothing about the limit
        receive_update("wrong", b" " * 4096, SECRET, max_bytes=2048)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[" * 100_000, b"null", b"[]",
                                  b'{"update_id": "ten"}'])
def test_broken_json_or_shape_is_an_invalid_update(body: bytes) -> None:
    with pytest.raises(InvalidUpdateError):
        receive_update(SECRET.value, body, SECRET)


@pytest.mark.parametrize(("token", "valid"), [
    ("a", True), ("A-z_0-9", True), ("x" * 256, True), ("", False), ("x" * 257, False),
    ("has space", False), ("semi;colon", False), ("ümlaut", False)])
def test_secret_tokens_follow_telegrams_alphabet(token: str, valid: bool) -> None:
    assert is_valid_secret_token(token) is valid


def test_a_route_may_check_the_header_first_and_read_the_body_after() -> None:
    verify_secret(SECRET.value, SECRET)
    assert isinstance(read_update(BODY), TelegramMessage)


def test_a_derived_secret_is_stable_per_bot_and_valid_for_telegram() -> None:
    key = Secret("installation-key")
    first = derive_secret_token(Secret("1:AAA"), key)
    assert first == derive_secret_token(Secret("1:AAA"), key)
    assert first != derive_secret_token(Secret("2:BBB"), key)
    assert first != derive_secret_token(Secret("1:AAA"), Secret("other-key"))
    assert is_valid_secret_token(first.value)
    assert "AAA" not in first.value
    with pytest.raises(ValueError, match="key"):
        derive_secret_token(Secret("1:AAA"), Secret(""))
