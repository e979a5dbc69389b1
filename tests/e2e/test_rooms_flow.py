"""Rooms and the inbox over HTTP: the web form, call logs, web chat, stray messages, the room
with every channel in order, unread counts, and the live `roomEvents` subscription."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import Settings
from tests.conftest import GraphQL, GraphQLError
from tests.live import graphql, live_server, subscribe

pytestmark = pytest.mark.e2e

ROOM = """query($id: UUID!, $w: Int, $first: Int = 50, $before: String) {
  room(accountId: $id, waitFor: $w) { messageCount unread waitingSince lastMessage
    messages(first: $first, before: $before) { hasPreviousPage startCursor
      edges { node { text channel direction author kind caseId subject edited
                     contactId flagged } } } } }"""


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(backend, form_limit_per_address=3)


def open_account(gql: GraphQL, name: str = "Acme GmbH", tier: str = "ENTERPRISE") -> str:
    made = gql(f"""mutation {{ openAccount(input: {{name: "{name}", tier: {tier},
        manager: "Anna Berg"}}) {{ accountId notificationId }} }}""")["openAccount"]
    gql("query($id: UUID!, $w: Int) { account(id: $id, waitFor: $w) { id } }",
        id=made["accountId"], w=made["notificationId"])
    return str(made["accountId"])


def add_contact(gql: GraphQL, account_id: str, email: str, phone: str | None = None) -> str:
    made = gql("""mutation($id: UUID!, $email: String!, $phone: String) {
        addContact(accountId: $id, name: "Eva Client", email: $email, phone: $phone,
                   role: CHAMPION) { contactId notificationId } }""",
               id=account_id, email=email, phone=phone)["addContact"]
    room(gql, account_id, made["notificationId"])  # the directory knows the contact now
    return str(made["contactId"])


def room(gql: GraphQL, account_id: str, wait: int, **kwargs: Any) -> dict[str, Any]:
    return dict(gql(ROOM, id=account_id, w=wait, **kwargs)["room"])


def texts(found: dict[str, Any]) -> list[str]:
    return [e["node"]["text"] for e in found["messages"]["edges"]]


FORM = {"name": "Eva Client", "company": "Acme", "subject": "Export fails",
        "text": "The CSV export stops at 10,000 rows."}


def test_a_web_form_from_a_known_contact_opens_a_case_in_the_account_room(
        client: TestClient[Any], gql: GraphQL) -> None:
    account_id = open_account(gql)
    contact_id = add_contact(gql, account_id, "eva@acme.example")
    answer = client.post("/forms/request", json={**FORM, "email": "Eva@Acme.example"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "routed"
    assert body["reference"] == "CL-" + body["caseId"][:8].upper()
    again = client.post("/forms/request", json={**FORM, "email": "eva@acme.example"})
    assert again.json()["status"] == "duplicate"
    assert again.json()["caseId"] == body["caseId"]
    found = room(gql, account_id, body["notificationId"])
    node = found["messages"]["edges"][0]["node"]
    assert (node["text"], node["channel"], node["subject"], node["contactId"]) == (
        FORM["text"], "WEB_FORM", "Export fails", contact_id)
    assert found["messageCount"] == 1
    assert found["unread"] == 1
    assert found["waitingSince"] is not None


def test_a_web_form_from_the_company_domain_reaches_the_account(
        client: TestClient[Any], gql: GraphQL) -> None:
    account_id = open_account(gql)
    made = gql("""mutation($id: UUID!) { setEmailDomains(accountId: $id,
        domains: ["acme.example"]) { notificationId } }""", id=account_id)
    room(gql, account_id, made["setEmailDomains"]["notificationId"])
    answer = client.post("/forms/request", json={**FORM, "email": "new.person@acme.example"})
    assert answer.json()["status"] == "routed"
    found = room(gql, account_id, answer.json()["notificationId"])
    assert found["messages"]["edges"][0]["node"]["contactId"] is None


def test_a_web_form_from_nobody_we_know_is_held_and_can_be_routed(
        client: TestClient[Any], gql: GraphQL) -> None:
    account_id = open_account(gql)
    answer = client.post("/forms/request", data={**FORM, "email": "stranger@nowhere.example"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "held"
    held = gql("""query($w: Int) { strayMessages(waitFor: $w) { id sender text reason } }""",
               w=answer.json()["notificationId"])["strayMessages"]
    assert [(s["sender"], s["text"]) for s in held] == [("stranger@nowhere.example",
                                                         FORM["text"])]
    assert "no account knows" in held[0]["reason"]
    routed = gql("""mutation($s: UUID!, $a: UUID!) { routeStrayMessage(strayMessageId: $s,
        accountId: $a) { caseId notificationId } }""", s=held[0]["id"], a=account_id)
    found = room(gql, account_id, routed["routeStrayMessage"]["notificationId"])
    assert texts(found) == [FORM["text"]]
    assert gql("{ strayMessages { id } }")["strayMessages"] == []
    with pytest.raises(GraphQLError) as info:
        gql("""mutation($s: UUID!, $a: UUID!) { routeStrayMessage(strayMessageId: $s,
            accountId: $a) { caseId } }""", s=held[0]["id"], a=account_id)
    assert info.value.codes == ["INVALID_STATE"]


@pytest.mark.parametrize(("body", "error"), [
    ({**FORM, "email": "not-an-address"}, "is not an email address"),
    ({**FORM, "email": "eva@acme.example", "text": "   "}, "text is required"),
    ({"name": "x"}, "email is required"),
])
def test_a_bad_web_form_is_refused_and_writes_nothing(
        client: TestClient[Any], gql: GraphQL, runtime: Runtime, body: dict[str, Any],
        error: str) -> None:
    before = runtime.desk.recorder.max_notification_id()
    answer = client.post("/forms/request", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert runtime.desk.recorder.max_notification_id() == before


def test_the_web_form_is_rate_limited_per_address(client: TestClient[Any]) -> None:
    codes = [client.post("/forms/request", json={
        **FORM, "email": "flood@nowhere.example", "text": f"message {i}"}).status_code
        for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    other = client.post("/forms/request", json={**FORM, "email": "calm@nowhere.example"})
    assert other.status_code == 202


def test_a_call_from_a_known_number_is_logged_in_the_contact_room(
        client: TestClient[Any], gql: GraphQL) -> None:
    account_id = open_account(gql, tier="VIP")
    contact_id = add_contact(gql, account_id, "eva@acme.example", phone="+49 30 1234-567")
    call = {"callId": "pbx-1", "direction": "inbound", "number": "0049301234567",
            "durationSeconds": 312, "outcome": "answered", "ivrChoice": "2",
            "notes": "Asked about the export limit"}
    answer = client.post("/calls", json=call)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "routed"
    assert client.post("/calls", json=call).json()["status"] == "duplicate"
    found = room(gql, account_id, answer.json()["notificationId"])
    node = found["messages"]["edges"][0]["node"]
    assert (node["text"], node["channel"], node["contactId"]) == (
        "Asked about the export limit", "PHONE", contact_id)
    unknown = client.post("/calls", json={**call, "callId": "pbx-2", "number": "+1 555 0100"})
    assert unknown.status_code == 202
    bad = client.post("/calls", json={**call, "durationSeconds": "long"})
    assert bad.status_code == 400
    assert "durationSeconds" in bad.json()["error"]


def test_a_room_keeps_every_channel_in_the_order_things_were_said(
        client: TestClient[Any], gql: GraphQL, clock: FakeClock) -> None:
    account_id = open_account(gql, tier="VIP")
    add_contact(gql, account_id, "eva@acme.example", phone="+49301234567")
    said = []
    for i in range(3):
        gql("""mutation($id: UUID!, $t: String!) { sendChatMessage(accountId: $id,
            text: $t, channel: PORTAL) { caseId notificationId } }""",
            id=account_id, t=f"portal {i}")
        said.append(f"portal {i}")
        clock.advance(timedelta(minutes=1))
        client.post("/forms/request", json={**FORM, "email": "eva@acme.example",
                                            "text": f"form {i}"})
        said.append(f"form {i}")
        clock.advance(timedelta(minutes=1))
        client.post("/calls", json={"callId": f"c{i}", "direction": "inbound",
                                    "number": "+49301234567", "durationSeconds": 60,
                                    "outcome": "answered", "notes": f"call {i}"})
        said.append(f"call {i}")
        clock.advance(timedelta(minutes=1))
    posted = gql("""mutation($id: UUID!) { postToRoom(accountId: $id, text: "We are on it")
        { notificationId } }""", id=account_id)["postToRoom"]
    said.append("We are on it")
    found = room(gql, account_id, posted["notificationId"])
    assert texts(found) == said
    assert found["waitingSince"] is None  # our post answered the room
    assert found["unread"] == 9
    # Paging back through history: the newest 4, then the 6 before them.
    newest = room(gql, account_id, 0, first=4)
    assert texts(newest) == said[-4:]
    assert newest["messages"]["hasPreviousPage"] is True
    older = room(gql, account_id, 0, first=50, before=newest["messages"]["startCursor"])
    assert texts(older) == said[:-4]
    assert older["messages"]["hasPreviousPage"] is False
    read = gql("""mutation($id: UUID!) { markRoomRead(accountId: $id) { notificationId } }""",
               id=account_id)["markRoomRead"]
    assert room(gql, account_id, read["notificationId"])["unread"] == 0
    rooms = gql("""{ rooms(first: 10) { nodes { accountId unread messageCount
        account { name } } } }""")["rooms"]["nodes"]
    assert [(r["account"]["name"], r["messageCount"], r["unread"]) for r in rooms] == [
        ("Acme GmbH", 10, 0)]


def test_a_room_of_an_account_without_messages_is_empty_and_a_missing_one_is_not_found(
        gql: GraphQL) -> None:
    account_id = open_account(gql)
    assert room(gql, account_id, 0)["messageCount"] == 0
    with pytest.raises(GraphQLError) as info:
        room(gql, "00000000-0000-0000-0000-000000000001", 0)
    assert info.value.codes == ["NOT_FOUND"]


def test_room_events_send_what_came_after_then_every_new_message(
        settings: Settings, runtime: Runtime) -> None:
    with live_server(create_app(settings, runtime=runtime)) as url:
        made = graphql(url, """mutation { openAccount(input: {name: "Globex", tier: VIP,
            manager: "Anna Berg"}) { accountId notificationId } }""")["openAccount"]
        account_id = made["accountId"]
        first = graphql(url, """mutation($id: UUID!) { sendChatMessage(accountId: $id,
            text: "first", channel: WEB_CHAT) { notificationId } }""", id=account_id)
        graphql(url, """query($id: UUID!, $w: Int) { room(accountId: $id, waitFor: $w)
            { messageCount } }""", id=account_id,
                w=first["sendChatMessage"]["notificationId"])

        async def scenario() -> list[str]:
            seen = []
            query = """subscription($id: UUID!, $after: Int) { roomEvents(accountId: $id,
                after: $after) { text direction } }"""
            async with subscribe(url, query, id=account_id, after=made["notificationId"]) as sub:
                seen.append((await sub.next())["roomEvents"]["text"])
                await asyncio.to_thread(graphql, url, """mutation($id: UUID!) { postToRoom(
                    accountId: $id, text: "second") { notificationId } }""", id=account_id)
                seen.append((await sub.next())["roomEvents"]["text"])
            return seen

        assert asyncio.run(scenario()) == ["first", "second"]
