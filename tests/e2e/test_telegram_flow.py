"""Telegram through HTTP: a group linked with `/link CODE`, its messages in the account's room,
our replies and room posts delivered by the reactor to the Bot API stub, the webhook's secret
(matrix C5), duplicate and reordered updates (C6), delivery faults, and polling mode."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import Secret, Settings, TelegramSettings
from integrations.telegram.webhook import SECRET_HEADER
from tests.conftest import START, GraphQL
from tests.live import CARELOG, environment
from tests.telegram_server import BLOCKED, BotApiStub, bot_api_stub, too_many_requests

pytestmark = pytest.mark.e2e

SECRET = "telegram-hook-secret"
GROUP = -1001234
T0 = int(START.timestamp())
ROOM = """query($id: UUID!) { room(accountId: $id) { messages(first: 50) { edges { node {
  text channel author direction edited automated caseId delivery deliveryError } } } } }"""


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with bot_api_stub(max_poll=0.3) as server:
        yield server


def telegram_settings(stub: BotApiStub, **overrides: Any) -> TelegramSettings:
    return TelegramSettings(**{"token": Secret(stub.token), "api_url": stub.url,
                               "webhook_secret": Secret(SECRET), "timeout": 2.0, **overrides})


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings], stub: BotApiStub) -> Settings:
    return make_settings(backend, telegram=telegram_settings(stub))


def open_vip(gql: GraphQL, name: str = "Globex Energy") -> str:
    made = gql("""mutation($name: String!) { openAccount(input: {name: $name, tier: VIP,
        manager: "Anna Berg", currency: "EUR", occurredAt: "2026-01-05T09:00:00Z"}) {
        accountId } }""", name=name)
    return str(made["openAccount"]["accountId"])


def link_code(gql: GraphQL, account_id: str) -> str:
    issued = gql("""mutation($id: UUID!) { issueLinkCode(accountId: $id) { code expiresAt } }""",
                 id=account_id)
    return str(issued["issueLinkCode"]["code"])


def message(update_id: int, message_id: int, text: str, at: int, *, chat: int = GROUP,
            edit_date: int | None = None, user: int = 4242) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "message_id": message_id, "date": at, "text": text,
        "chat": {"id": chat, "type": "supergroup", "title": "Globex x Carelog"},
        "from": {"id": user, "is_bot": False, "first_name": "Eva", "last_name": "Client"}}
    if edit_date is not None:
        raw["edit_date"] = edit_date
        return {"update_id": update_id, "edited_message": raw}
    return {"update_id": update_id, "message": raw}


def post(client: TestClient[Any], body: dict[str, Any] | bytes,
         secret: str | None = SECRET) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return client.post("/webhooks/telegram", content=content, headers=headers)


def room(gql: GraphQL, account_id: str) -> list[dict[str, Any]]:
    return [e["node"] for e in gql(ROOM, id=account_id)["room"]["messages"]["edges"]]


def until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def inbound(gql: GraphQL, account_id: str, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        nodes = [n for n in room(gql, account_id) if n["direction"] == "inbound"]
        return nodes if len(nodes) >= count else None

    return list(until(ready))


def sent_texts(stub: BotApiStub) -> list[tuple[int | str, str]]:
    return [(m["chat"]["id"], m["text"]) for m in stub.sent]


def delivery_of(gql: GraphQL, account_id: str, text: str) -> dict[str, Any] | None:
    node = next((n for n in room(gql, account_id) if n["text"] == text), None)
    if node is None or node["delivery"] in ("pending", "sending", "retrying"):
        return None
    return node


def topics(runtime: Runtime, topic: str) -> int:
    notes = runtime.desk.recorder.select_notifications(start=None, limit=100_000)
    return sum(1 for n in notes if n.topic == topic)


def linked(client: TestClient[Any], gql: GraphQL, stub: BotApiStub, clock: FakeClock) -> str:
    account_id = open_vip(gql)
    code = link_code(gql, account_id)
    clock.advance(timedelta(hours=1))
    answer = post(client, message(1, 1, f"/link {code}", T0 + 60))
    assert answer.status_code == 200
    assert answer.json()["status"] == "linked"
    until(lambda: any(text.startswith("This chat is now linked to Globex Energy")
                      for _, text in sent_texts(stub)))
    # ... and its delivery is on record (the room shows what the log holds).
    until(lambda: any(n["automated"] and n["delivery"] == "delivered"
                      for n in room(gql, account_id)))
    return account_id


def test_a_linked_group_talks_to_the_room_and_hears_our_answers(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, runtime: Runtime,
        clock: FakeClock) -> None:
    account_id = linked(client, gql, stub, clock)
    assert sent_texts(stub)[0][0] == GROUP
    confirmation = until(lambda: next((n for n in room(gql, account_id) if n["automated"]
                                       and n["delivery"] == "delivered"), None))
    assert (confirmation["channel"], confirmation["delivery"]) == ("TELEGRAM", "delivered")

    # C6: 10, 10, 12, 11, then an id far away; each applied once, in Telegram's order.
    for update in (message(10, 11, "one", T0 + 100), message(10, 11, "one", T0 + 100),
                   message(12, 13, "three", T0 + 300), message(11, 12, "two", T0 + 200),
                   message(987_654_321, 14, "four", T0 + 400)):
        answer = post(client, update)
        assert answer.status_code == 200, answer.text
    nodes = inbound(gql, account_id, 4)
    assert [(n["text"], n["channel"], n["author"]) for n in nodes] == [
        ("one", "TELEGRAM", "Eva Client"), ("two", "TELEGRAM", "Eva Client"),
        ("three", "TELEGRAM", "Eva Client"), ("four", "TELEGRAM", "Eva Client")]
    assert topics(runtime, "carelog:Interaction.Recorded") == 5  # 4 and the confirmation
    assert len({n["caseId"] for n in nodes}) == 1  # the first opened the case, the rest joined
    assert topics(runtime, "carelog:Case.Opened") == 1

    # An edit changes the text in place; delivered twice, it is recorded once.
    edit = message(13, 12, "two, edited", T0 + 200, edit_date=T0 + 500)
    assert post(client, edit).status_code == 200
    assert post(client, edit).status_code == 200
    nodes = until(lambda: [n for n in inbound(gql, account_id, 4) if n["edited"]] and
                  inbound(gql, account_id, 4))
    assert [n["text"] for n in nodes] == ["one", "two, edited", "three", "four"]
    assert topics(runtime, "carelog:Interaction.Edited") == 1

    # Our reply to the case and a room post reach the group.
    case_id = nodes[0]["caseId"]
    gql("""mutation($c: UUID!) { replyToCase(caseId: $c, text: "Fixed, please retry.") {
        notificationId } }""", c=case_id)
    gql("""mutation($a: UUID!) { postToRoom(accountId: $a, text: "Maintenance at 22:00.") {
        notificationId } }""", a=account_id)
    for text in ("Fixed, please retry.", "Maintenance at 22:00."):
        node = until(lambda text=text: delivery_of(gql, account_id, text))
        assert (node["delivery"], node["deliveryError"]) == ("delivered", None)
        assert (GROUP, text) in sent_texts(stub)
    assert len(stub.calls_to("sendMessage")) == 3


def test_a_forged_or_unreadable_update_changes_nothing(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, runtime: Runtime,
        clock: FakeClock) -> None:
    account_id = linked(client, gql, stub, clock)
    head = runtime.desk.recorder.max_notification_id()
    services = runtime.services
    refused_before = services.webhook_rejections

    # C5: a missing or wrong secret is refused before the body is read: not even a body
    # that is not JSON at all gets a 400.
    assert post(client, message(20, 21, "forged", T0 + 100), secret=None).status_code == 403
    assert post(client, message(21, 22, "forged", T0 + 100), secret="guess").status_code == 403
    assert post(client, b"{not json", secret="guess").status_code == 403
    assert services.webhook_rejections == refused_before + 3

    # Authenticated but unreadable: 200 (Telegram would retry anything else), nothing stored.
    for body in (b"{not json", json.dumps({"message": {"text": "no update_id"}}).encode(),
                 json.dumps({"update_id": 22, "message": {"chat": {}}}).encode()):
        answer = post(client, body)
        assert (answer.status_code, answer.json()["status"]) == (200, "invalid")
    time.sleep(0.3)
    assert runtime.desk.recorder.max_notification_id() == head
    assert not any(n["text"] == "forged" for n in room(gql, account_id))


def test_a_rate_limited_send_is_retried_and_a_blocked_one_fails(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, clock: FakeClock) -> None:
    account_id = linked(client, gql, stub, clock)
    stub.fail_sends(too_many_requests(1))
    gql("""mutation($a: UUID!) { postToRoom(accountId: $a, text: "After a pause") {
        notificationId } }""", a=account_id)
    node = until(lambda: delivery_of(gql, account_id, "After a pause"))
    assert node["delivery"] == "delivered"
    attempts = [c.status for c in stub.calls_to("sendMessage")
                if c.params.get("text") == "After a pause"]
    assert attempts == [429, 200]

    stub.fail_sends(BLOCKED)
    gql("""mutation($a: UUID!) { postToRoom(accountId: $a, text: "Nobody listens") {
        notificationId } }""", a=account_id)
    node = until(lambda: delivery_of(gql, account_id, "Nobody listens"))
    assert node["delivery"] == "failed"
    assert "blocked" in node["deliveryError"]
    time.sleep(1.5)  # a retry would have come by now
    assert [c.status for c in stub.calls_to("sendMessage")
            if c.params.get("text") == "Nobody listens"] == [403]


def test_a_wrong_or_used_link_code_is_answered_in_the_chat(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, runtime: Runtime,
        clock: FakeClock) -> None:
    linked(client, gql, stub, clock)
    head = runtime.desk.recorder.max_notification_id()
    answer = post(client, message(30, 31, "/link ABCDEFGHJK", T0 + 100, chat=-100999))
    assert answer.json()["status"] == "link refused"
    assert (-100999, "Carelog could not link this chat: that link code is not valid; ask your "
                     "account manager for a new one.") in sent_texts(stub)
    assert runtime.desk.recorder.max_notification_id() == head  # no account to record it for


@pytest.mark.parametrize("backend", ["sqlite"])
def test_polling_mode_reads_get_updates(backend: str, make_settings: Callable[..., Settings],
                                        stub: BotApiStub, clock: FakeClock) -> None:
    settings = make_settings(backend, telegram=telegram_settings(stub, mode="polling"))
    stub.webhook = {"url": "https://old.example.com/webhooks/telegram"}
    from api.app import create_app

    runtime = Runtime.open(settings, clock)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            assert stub.webhook is None  # removed, or getUpdates would answer 409
            gql = _gql(client)
            account_id = open_vip(gql)
            code = link_code(gql, account_id)
            clock.advance(timedelta(hours=1))
            stub.queue(message(5, 1, f"/link {code}", T0 + 60))
            until(lambda: any(t.startswith("This chat is now linked") for _, t in
                              sent_texts(stub)))
            stub.queue(message(7, 3, "second", T0 + 120), message(6, 2, "first", T0 + 90),
                       message(6, 2, "first", T0 + 90))
            nodes = inbound(gql, account_id, 2)
            assert [n["text"] for n in nodes] == ["first", "second"]
            until(lambda: not stub.pending)  # confirmed: offset moved past them
            assert topics(runtime, "carelog:Interaction.Recorded") == 3
    finally:
        runtime.close()


def _gql(client: TestClient[Any]) -> GraphQL:
    def run(query: str, **variables: Any) -> dict[str, Any]:
        body = client.post("/graphql", json={"query": query, "variables": variables}).json()
        assert not body.get("errors"), body
        return dict(body["data"])

    return run


def test_a_group_that_became_a_supergroup_stays_linked(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, runtime: Runtime,
        clock: FakeClock) -> None:
    account_id = linked(client, gql, stub, clock)
    new_chat = -1009876543210
    migrated = message(40, 41, "", T0 + 100)
    migrated["message"].pop("text")
    migrated["message"]["migrate_to_chat_id"] = new_chat
    answer = post(client, migrated)
    assert answer.json()["status"] == "moved"
    assert post(client, migrated).json()["status"] == "duplicate"
    assert post(client, message(41, 1, "hello from the supergroup", T0 + 200,
                                chat=new_chat)).json()["status"] == "routed"
    assert post(client, message(42, 42, "from the old id", T0 + 300)).json()["status"] == "held"
    nodes = inbound(gql, account_id, 1)
    assert [n["text"] for n in nodes] == ["hello from the supergroup"]
    gql("""mutation($a: UUID!) { postToRoom(accountId: $a, text: "To the new chat") {
        notificationId } }""", a=account_id)
    until(lambda: delivery_of(gql, account_id, "To the new chat"))
    assert (new_chat, "To the new chat") in sent_texts(stub)
    assert (GROUP, "To the new chat") not in sent_texts(stub)


def test_the_telegram_worker_polls_until_told_to_stop(
        make_settings: Callable[..., Settings], stub: BotApiStub, tmp_path: Path) -> None:
    settings = make_settings("sqlite")
    env = {**environment(settings), "CARELOG_TELEGRAM_TOKEN": stub.token,
           "CARELOG_TELEGRAM_API_URL": stub.url, "CARELOG_TELEGRAM_MODE": "polling"}
    stub.queue(message(3, 1, "hello from an unlinked chat", int(time.time()) - 60,
                       chat=-100555))
    worker = subprocess.Popen([CARELOG, "worker", "telegram"], env=env, cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    try:
        until(lambda: any(c.params.get("offset") == 4 for c in stub.calls_to("getUpdates")),
              timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert "privacy mode is on" in stderr
    runtime = Runtime.open(settings, folds=False)
    try:
        assert topics(runtime, "carelog:StrayMessage.Held") == 1  # nobody linked that chat
    finally:
        runtime.close()


def test_of_two_pollers_only_the_lease_holder_polls_and_the_other_takes_over(
        make_settings: Callable[..., Settings], backend: str, stub: BotApiStub,
        clock: FakeClock) -> None:
    """Two processes polling one bot (`carelog worker telegram` twice): one reads getUpdates,
    each update is stored once, and polling goes on when that one stops."""
    settings = make_settings(backend, telegram=telegram_settings(stub, mode="polling"))
    runtimes = [Runtime.open(settings, clock), Runtime.open(settings, clock, folds=False)]
    handled: list[list[int]] = [[], []]
    try:
        desk = runtimes[0].desk
        account = desk.open_account(name="Globex Energy", tier="vip", manager="Anna Berg",
                                    currency="EUR", actor="staff:ann").ids["accountId"]
        code = desk.issue_link_code(account_id=account, actor="staff:ann").extra["code"]
        desk.redeem_link_code(code=code, channel="telegram", conversation=str(GROUP),
                              title="Globex x Carelog", actor="integration:telegram")
        clock.advance(timedelta(hours=1))
        bots = [rt.telegram for rt in runtimes if rt.telegram is not None]
        for bot, seen in zip(bots, handled, strict=True):
            bot.poll_timeout = 1
            bot.updates.handle = _counting(  # type: ignore[method-assign,assignment]
                bot.updates.handle, seen)
        bots[0].start(poll=True)
        lease = bots[0].lease
        assert lease is not None
        until(lease.held)
        bots[1].start(poll=True)
        stub.queue(*(message(n, n, f"message {n}", T0 + n) for n in range(1, 6)))
        until(lambda: any(c.params.get("offset") == 6 for c in stub.calls_to("getUpdates")))
        assert (handled[0], handled[1]) == ([1, 2, 3, 4, 5], [])
        bots[0].stop()  # its lease goes with it
        stub.queue(*(message(n, n, f"message {n}", T0 + n) for n in range(6, 11)))
        until(lambda: any(c.params.get("offset") == 11 for c in stub.calls_to("getUpdates")))
        assert handled[1] == [6, 7, 8, 9, 10]
        recorded = [n for n in desk.recorder.select_notifications(start=None, limit=10_000)
                    if n.topic == "carelog:Interaction.Recorded"]
        assert len(recorded) == 10  # each message once
    finally:
        for rt in runtimes:
            rt.close()


def _counting(handle: Callable[[Any], str], seen: list[int]) -> Callable[[Any], str]:
    def counted(update: Any) -> str:
        seen.append(update.update_id)
        return handle(update)

    return counted


def in_topic(update: dict[str, Any], thread: int) -> dict[str, Any]:
    """`update` said in the forum topic `thread` (a message without one is in General)."""
    raw = update["message"]
    raw["chat"]["is_forum"] = True
    raw.update(message_thread_id=thread, is_topic_message=True)
    return update


def topic_service(update_id: int, thread: int, at: int, chat: int = GROUP,
                  **service: Any) -> dict[str, Any]:
    update = in_topic(message(update_id, thread, "", at, chat=chat), thread)
    update["message"].pop("text")
    update["message"].update(service)
    return update


def test_forum_topics_each_hold_a_case_and_hear_its_answers(
        client: TestClient[Any], gql: GraphQL, stub: BotApiStub, runtime: Runtime,
        clock: FakeClock) -> None:
    """A forum supergroup linked with one /link: each topic opens its own case, our replies
    go back into the topic, room posts and the General topic's case stay in the chat."""
    account_id = linked(client, gql, stub, clock)
    assert "message_thread_id" not in stub.calls_to("sendMessage")[0].params  # to General
    billing, outage = 50, 60
    for update, status in (
            (topic_service(50, billing, T0 + 100,
                           forum_topic_created={"name": "Billing", "icon_color": 7322096}),
             "named"),
            (in_topic(message(51, 51, "Invoice 11 is wrong", T0 + 110), billing), "routed"),
            (in_topic(message(52, 61, "The export is down", T0 + 120), outage), "routed"),
            (in_topic(message(53, 52, "It says 400 EUR", T0 + 130), billing), "routed"),
            (message(54, 70, "Hello from General", T0 + 140), "routed"),
            (topic_service(55, outage, T0 + 150, forum_topic_closed={}), "ignored"),
            (topic_service(56, 3, T0 + 160, chat=-100999,  # a forum nobody linked
                           forum_topic_created={"name": "Elsewhere", "icon_color": 7322096}),
             "ignored")):
        answer = post(client, update)
        assert (answer.status_code, answer.json()["status"]) == (200, status), answer.text
    nodes = {n["text"]: n["caseId"] for n in inbound(gql, account_id, 4)}
    assert len(nodes) == 4  # the topic service messages are not client messages
    assert nodes["Invoice 11 is wrong"] == nodes["It says 400 EUR"]
    cases = {nodes["Invoice 11 is wrong"], nodes["The export is down"],
             nodes["Hello from General"]}
    assert len(cases) == 3
    assert topics(runtime, "carelog:Case.Opened") == 3
    assert runtime.desk.case(UUID(nodes["Invoice 11 is wrong"])).subject == "Billing"
    assert runtime.desk.case(UUID(nodes["The export is down"])).subject == "The export is down"

    answers = {"Invoice 11 is wrong": "Billing: credit note sent.",
               "The export is down": "Outage: fixed, please retry.",
               "Hello from General": "General: hello!"}
    for opened, text in answers.items():
        gql("""mutation($c: UUID!, $t: String!) { replyToCase(caseId: $c, text: $t) {
            notificationId } }""", c=nodes[opened], t=text)
    gql("""mutation($a: UUID!) { postToRoom(accountId: $a, text: "Maintenance at 22:00.") {
        notificationId } }""", a=account_id)
    for text in [*answers.values(), "Maintenance at 22:00."]:
        node = until(lambda text=text: delivery_of(gql, account_id, text))
        assert (node["delivery"], node["deliveryError"]) == ("delivered", None)
    where = {m["text"]: (m["chat"]["id"], m.get("message_thread_id")) for m in stub.sent}
    assert where["Billing: credit note sent."] == (GROUP, billing)
    assert where["Outage: fixed, please retry."] == (GROUP, outage)
    assert where["General: hello!"] == (GROUP, None)
    assert where["Maintenance at 22:00."] == (GROUP, None)
