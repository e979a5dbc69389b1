"""One account's room when Telegram, mail and portal messages interleave: every message once,
in the order it was said (each channel's own time), whatever order the deliveries arrive in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from integrations.clock import FakeClock
from integrations.settings import EmailSettings, Secret, Settings
from tests.conftest import START, GraphQL
from tests.e2e.test_email_flow import HEADERS
from tests.e2e.test_telegram_flow import link_code, message, open_vip, post, telegram_settings
from tests.mail_corpus import crlf
from tests.telegram_server import BotApiStub, bot_api_stub

pytestmark = pytest.mark.e2e

ROOM = """query($id: UUID!, $w: Int) { room(accountId: $id, waitFor: $w) {
  messageCount messages(first: 50) { edges { node { text channel } } } } }"""


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with bot_api_stub(max_poll=0.3) as server:
        yield server


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings], stub: BotApiStub) -> Settings:
    return make_settings(backend, telegram=telegram_settings(stub), email=EmailSettings(
        domain="carelog.example", secret=Secret("s"), inbound_secret=Secret("gateway-secret")))


def mail(text: str, at_minute: int) -> bytes:
    return crlf(f"""\
From: Eva Client <eva@globex.example>
To: support@carelog.example
Subject: Outage
Date: {format_datetime(START + timedelta(minutes=at_minute))}
Message-ID: <{text.replace(" ", "-")}@globex.example>
Content-Type: text/plain; charset=utf-8

{text}
""")


def test_interleaved_channels_keep_the_order_things_were_said(
        client: TestClient[Any], gql: GraphQL, clock: FakeClock) -> None:
    account_id = open_vip(gql)
    made = gql("""mutation($id: UUID!) { addContact(accountId: $id, name: "Eva Client",
        email: "eva@globex.example", role: CHAMPION) { notificationId } }""", id=account_id)
    gql(ROOM, id=account_id, w=made["addContact"]["notificationId"])
    code = link_code(gql, account_id)
    t0 = int(START.timestamp())
    assert post(client, message(1, 1, f"/link {code}", t0)).status_code == 200
    clock.advance(timedelta(minutes=10))  # every message below was said before "now"
    # Said at minutes 1..6, alternating channels; delivered out of order.
    said = [("telegram", 1, "tg 1"), ("mail", 2, "mail 1"), ("portal", 3, "portal 1"),
            ("telegram", 4, "tg 2"), ("mail", 5, "mail 2"), ("telegram", 6, "tg 3")]
    arrival = [5, 0, 3, 1, 4, 2]
    for index in arrival:
        channel, minute, text = said[index]
        if channel == "telegram":
            answer = post(client, message(10 + index, 10 + index, text, t0 + minute * 60))
        elif channel == "mail":
            answer = client.post("/inbound/email", content=mail(text, minute),
                                 headers=HEADERS)
        else:
            answer = client.post("/graphql", json={"query": """mutation($id: UUID!, $at: DateTime)
                { sendChatMessage(accountId: $id, text: "portal 1", channel: PORTAL,
                  occurredAt: $at) { notificationId } }""", "variables": {
                "id": account_id, "at": (START + timedelta(minutes=minute)).isoformat()}})
        assert answer.status_code == 200, answer.text
    # Redeliveries change nothing.
    assert post(client, message(10, 10, "tg 1", t0 + 60)).status_code == 200
    client.post("/inbound/email", content=mail("mail 1", 2), headers=HEADERS)
    head = client.app.state.runtime.desk.recorder.max_notification_id()
    found = gql(ROOM, id=account_id, w=head)["room"]
    inbound = [(e["node"]["channel"], e["node"]["text"]) for e in found["messages"]["edges"]
               if e["node"]["text"] in {t for _, _, t in said}]
    assert inbound == [(c.upper().replace("MAIL", "EMAIL"), t) for c, _, t in said]
