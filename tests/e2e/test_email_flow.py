"""Email end to end over HTTP: raw mail in at /inbound/email, threaded replies out over SMTP to a
real local server, replies routed back by signed Message-ID and case tag, and the matrix rows
C8 (auto-reply loops), C9 (spoofed agent reply) and C11 (oversized mail)."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.runtime import Runtime
from integrations.settings import EmailSettings, Secret, Settings
from tests.conftest import START, GraphQL
from tests.live import free_port
from tests.mail_corpus import agent_reply, crlf, huge_mail
from tests.smtp_server import ReceivedMail, SmtpTestServer, smtp_server

pytestmark = pytest.mark.e2e

INBOUND_SECRET = "gateway-secret"
HEADERS = {"X-Carelog-Inbound-Secret": INBOUND_SECRET, "Content-Type": "message/rfc822"}
ROOM = """query($id: UUID!, $w: Int) { room(accountId: $id, waitFor: $w) {
  messages { edges { node { text channel direction automated flagged caseId delivery
                            deliveryError subject } } } } }"""


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpTestServer, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings],
             smtp: tuple[SmtpTestServer, int]) -> Settings:
    return make_settings(backend, email=EmailSettings(
        domain="carelog.example", secret=Secret("mail-signing-secret"),
        staff_domains=frozenset({"carelog.example"}), authserv_id="mx.carelog.example",
        inbound_secret=Secret(INBOUND_SECRET), smtp_host="127.0.0.1", smtp_port=smtp[1],
        smtp_security="none", from_address="support@carelog.example",
        from_name="Carelog Support"))


def mail(message_id: str, subject: str, text: str, *, sender: str = "eva@acme.example",
         extra: str = "") -> bytes:
    return crlf(f"""\
From: Eva Client <{sender}>
To: support@carelog.example
Subject: {subject}
Date: {format_datetime(START)}
Message-ID: <{message_id}>
{extra}Content-Type: text/plain; charset=utf-8

