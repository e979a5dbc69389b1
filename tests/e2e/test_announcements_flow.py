"""Announcements through GraphQL on SQLite and PostgreSQL: published for some accounts, the
reactor of `carelog serve` posts them to those rooms and no one else's, clients see only their
own, cases opened meanwhile are linked, and one answer reaches every linked case."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from tests.conftest import START, GraphQL
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

PUBLISH = """mutation($input: AnnouncementInput!) { publishAnnouncement(kind: INCIDENT,
  input: $input) { announcementId notificationId } }"""
ANNOUNCEMENTS = """query($wait: Int, $case: UUID) { announcements(waitFor: $wait, caseId: $case) {
  nodes { id title status accountIds plans recipients
          deliveries { accountId channel recipient state }
          linkedCases { id subject } } } }"""
ONE = """query($id: UUID!) { announcement(id: $id) { title } }"""
ROOM = """query($id: UUID!, $wait: Int) { room(accountId: $id, waitFor: $wait) {
  messages(first: 20) { edges { node { text channel } } } } }"""


def as_user(client: TestClient[Any], token: str) -> GraphQL:
    def run(document: str, **variables: Any) -> dict[str, Any]:
        answer = post_gql(client, document, token, **variables)
        assert not answer.get("errors"), answer
        return dict(answer["data"])

    return run


def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "the reactor did not get there in time"
        time.sleep(0.2)


@pytest.fixture
def world(client: TestClient[Any], runtime: Runtime) -> dict[str, Any]:
    desk = runtime.desk
    ids = {name: desk.open_account(name=name.title(), tier=tier, manager="Ann", currency="EUR",
                                   actor="staff:ann").ids["accountId"]
           for name, tier in (("alpha", "vip"), ("bravo", "standard"), ("charlie", "business"))}
    add_user(runtime, "admin", "admin")
    add_user(runtime, "agent", "agent")
    add_user(runtime, "alice", "client", account_id=ids["alpha"])
    add_user(runtime, "bob", "client", account_id=ids["bravo"])
    return {**ids, "staff": as_user(client, token_for(runtime, "admin")),
            "agent": as_user(client, token_for(runtime, "agent")),
            "alice": token_for(runtime, "alice"), "bob": token_for(runtime, "bob")}


def room_texts(staff: GraphQL, account_id: UUID, wait: int) -> list[str]:
    edges = staff(ROOM, id=str(account_id), wait=wait)["room"]["messages"]["edges"]
    return [e["node"]["text"] for e in edges if e["node"]["channel"] == "ROOM"]


def test_an_incident_reaches_the_affected_rooms_and_no_one_elses(
        client: TestClient[Any], world: dict[str, Any]) -> None:
    staff = world["staff"]
    made = staff(PUBLISH, input={
        "title": "Payroll exports delayed", "text": "We are on it.",
        "startsAt": (START.replace(hour=8)).isoformat(), "services": ["Payroll"],
        "accountIds": [str(world["alpha"])], "plans": ["BUSINESS"]})["publishAnnouncement"]
    expected = "Payroll exports delayed\n\nWe are on it."
    wait = made["notificationId"]
    until(lambda: room_texts(staff, world["alpha"], wait) == [expected]
          and room_texts(staff, world["charlie"], wait) == [expected])
    assert room_texts(staff, world["bravo"], wait) == []

    def delivered() -> set[str]:
        seen = staff(ANNOUNCEMENTS, wait=wait)["announcements"]["nodes"]
        return {d["accountId"] for d in seen[0]["deliveries"]}

    assert until(lambda: delivered() == {str(world["alpha"]), str(world["charlie"])})
    states = {(d["channel"], d["state"]) for d in staff(ANNOUNCEMENTS)["announcements"][
        "nodes"][0]["deliveries"]}
    # Alice's contact is mailed; with no SMTP configured here the mail waits, pending.
    assert states == {("ROOM", "delivered"), ("EMAIL", "pending")}

    # Alice (affected) sees it, and only her own account among those named and delivered.
    alice = post_gql(client, ANNOUNCEMENTS, world["alice"])["data"]["announcements"]["nodes"]
    assert [a["title"] for a in alice] == ["Payroll exports delayed"]
    assert alice[0]["accountIds"] == [str(world["alpha"])]
    assert {d["accountId"] for d in alice[0]["deliveries"]} == {str(world["alpha"])}
    assert str(world["charlie"]) not in json.dumps(alice)
    # Bob (not affected) sees nothing, and its id answers like a missing one.
    assert post_gql(client, ANNOUNCEMENTS, world["bob"])["data"]["announcements"][
        "nodes"] == []
    unknown = str(uuid4())
    hidden = post_gql(client, ONE, world["bob"], id=made["announcementId"])
    missing = post_gql(client, ONE, world["bob"], id=unknown)
    assert codes(hidden) == ["NOT_FOUND"]
    assert json.dumps(hidden).replace(str(made["announcementId"]), "?") == json.dumps(
        missing).replace(unknown, "?")


def test_cases_opened_during_the_incident_are_linked_and_answered_once(
        client: TestClient[Any], world: dict[str, Any]) -> None:
    staff, agent = world["staff"], world["agent"]
    made = staff(PUBLISH, input={
        "title": "Login outage", "text": "Sign-in fails for some users.",
        "startsAt": START.replace(hour=8).isoformat()})["publishAnnouncement"]
    opened = post_gql(client, """mutation($input: OpenCaseInput!) { openCase(input: $input) {
        caseId notificationId } }""", world["alice"], input={
        "accountId": str(world["alpha"]), "channel": "PORTAL", "subject": "Cannot log in",
        "text": "Nobody here can sign in."})["data"]["openCase"]
    case_id = opened["caseId"]

    def linked() -> list[dict[str, Any]]:
        nodes = staff(ANNOUNCEMENTS)["announcements"]["nodes"]
        return list(nodes[0]["linkedCases"]) if nodes else []

    assert until(linked) == [{"id": case_id, "subject": "Cannot log in"}]
    on_case = post_gql(client, ANNOUNCEMENTS, world["alice"], case=case_id)
    assert [a["title"] for a in on_case["data"]["announcements"]["nodes"]] == ["Login outage"]
    assert codes(post_gql(client, ANNOUNCEMENTS, world["bob"], case=case_id)) == ["NOT_FOUND"]

    answer = """mutation($id: UUID!, $text: String!) { answerLinkedCases(announcementId: $id,
        text: $text) { answered notificationId duplicate } }"""
    first = agent(answer, id=made["announcementId"], text="Fixed now, sorry!")
    again = agent(answer, id=made["announcementId"], text="Fixed now, sorry!")
    assert first["answerLinkedCases"]["answered"] == 1
    assert again["answerLinkedCases"]["duplicate"]
    case = staff("""query($id: UUID!, $wait: Int) { case(id: $id, waitFor: $wait) {
        replyCount } }""", id=case_id, wait=first["answerLinkedCases"]["notificationId"])
    assert case["case"]["replyCount"] == 1
