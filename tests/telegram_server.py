"""A Telegram Bot API stub on loopback: getMe, setWebhook, deleteWebhook, getUpdates and
sendMessage, answering like https://core.telegram.org/bots/api, with faults on demand.

`queue(update)` makes an update pending; `getUpdates` serves pending updates from `offset` on
(confirming, that is forgetting, those below it), waiting up to its `timeout` (capped by
`max_poll`) for one to arrive, and answers 409 while a webhook is set, as Telegram does.
`sendMessage` numbers messages per chat (a `message_thread_id` puts the sent Message in that forum
topic, as `sent` records); `fail_sends(...)` makes the next sends answer 429 with
`retry_after`, 403 (blocked) or anything else. `calls` records every request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "7000000001:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Carelog",
            "username": "CarelogBot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    status: int
    """The HTTP status answered."""


@dataclass(frozen=True)
class Refusal:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


BLOCKED = Refusal(403, "Forbidden: bot was blocked by the user")
KICKED = Refusal(403, "Forbidden: bot was kicked from the group chat")


def too_many_requests(retry_after: int) -> Refusal:
    return Refusal(429, f"Too Many Requests: retry after {retry_after}",
                   {"retry_after": retry_after})


class BotApiStub:
    def __init__(self, token: str = TOKEN, max_poll: float = 2.0) -> None:
        self.token = token
        self.max_poll = max_poll
        self.bot_user = dict(BOT_USER)
        self.calls: list[Call] = []
        self.sent: list[dict[str, Any]] = []
        """Every Message sendMessage made, in order."""
        self.webhook: dict[str, Any] | None = None
        self.pending: list[dict[str, Any]] = []
        self.send_delay = 0.0
        self._send_faults: list[Refusal] = []
        self._next_message_id: dict[int | str, int] = {}
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # Acting as Telegram ----------------------------------------------------------------------

    def queue(self, *updates: dict[str, Any]) -> None:
        with self._changed:
            self.pending.extend(updates)
            self._changed.notify_all()

    def fail_sends(self, *refusals: Refusal) -> None:
        """The next sendMessage calls answer these refusals, one each, in order."""
        with self._changed:
            self._send_faults.extend(refusals)

    def calls_to(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    # The server ------------------------------------------------------------------------------

    def start(self) -> str:
        stub = self

        class Handler(_Handler):
            telegram = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self.url

    def stop(self) -> None:
        with self._changed:
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # Methods (answer: HTTP status, Bot API JSON) -----------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return _ok(self.bot_user)
        if method == "setWebhook":
            with self._changed:
                self.webhook = params
            return _ok(True, "Webhook was set")
        if method == "deleteWebhook":
            with self._changed:
                self.webhook = None
                if params.get("drop_pending_updates"):
                    self.pending.clear()
            return _ok(True, "Webhook was deleted")
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "sendMessage":
            return self._send_message(params)
        return _error(Refusal(404, "Not Found"))

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.webhook is not None:
            return _error(Refusal(409, "Conflict: can't use getUpdates method while webhook "
                                       "is active; use deleteWebhook to delete the webhook "
                                       "first"))
        offset, limit = params.get("offset"), int(params.get("limit", 100))
        deadline = time.monotonic() + min(float(params.get("timeout", 0)), self.max_poll)
        with self._changed:
            if isinstance(offset, int):  # confirmed updates are forgotten
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
            while not self.pending and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return _ok(sorted(self.pending, key=lambda u: u["update_id"])[:limit])

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        time.sleep(self.send_delay)
        chat_id, text = params.get("chat_id"), params.get("text")
        if not isinstance(chat_id, int | str) or not str(chat_id).strip():
            return _error(Refusal(400, "Bad Request: chat_id is empty"))
        if not isinstance(text, str) or not text.strip():
            return _error(Refusal(400, "Bad Request: message text is empty"))
        if len(text) > 4096:
            return _error(Refusal(400, "Bad Request: message is too long"))
        with self._changed:
            if self._send_faults:
                return _error(self._send_faults.pop(0))
            key = int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id
            message_id = self._next_message_id.get(key, 1000)
            self._next_message_id[key] = message_id + 1
            chat_type = "private" if isinstance(key, int) and key > 0 else "supergroup"
            message: dict[str, Any] = {
                "message_id": message_id, "from": BOT_USER, "date": int(time.time()),
                "chat": {"id": key, "type": chat_type}, "text": text}
            thread = params.get("message_thread_id")
            if isinstance(thread, int):  # a forum topic; without it, the General topic
                message["message_thread_id"] = thread
                message["is_topic_message"] = True
            reply = params.get("reply_parameters")
            if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
                message["reply_to_message"] = {"message_id": reply["message_id"],
                                               "date": int(time.time()), "chat": message["chat"]}
            self.sent.append(message)
            return _ok(message)


def _ok(result: Any, description: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description is not None:
        body["description"] = description
    return 200, body


def _error(refusal: Refusal) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": refusal.status,
                            "description": refusal.description}
    if refusal.parameters:
        body["parameters"] = refusal.parameters
    return refusal.status, body


class _Handler(BaseHTTPRequestHandler):
    telegram: BotApiStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        stub = self.telegram
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        _, _, rest = self.path.partition("/bot")
        token, _, method = rest.partition("/")
        method = method.split("?", 1)[0]
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            params = None
        if token != stub.token:
            status, body = _error(Refusal(401, "Unauthorized"))
        elif not isinstance(params, dict):
            status, body = _error(Refusal(400, "Bad Request: can't parse JSON"))
        else:
            status, body = stub.answer(method, params)
        with stub._changed:
            stub.calls.append(Call(method, params if isinstance(params, dict) else {}, status))
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up waiting
            self.close_connection = True


@contextmanager
def bot_api_stub(max_poll: float = 2.0) -> Iterator[BotApiStub]:
    stub = BotApiStub(max_poll=max_poll)
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