{text}
""")


def post(client: TestClient[Any], raw: bytes, **headers: str) -> Any:
    return client.post("/inbound/email", content=raw, headers={**HEADERS, **headers})


def wait_for_mail(server: SmtpTestServer, count: int, timeout: float = 15.0
                  ) -> list[ReceivedMail]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.lock:
            if len(server.received) >= count:
                return list(server.received)
        time.sleep(0.05)
    raise AssertionError(f"{len(server.received)} mails arrived, expected {count}")


def setup_account(gql: GraphQL) -> str:
    account_id = str(gql("""mutation { openAccount(input: {name: "Acme GmbH", tier: ENTERPRISE,
        manager: "Anna Berg"}) { accountId } }""")["openAccount"]["accountId"])
    made = gql("""mutation($id: UUID!) { addContact(accountId: $id, name: "Eva Client",
        email: "eva@acme.example", role: CHAMPION) { notificationId } }""", id=account_id)
    gql(ROOM, id=account_id, w=made["addContact"]["notificationId"])
    return account_id


def test_a_mail_conversation_threads_both_ways(client: TestClient[Any], gql: GraphQL,
                                                smtp: tuple[SmtpTestServer, int]) -> None:
    server = smtp[0]
    account_id = setup_account(gql)
    first = post(client, mail("m1@acme.example", "Login fails", "I cannot log in since 9:00."))
    assert first.status_code == 200, first.text
    case_id = first.json()["caseId"]
    tag = first.json()["reference"]
    assert first.json()["status"] == "routed"

    # The client gets one acknowledgement naming the reference, marked as automatic.
    ack = wait_for_mail(server, 1)[0].parsed()
    assert ack["To"] == "eva@acme.example"
    assert ack["Subject"] == f"Re: Login fails [{tag}]"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<m1@acme.example>"
    assert tag in ack.get_content()

    reply = gql("""mutation($c: UUID!) { replyToCase(caseId: $c, text: "Please try again now.")
        { notificationId } }""", c=case_id)["replyToCase"]
    answer = wait_for_mail(server, 2)[1].parsed()
    assert answer["Subject"] == f"Re: Login fails [{tag}]"
    assert answer["In-Reply-To"] == "<m1@acme.example>"
    assert answer["Auto-Submitted"] is None
    assert "Please try again now." in answer.get_content()
    ours = answer["Message-ID"].strip("<>")
    assert ours.endswith("@carelog.example")
    assert ours.startswith(f"case.{case_id.replace('-', '')}.")

    # Her answer carries no tag, only a reference to our mail: it joins the case.
    again = post(client, mail("m2@acme.example", "Re: help", "Works now, thanks!",
                              extra=f"In-Reply-To: <{ours}>\r\nReferences: <m1@acme.example> "
                                    f"<{ours}>\r\n"))
    assert again.json()["caseId"] == case_id
    # A new mail with the tag in the subject joins it too; a new subject opens a new case.
    tagged = post(client, mail("m3@acme.example", f"Another thing [{tag}]", "One more detail"))
    assert tagged.json()["caseId"] == case_id
    fresh = post(client, mail("m4@acme.example", "Invoice", "Where is my invoice?"))
    assert fresh.json()["caseId"] != case_id
    # A forged tag (no such case of this account) is not a way into anything.
    forged = post(client, mail("m5@acme.example", "Hi [CL-00000000]", "Hello"))
    assert forged.json()["caseId"] not in (case_id, fresh.json()["caseId"])

    room = gql(ROOM, id=account_id, w=reply["notificationId"])["room"]["messages"]["edges"]
    sent = [e["node"] for e in room if e["node"]["text"] == "Please try again now."]
    assert [(n["direction"], n["channel"], n["caseId"], n["delivery"]) for n in sent] == [
        ("outbound", "EMAIL", case_id, "delivered")]
    redelivered = post(client, mail("m1@acme.example", "Login fails", "I cannot log in."))
    assert redelivered.json()["status"] == "duplicate"


def test_auto_replies_are_recorded_and_never_answered(
        client: TestClient[Any], gql: GraphQL, smtp: tuple[SmtpTestServer, int]) -> None:
    server = smtp[0]
    account_id = setup_account(gql)
    vacation = post(client, mail("ooo-1@acme.example", "Out of office", "Back on Monday.",
                                 extra="Auto-Submitted: auto-replied\r\n"))
    assert vacation.json()["status"] == "routed"
    assert "caseId" not in vacation.json()
    silent = post(client, mail("ooo-2@acme.example", "Away", "Away.",
                               extra="X-Autoreply: yes\r\n"))
    assert "caseId" not in silent.json()
    # A person's mail is acknowledged; the machines' were not: exactly one mail goes out.
    person = post(client, mail("p1@acme.example", "Question", "A real question"))
    assert wait_for_mail(server, 1)[0].parsed()["In-Reply-To"] == "<p1@acme.example>"
    time.sleep(1.5)
    assert len(server.received) == 1
    edges = gql(ROOM, id=account_id, w=person.json()["notificationId"])["room"]["messages"][
        "edges"]
    assert [e["node"]["automated"] for e in edges[:2]] == [True, True]


def test_a_spoofed_agent_reply_is_held_and_nothing_is_forwarded(
        client: TestClient[Any], gql: GraphQL, smtp: tuple[SmtpTestServer, int]) -> None:
    setup_account(gql)
    first = post(client, mail("m1@acme.example", "Access", "Need access"))
    wait_for_mail(smtp[0], 1)
    for n, results in enumerate(("mx.carelog.example; dmarc=fail header.from=carelog.example",
                                 "evil.example; dmarc=pass header.from=carelog.example")):
        raw = agent_reply(results, f"case.{first.json()['caseId']}.x.y@carelog.example")
        spoof = post(client, raw.replace(b"spoof-1", f"spoof-{n}".encode()))
        assert spoof.status_code == 202, spoof.text
        assert spoof.json()["status"] == "held"
    held = gql("""query($w: Int) { strayMessages(waitFor: $w) { sender reason } }""",
               w=spoof.json()["notificationId"])["strayMessages"]
    assert {h["sender"] for h in held} == {"sam@carelog.example"}
    time.sleep(1.5)
    assert len(smtp[0].received) == 1  # only the acknowledgement of the real client


def test_oversized_mail_and_a_missing_gateway_secret_are_refused(
        client: TestClient[Any], runtime: Any) -> None:
    before = runtime.desk.recorder.max_notification_id()
    big = post(client, huge_mail(30 * 1024 * 1024))
    assert big.status_code == 413
    assert big.json()["status"] == "too_large"
    unauthenticated = client.post("/inbound/email", content=mail("x@a", "s", "t"),
                                  headers={"Content-Type": "message/rfc822"})
    assert unauthenticated.status_code == 401
    assert post(client, b"   ").status_code == 400
    assert runtime.desk.recorder.max_notification_id() == before


def test_the_smtp_listener_of_the_app_routes_client_mail(
        backend: str, make_settings: Callable[..., Settings], clock: Any) -> None:
    port = free_port()
    settings = make_settings(backend, email=EmailSettings(
        domain="carelog.example", secret=Secret("s"), listen=f"127.0.0.1:{port}"))
    runtime = Runtime.open(settings, clock)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            gql = _graphql(client)
            account_id = setup_account(gql)
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.sendmail("eva@acme.example", ["support@carelog.example"],
                              mail("smtp-1@acme.example", "Printer", "It jams."))
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    smtp.sendmail("eva@acme.example", ["someone@elsewhere.example"],
                                  mail("smtp-2@acme.example", "Relay?", "Relay me."))

            def arrived() -> list[Any]:
                edges = gql(ROOM, id=account_id, w=0)["room"]["messages"]["edges"]
                return [e["node"]["text"] for e in edges if e["node"]["channel"] == "EMAIL"]

            deadline = time.monotonic() + 15
            while "It jams." not in arrived():
                assert time.monotonic() < deadline, "the mail never reached the room"
                time.sleep(0.05)
            assert arrived().count("It jams.") == 1
    finally:
        runtime.close()


def _graphql(client: TestClient[Any]) -> GraphQL:
    def run(query: str, **variables: Any) -> dict[str, Any]:
        body = client.post("/graphql", json={"query": query, "variables": variables}).json()
        assert not body.get("errors"), body
        return dict(body["data"])

    return run
