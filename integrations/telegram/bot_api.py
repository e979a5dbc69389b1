"""The Telegram Bot API over HTTP (httpx): the calls Carelog makes, and `TelegramSender`.

The bot token is part of every URL path (`/bot<token>/<method>`), so it is kept out of
everything that may be logged or shown: this module's errors and reprs, and httpx's own
"HTTP Request: POST ..." log lines, which pass through a filter that masks it. Error answers
look like `{"ok": false, "error_code": 429, "description": "...", "parameters":
{"retry_after": 34}}` (https://core.telegram.org/bots/api#making-requests).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from domain.conversation import split_topic
from domain.ports import DeliveryReceipt, OutboundMessage
from integrations.settings import Secret
from integrations.telegram.updates import (
    CHANNEL,
    BotIdentity,
    message_external_id,
    split_external_id,
)
from integrations.telegram.webhook import is_valid_secret_token

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org"
ALLOWED_UPDATES: tuple[str, ...] = ("message", "edited_message")
"""The update kinds Carelog reads; asking for only these spares Telegram and us the rest."""
_TOKEN_IN_PATH = re.compile(r"/bot[^/\s\"']+")


def redact(text: str) -> str:
    """`text` with any bot token in a Bot API path masked."""
    return _TOKEN_IN_PATH.sub("/bot<token>", text)


class _RedactToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg, record.args = redact(message), None
        return True


def _mask_token_in_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactToken) for f in logger.filters):
        logger.addFilter(_RedactToken())


class BotApiError(Exception):
    """Telegram answered, and refused (`ok: false`) or answered something unreadable."""

    def __init__(self, method: str, status: int, description: str,
                 retry_after: int | None = None, migrate_to_chat_id: int | None = None) -> None:
        super().__init__(f"Telegram {method} answered {status}: {redact(description)}")
        self.method = method
        self.status = status
        self.description = redact(description)
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


class BotApiUnavailableError(Exception):
    """No answer from Telegram. `maybe_done` when the request may have reached it (a timeout
    while waiting for the answer), so a retried send might repeat the message."""

    def __init__(self, method: str, reason: str, maybe_done: bool) -> None:
        super().__init__(f"no answer from Telegram {method}: {redact(reason)}")
        self.method = method
        self.maybe_done = maybe_done


class BotApi:
    """A Bot API client for one bot; thread-safe (one httpx connection pool)."""

    def __init__(self, token: Secret, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not token.value or "/" in token.value:
            raise ValueError("a Telegram bot token looks like 123456:ABC-DEF...")
        _mask_token_in_httpx_logs()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(base_url=f"{self.base_url}/bot{token.value}/",
                                  timeout=timeout, transport=transport,
                                  follow_redirects=False)

    def __repr__(self) -> str:
        return f"BotApi(base_url={self.base_url!r}, token=<hidden>)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BotApi:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # Methods -------------------------------------------------------------------------------

    def get_me(self) -> BotIdentity:
        me = self.call("getMe")
        if not isinstance(me, dict) or not isinstance(me.get("id"), int):
            raise BotApiError("getMe", 200, "the answer is not a User")
        return BotIdentity(id=me["id"], username=str(me.get("username", "")),
                           reads_all_group_messages=me.get("can_read_all_group_messages") is True)

    def set_webhook(self, url: str, secret_token: Secret,
                    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
                    drop_pending_updates: bool = False) -> None:
        """Have Telegram POST updates to `url` with `secret_token` in the header."""
        if not is_valid_secret_token(secret_token.value):
            raise ValueError("a webhook secret token is 1-256 of A-Z a-z 0-9 _ -")
        self.call("setWebhook", {"url": url, "secret_token": secret_token.value,
                                 "allowed_updates": list(allowed_updates),
                                 "drop_pending_updates": drop_pending_updates})

    def delete_webhook(self, drop_pending_updates: bool = False) -> None:
        """Stop webhook deliveries (getUpdates answers 409 while a webhook is set)."""
        self.call("deleteWebhook", {"drop_pending_updates": drop_pending_updates})

    def get_updates(self, offset: int | None, timeout: int = 25, limit: int = 100,
                    allowed_updates: Sequence[str] = ALLOWED_UPDATES) -> list[dict[str, Any]]:
        """Long-poll for updates from `offset` on (which confirms all below it)."""
        params: dict[str, Any] = {"timeout": timeout, "limit": limit,
                                  "allowed_updates": list(allowed_updates)}
        if offset is not None:
            params["offset"] = offset
        updates = self.call("getUpdates", params, read_timeout=timeout + self.timeout)
        if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
            raise BotApiError("getUpdates", 200, "the answer is not a list of updates")
        return updates

    def send_message(self, chat_id: int | str, text: str,
                     reply_to_message_id: int | None = None,
                     message_thread_id: int | None = None) -> dict[str, Any]:
        """Send plain text (no parse mode: nothing in it is markup); the sent `Message`.
        `message_thread_id`: the forum topic to send to (None: the chat, or General topic)."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if message_thread_id is not None:
            params["message_thread_id"] = message_thread_id
        if reply_to_message_id is not None:
            params["reply_parameters"] = {"message_id": reply_to_message_id,
                                          "allow_sending_without_reply": True}
        sent = self.call("sendMessage", params)
        if not isinstance(sent, dict) or not isinstance(sent.get("message_id"), int):
            raise BotApiError("sendMessage", 200, "the answer is not a Message")
        return sent

    # The one way in --------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None,
             read_timeout: float | None = None) -> Any:
        """POST `params` as JSON to `method`; its `result`, or `BotApiError` /
        `BotApiUnavailableError`."""
        timeout = httpx.Timeout(self.timeout, read=read_timeout or self.timeout)
        try:
            response = self._http.post(method, json=params or {}, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise BotApiUnavailableError(method, _describe(error), maybe_done=False) from None
        except httpx.TransportError as error:
            raise BotApiUnavailableError(method, _describe(error), maybe_done=True) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise BotApiError(method, response.status_code, "the answer is not Bot API JSON")
        if answer["ok"]:
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        migrate = parameters.get("migrate_to_chat_id") if isinstance(parameters, dict) else None
        status = answer.get("error_code")
        raise BotApiError(method, status if isinstance(status, int) else response.status_code,
                          str(answer.get("description") or "no description"),
                          retry_after if isinstance(retry_after, int) else None,
                          migrate if isinstance(migrate, int) else None)


def _describe(error: httpx.HTTPError) -> str:
    return redact(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


class TelegramSender:
    """`MessageSender` on the Bot API: an agent's reply or a room post as one `sendMessage`.

    Telegram has no idempotency key for sendMessage, so a receipt says when a failed send may
    have gone out after all ("may have been delivered"); the outbound reactor decides.
    """

    channel = CHANNEL

    def __init__(self, api: BotApi) -> None:
        self.api = api

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if message.channel != CHANNEL:
            return DeliveryReceipt(False, error=f"not a Telegram message: {message.channel}")
        if not message.text.strip():
            return DeliveryReceipt(False, error="Telegram does not send empty messages")
        chat, topic = split_topic(CHANNEL, message.conversation)
        if topic is not None and not topic.isdigit():
            return DeliveryReceipt(False, error=f"not a Telegram forum topic: {topic}")
        parts = split_text(message.text)
        ids: list[str] = []
        for n, part in enumerate(parts):
            try:
                sent = self.api.send_message(chat, part, _reply_to(message) if n == 0 else None,
                                             int(topic) if topic is not None else None)
            except (BotApiError, BotApiUnavailableError) as error:
                receipt = (_refused(error) if isinstance(error, BotApiError)
                           else _unavailable(error, message))
                if not ids:
                    return receipt
                # Parts already out would be sent again by a retry: never retried, and said.
                return DeliveryReceipt(False, error=f"sent parts 1-{n} of {len(parts)}, then: "
                                                    f"{receipt.error}")
            sent_in = sent.get("chat")
            chat_id = sent_in.get("id") if isinstance(sent_in, dict) else None
            ids.append(message_external_id(chat_id if chat_id is not None else chat,
                                           sent["message_id"]))
        return DeliveryReceipt(True, " ".join(ids))


MAX_TEXT_UNITS = 4096
"""Telegram's limit for one message's text, counted in UTF-16 code units."""


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """The text in parts Telegram accepts, cut at a paragraph, line or word where possible."""
    parts: list[str] = []
    rest = text
    while _units(rest) > limit:
        cut = len(rest)
        while _units(rest[:cut]) > limit:  # the longest prefix within the limit
            cut = cut * limit // max(_units(rest[:cut]), 1) if cut > limit else cut - 1
        head = rest[:cut]
        for sep in ("\n\n", "\n", " "):
            at = head.rfind(sep)
            if at > cut // 2:
                head = rest[:at + len(sep)]
                break
        parts.append(head.rstrip() or head)
        rest = rest[len(head):]
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def _unavailable(error: BotApiUnavailableError, message: OutboundMessage) -> DeliveryReceipt:
    note = "; the message may have been delivered" if error.maybe_done else ""
    log.warning("Telegram send of %s failed: %s", message.message_id, error)
    return DeliveryReceipt(False, error=f"{error}{note}", retryable=True)


def _reply_to(message: OutboundMessage) -> int | None:
    """The Telegram message id our reply answers, when it was said in the same chat."""
    if message.in_reply_to is None:
        return None
    original = message.in_reply_to.split(":edit:", 1)[0]
    parts = split_external_id(original)
    if parts is None or parts[0] != split_topic(CHANNEL, message.conversation)[0]:
        return None
    return parts[1]


def _refused(error: BotApiError) -> DeliveryReceipt:
    status = error.status
    if status == 429:
        wait = error.retry_after if error.retry_after is not None else 1
        return DeliveryReceipt(False, error=f"Telegram rate limit (429): retry after {wait} s",
                               retryable=True)
    if error.migrate_to_chat_id is not None:
        return DeliveryReceipt(False, error=f"{error}; the group is now the supergroup "
                                            f"{error.migrate_to_chat_id}")
    if status in (401, 404):  # the bot token is wrong: our configuration, not the message
        return DeliveryReceipt(False, error=f"{error}; check the bot token", retryable=True)
    if status >= 500:
        return DeliveryReceipt(False, error=f"{error}; the message may have been delivered",
                               retryable=True)
    return DeliveryReceipt(False, error=str(error))  # 400 bad request, 403 blocked or kicked
