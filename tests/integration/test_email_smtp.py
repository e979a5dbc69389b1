"""SMTP against real local servers: `SmtpSender` into a recording aiosmtpd server, and mail
into our `SmtpListener` (relaying refused, 30 MB refused, failures answered 451), and the
C8 loop between our listener and auto-responding mailboxes."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.ports import OutboundMessage
from integrations.clock import FakeClock
from integrations.email.loops import SenderRateLimit, should_auto_answer
from integrations.email.message_ids import outbound_message_id
from integrations.email.parsing import MailTooLargeError, read_mail
from integrations.email.smtp_listener import SmtpListener
from integrations.email.smtp_sender import SmtpConfig, SmtpSender
from tests import mail_corpus as corpus
from tests.conftest import IN_CI
from tests.live import free_port
from tests.smtp_server import (
    Credentials,
    SmtpTestServer,
    self_signed_certificate,
    smtp_server,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CASE = UUID("1a2b3c4d-5e6f-4a0b-8c0d-112233445566")
SECRET = "s3cret"


@pytest.fixture
def server() -> Iterator[tuple[SmtpTestServer, int]]:
    with smtp_server() as running:
        yield running


def sender_for(port: int, **changes: object) -> SmtpSender:
    options: dict[str, object] = {"host": "127.0.0.1", "port": port, "security": "none",
                                  "from_address": "support@carelog.example",
                                  "from_name": "Carelog Support", "timeout": 5.0}
    options.update(changes)
    return SmtpSender(SmtpConfig(**options), FakeClock(NOW))  # type: ignore[arg-type]


def reply(**changes: object) -> OutboundMessage:
    fields: dict[str, object] = {
        "channel": "email", "conversation": "juergen.mueller@acme.example",
        "text": "Grüße zurück \u2013 das Passwort ist zurückgesetzt.\n\nIhr Support",
        "message_id": outbound_message_id(CASE, nonce="7", secret=SECRET,
                                          domain="carelog.example"),
        "subject": "Re: Login geht nicht [CL-1A2B3C4D]",
        "in_reply_to": "CAFk3=mT9+Qx_2v@mail.gmail.example",
        "references": ("case.0123@carelog.example", "CAFk3=mT9+Qx_2v@mail.gmail.example")}
    fields.update(changes)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


def test_a_reply_arrives_threaded_with_a_utf8_body(server: tuple[SmtpTestServer, int]):
    recorder, port = server
    message = reply()
    receipt = sender_for(port).send(message)
    assert receipt.delivered
    assert receipt.external_id == message.message_id
    [got] = recorder.received
    assert got.mail_from == "support@carelog.example"
    assert got.rcpt_tos == ("juergen.mueller@acme.example",)
    mail = got.parsed()
    assert mail["Message-ID"] == f"<{message.message_id}>"
    assert mail["In-Reply-To"] == "<CAFk3=mT9+Qx_2v@mail.gmail.example>"
    assert mail["References"] == ("<case.0123@carelog.example> "
                                  "<CAFk3=mT9+Qx_2v@mail.gmail.example>")
    assert mail["Subject"] == "Re: Login geht nicht [CL-1A2B3C4D]"
    assert mail["From"] == "Carelog Support <support@carelog.example>"
    assert mail["Date"] == "Mon, 02 Mar 2026 09:30:00 +0000"
    assert mail["Auto-Submitted"] is None
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Content-Transfer-Encoding"] == "quoted-printable"
    assert mail.get_content().replace("\r\n", "\n") == message.text + "\n"
    # what we sent reads back as a reply to the client's mail, naming our case
    back = read_mail(got.raw, trusted_authserv_id=None, staff_domains=frozenset())
    assert back.message.case_ref == "CL-1A2B3C4D"
    assert back.message.thread[-1] == "CAFk3=mT9+Qx_2v@mail.gmail.example"


def test_automatic_answers_say_so_and_get_the_case_tag(server: tuple[SmtpTestServer, int]):
    recorder, port = server
    receipt = sender_for(port).send(reply(automated=True, subject="Login geht nicht",
                                          in_reply_to=None, references=()))
    assert receipt.delivered
    mail = recorder.received[0].parsed()
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Subject"] == "Login geht nicht [CL-1A2B3C4D]"
    assert mail["In-Reply-To"] is None
    assert mail["References"] is None


def test_a_451_answer_is_a_retryable_failure(server: tuple[SmtpTestServer, int]):
    recorder, port = server
    recorder.answers.data_reply = "451 4.3.0 Try again later"
    receipt = sender_for(port).send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, True)
    assert receipt.error == "451 4.3.0 Try again later"
    assert recorder.received == []


def test_a_550_answer_is_a_permanent_failure(server: tuple[SmtpTestServer, int]):
    recorder, port = server
    recorder.answers.rcpt_reply = "550 5.1.1 No such user"
    receipt = sender_for(port).send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, False)
    assert receipt.error == "550 5.1.1 No such user"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_is_used_and_a_wrong_password_is_permanent():
    with smtp_server(Credentials("carelog", "pa55")) as (recorder, port):
        assert not sender_for(port).send(reply()).delivered
        wrong = sender_for(port, username="carelog", password="nope").send(reply())
        assert (wrong.delivered, wrong.retryable) == (False, False)
        assert wrong.error is not None
        assert wrong.error.startswith("535")
        right = sender_for(port, username="carelog", password="pa55").send(reply())
        assert right.delivered
        assert len(recorder.received) == 1


def test_another_channel_is_refused_without_connecting():
    receipt = sender_for(free_port()).send(reply(channel="telegram"))
    assert (receipt.delivered, receipt.error) == (False, "not an email message: telegram")


def test_no_server_is_a_retryable_failure():
    receipt = sender_for(free_port()).send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, True)
    assert receipt.error is not None
    assert receipt.error.startswith("ConnectionRefusedError")


def test_starttls_required_but_not_offered_is_permanent(server: tuple[SmtpTestServer, int]):
    recorder, port = server
    receipt = sender_for(port, security="starttls").send(reply())
    assert (receipt.delivered, receipt.retryable) == (False, False)
    assert recorder.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        message = "the openssl command is missing: no certificate for the TLS tests"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_starttls_encrypts_and_checks_the_certificate(certificate: tuple[Path, Path]):
    with smtp_server(tls=certificate) as (recorder, port):
        untrusted = sender_for(port, security="starttls").send(reply())
        assert (untrusted.delivered, untrusted.retryable) == (False, True)
        assert untrusted.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        plain = sender_for(port).send(reply())
        assert (plain.delivered, plain.retryable) == (False, False)
        assert plain.error is not None
        assert plain.error.startswith("530")
        receipt = sender_for(port, security="starttls",
                             ssl_context=trusting(certificate[0])).send(reply())
        assert receipt.delivered
        assert [m.tls for m in recorder.received] == [True]


def test_implicit_tls(certificate: tuple[Path, Path]):
    with smtp_server(tls=certificate, implicit_tls=True) as (recorder, port):
        receipt = sender_for(port, security="ssl",
                             ssl_context=trusting(certificate[0])).send(reply())
        assert receipt.delivered
        assert [m.tls for m in recorder.received] == [True]


@pytest.mark.parametrize("changes", [
    {"conversation": "a@acme.example\r\nBcc: everyone@acme.example"},
    {"conversation": "a@acme.example, b@acme.example"},
    {"message_id": "no id at all"},
])
def test_a_message_that_cannot_be_a_mail_is_refused_unsent(
        server: tuple[SmtpTestServer, int], changes: dict[str, str]):
    recorder, port = server
    receipt = sender_for(port).send(reply(**changes))
    assert (receipt.delivered, receipt.retryable) == (False, False)
    assert recorder.received == []


def test_malformed_client_ids_are_left_out_of_the_threading_headers(
        server: tuple[SmtpTestServer, int]):
    recorder, port = server
    receipt = sender_for(port).send(reply(in_reply_to="not an id",
                                          references=("a@b", "broken id", "c@d")))
    assert receipt.delivered
    mail = recorder.received[0].parsed()
    assert mail["In-Reply-To"] is None
    assert mail["References"] == "<a@b> <c@d>"


def test_header_injection_through_the_subject_is_folded_away(
        server: tuple[SmtpTestServer, int]):
    recorder, port = server
    assert sender_for(port).send(reply(subject="Hi\r\nBcc: x@evil.example [CL-1A2B3C4D]"))
    mail = recorder.received[0].parsed()
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hi Bcc: x@evil.example [CL-1A2B3C4D]"


class Inbox:
    """The listener's callback: keeps raw mail, fails on demand."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.fail_with: Exception | None = None

    def __call__(self, raw: bytes) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.raw.append(raw)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    with SmtpListener(inbox, domains=frozenset({"carelog.example"}), port=port):
        yield inbox, port


