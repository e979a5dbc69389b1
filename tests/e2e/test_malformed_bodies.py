"""F2: invalid JSON, invalid UTF-8, a 20 MB body and deeply nested JSON on every JSON route:
answered 400 or 413, nothing written, and the app still serves; on both backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from integrations.settings import JiraSettings, Secret
from integrations.telegram.webhook import SECRET_HEADER
from tests.e2e.test_authentication import app_for  # noqa: F401  (a fixture)
from tests.e2e.test_telegram_flow import SECRET, telegram_settings
from tests.e2e.users import add_user, codes, post_gql, token_for
from tests.telegram_server import BotApiStub, bot_api_stub

pytestmark = pytest.mark.e2e

AppFor = Callable[..., tuple[Runtime, TestClient[Any]]]
BODIES = {
    "invalid JSON": b'{"query": ',
    "invalid UTF-8": b'{"query": "\xff\xfe{ queues { line } }", "email": "\xc3(@x.example"}',
    "20 MB": b'{"text": "' + b"a" * (20 * 1024 * 1024) + b'"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


def test_f2_malformed_and_oversized_bodies_on_every_route(app_for: AppFor) -> None:  # noqa: F811
    with bot_api_stub() as stub:
        _every_route(app_for, stub)


def _every_route(app_for: AppFor, stub: BotApiStub) -> None:  # noqa: F811
    runtime, client = app_for(jira=JiraSettings(webhook_secret=Secret("jira-secret")),
                              telegram=telegram_settings(stub))
    add_user(runtime, "pbx", "agent")
    agent = {"Authorization": f"Bearer {token_for(runtime, 'pbx')}"}
    routes: dict[str, dict[str, str]] = {
        "/graphql": agent, "/calls": agent, "/forms/request": {}, "/auth/login": {},
        "/portal/register": {}, "/portal/confirm": {},
        "/webhooks/jira": {"X-Carelog-Webhook-Secret": "jira-secret"},
        "/webhooks/telegram": {SECRET_HEADER: SECRET},
    }
    # (/auth/logout reads no body: it only ends the cookie's session.)
    head = runtime.desk.recorder.max_notification_id()
    wrong = []
    for route, headers in routes.items():
        for name, body in BODIES.items():
            answer = client.post(route, content=body,
                                 headers={**headers, "Content-Type": "application/json"})
            expected = {413} if name == "20 MB" else {400, 413}
            if route == "/webhooks/telegram" and name != "20 MB":
                # Telegram redelivers anything but a 2xx for a day: a poisoned update is
                # acknowledged as invalid, with nothing written, so it cannot block the chat.
                expected = {200}
                if answer.json().get("status") != "invalid":
                    wrong.append((route, name, answer.status_code, answer.text[:200]))
            if answer.status_code not in expected:
                wrong.append((route, name, answer.status_code, answer.text[:200]))
    assert wrong == [], "\n".join(map(str, wrong))
    assert runtime.desk.recorder.max_notification_id() == head  # no partial event
    assert client.get("/healthz").status_code == 200
    assert not codes(post_gql(client, "{ queues { line } }", token=agent["Authorization"][7:]))
