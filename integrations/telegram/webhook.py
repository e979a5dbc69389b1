"""The Telegram webhook: check the secret token header, then the size, then read the update.

Telegram does not sign its deliveries; it repeats the `secret_token` given to `setWebhook` in
the `X-Telegram-Bot-Api-Secret-Token` header. The header is compared in constant time before
the body is even decoded, so a forged request costs no parsing (test row C5: answer 403).
Framework-agnostic: the HTTP route passes the header value and the raw body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from integrations.settings import Secret
from integrations.telegram.updates import (
    BotIdentity,
    InvalidUpdateError,
    ParsedUpdate,
    parse_update,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024
"""An update is text and metadata (files are fetched separately): a few kB; 1 MiB is ample."""
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class WebhookRefusedError(Exception):
    """The request does not carry our secret token: answer 403 and read nothing."""


class PayloadTooLargeError(InvalidUpdateError):
    """The body is larger than any update: answer 413."""


def is_valid_secret_token(token: str) -> bool:
    """Whether Telegram accepts it as `secret_token`: 1-256 of `A-Z a-z 0-9 _ -`."""
    return _SECRET_TOKEN.fullmatch(token) is not None


def verify_secret(header: str | None, expected: Secret | None) -> None:
    """Raise `WebhookRefusedError` unless `header` is our token; with none configured, nothing
    is ours."""
    if expected is None or not expected.value or header is None:
        raise WebhookRefusedError("missing Telegram secret token")
    if not hmac.compare_digest(header.encode(), expected.value.encode()):
        raise WebhookRefusedError("wrong Telegram secret token")


def receive_update(header: str | None, body: bytes, expected: Secret | None,
                   bot: BotIdentity | None = None,
                   max_bytes: int = MAX_BODY_BYTES) -> ParsedUpdate:
    """Authenticate, bound and read one webhook delivery.

    Raises `WebhookRefusedError` (403), `PayloadTooLargeError` (413) or `InvalidUpdateError`
    (400), in that order of checks. A route that can look at the header before reading the
    body calls `verify_secret` first, then `read_update`.
    """
    verify_secret(header, expected)
    return read_update(body, bot, max_bytes)


def read_update(body: bytes, bot: BotIdentity | None = None,
                max_bytes: int = MAX_BODY_BYTES) -> ParsedUpdate:
    """Read an authenticated delivery's body: `PayloadTooLargeError` or `InvalidUpdateError`."""
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"a Telegram update is at most {max_bytes} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidUpdateError("the Telegram update is not JSON") from None
    return parse_update(data, bot)


def derive_secret_token(bot_token: Secret, key: Secret) -> Secret:
    """A webhook secret token derived from the bot token and an installation key: the same in
    every replica and after restarts, different for every bot, and not the bot token itself
    (64 hex digits, within Telegram's alphabet)."""
    if not key.value:
        raise ValueError("deriving a webhook secret needs a non-empty key")
    digest = hmac.new(key.value.encode(), f"carelog-telegram-webhook:{bot_token.value}".encode(),
                      hashlib.sha256).hexdigest()
    return Secret(digest)