def test_the_listener_hands_mail_for_our_domain_to_the_callback(inbox: tuple[Inbox, int]):
    received, port = inbox
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=5) as smtp:
        refused = smtp.sendmail("ivan@initech.example", ["Support@Carelog.example"],
                                corpus.KOI8_R)
    assert refused == {}
    [raw] = received.raw
    message = read_mail(raw, trusted_authserv_id=None, staff_domains=frozenset()).message
    assert message.text == "привет, счёт не пришёл"
    assert message.external_id == "20260304120000.1234@initech.example"


def test_the_listener_refuses_to_relay(inbox: tuple[Inbox, int]):
    received, port = inbox
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=5) as smtp, \
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail("spammer@evil.example", ["victim@elsewhere.example"],
                      corpus.NO_MESSAGE_ID)
    assert refused.value.recipients["victim@elsewhere.example"][0] == 550
    assert received.raw == []


def test_the_listener_refuses_a_30_mb_mail_and_keeps_serving(inbox: tuple[Inbox, int]):
    received, port = inbox
    huge = corpus.huge_mail(30 * 1024 * 1024)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=60) as smtp:
        # a client declaring SIZE is refused at MAIL FROM
        with pytest.raises(smtplib.SMTPSenderRefused) as early:
            smtp.sendmail("leo@acme.example", ["support@carelog.example"], huge)
        assert early.value.smtp_code == 552
        # one that does not is refused after DATA, its bytes drained and dropped
        assert smtp.mail("leo@acme.example")[0] == 250
        assert smtp.rcpt("support@carelog.example")[0] == 250
        assert smtp.data(huge)[0] == 552
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=5) as smtp:
        smtp.sendmail("jack@acme.example", ["support@carelog.example"], corpus.NO_MESSAGE_ID)
    assert len(received.raw) == 1


@pytest.mark.parametrize(("error", "code"), [
    (MailTooLargeError(10, 5), 552), (RuntimeError("store down"), 451)])
def test_callback_failures_are_answered_so_the_sender_retries_or_gives_up(
        inbox: tuple[Inbox, int], error: Exception, code: int):
    received, port = inbox
    received.fail_with = error
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example", timeout=5) as smtp, \
            pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("jack@acme.example", ["support@carelog.example"], corpus.NO_MESSAGE_ID)
    assert refused.value.smtp_code == code


def test_a_slow_store_does_not_block_other_senders():
    release, first_arrived, stored = threading.Event(), threading.Event(), []

    def store(raw: bytes) -> None:
        if b"slow-1" in raw:
            first_arrived.set()
            assert release.wait(30)
        stored.append(raw)

    def send(message_id: str) -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example",
                          timeout=30) as smtp:
            smtp.sendmail("jack@acme.example", ["support@carelog.example"],
                          corpus.NO_MESSAGE_ID.replace(
                              b"Subject:", f"Message-ID: <{message_id}@acme.example>\r\n"
                                           "Subject:".encode()))

    port = free_port()
    with SmtpListener(store, domains=frozenset({"carelog.example"}), port=port):
        slow = threading.Thread(target=send, args=("slow-1",))
        slow.start()
        assert first_arrived.wait(10)
        send("quick-2")  # completes while the first mail is still being stored
        assert len(stored) == 1
        assert b"quick-2" in stored[0]
        release.set()
        slow.join(30)
    assert len(stored) == 2


def test_the_listener_stops_cleanly():
    port = free_port()
    listener = SmtpListener(Inbox(), domains=frozenset({"carelog.example"}), port=port)
    listener.start()
    listener.stop()
    listener.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)


class Desk:
    """Our side of the C8 loop: every inbound mail may get an acknowledgement."""

    def __init__(self, mailbox_port: int) -> None:
        self.limit = SenderRateLimit(FakeClock(NOW))
        self.sender = sender_for(mailbox_port)
        self.received = 0
        self.acks = 0
        self.lock = threading.Lock()

    def __call__(self, raw: bytes) -> None:
        message = read_mail(raw, trusted_authserv_id=None,
                            staff_domains=frozenset({"carelog.example"})).message
        with self.lock:
            self.received += 1
            if not (should_auto_answer(message) and self.limit.try_acquire(message.sender)):
                return
            self.acks += 1
        ack = OutboundMessage(channel="email", conversation=message.sender, automated=True,
                              text="We received your mail.", subject=message.subject,
                              message_id=outbound_message_id(CASE, nonce=str(self.acks),
                                                             secret=SECRET,
                                                             domain="carelog.example"),
                              in_reply_to=message.external_id)
        assert self.sender.send(ack).delivered


def run_loop(mailbox_headers: str, address: str) -> tuple[Desk, int]:
    """A mailbox that answers every mail with an auto-reply, talking to our listener until
    no one writes any more; returns our desk and how many mails the mailbox got."""
    with smtp_server() as (mailbox, mailbox_port):
        desk, port = Desk(mailbox_port), free_port()
        with SmtpListener(desk, domains=frozenset({"carelog.example"}), port=port):
            answered = 0
            outgoing = [corpus.auto_reply(mailbox_headers, address)]
            while outgoing and answered < 30:
                with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.acme.example",
                                  timeout=5) as smtp:
                    smtp.sendmail(address, ["support@carelog.example"], outgoing.pop())
                answered += 1
                outgoing = [corpus.auto_reply(mailbox_headers, address).replace(
                    b"Message-ID: <auto-", f"Message-ID: <r{answered}-".encode())
                    for _ in mailbox.received[answered - 1:]]
            return desk, len(mailbox.received)


@pytest.mark.parametrize(("headers", "address"), [
    ("Auto-Submitted: auto-replied", "away@acme.example"),
    ("X-Autoreply: yes", "ooo@globex.example"),
])
def test_c8_no_acknowledgement_to_auto_responders(headers: str, address: str):
    desk, mailbox_got = run_loop(headers, address)
    assert (desk.received, desk.acks, mailbox_got) == (1, 0, 0)


def test_c8_a_responder_without_markers_is_stopped_by_the_rate_limit():
    desk, mailbox_got = run_loop("X-Mailer: Naive Responder", "naive@acme.example")
    assert (desk.received, desk.acks, mailbox_got) == (6, 5, 5)
