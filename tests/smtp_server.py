"""A local SMTP server on an ephemeral loopback port that records what it receives (aiosmtpd).

`SmtpTestServer.answers` makes it refuse: set `data_reply` (for instance "451 4.3.0 Try
later" or "550 5.7.1 Rejected") or `rcpt_reply`, and every following mail gets that answer.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.live import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool = False
    """The mail came over an encrypted connection (STARTTLS or implicit TLS)."""

    def parsed(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, _class=EmailMessage, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Answers:
    rcpt_reply: str | None = None
    data_reply: str | None = None


@dataclass
class SmtpTestServer:
    answers: Answers = field(default_factory=Answers)
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        if self.answers.rcpt_reply:
            return self.answers.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802
                          envelope: Envelope) -> str:
        if self.answers.data_reply:
            return self.answers.data_reply
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("cipher") is not None
        with self.lock:
            self.received.append(ReceivedMail(str(envelope.mail_from),
                                              tuple(envelope.rcpt_tos),
                                              envelope.original_content or b"", tls))
        return "250 2.0.0 Queued"


@dataclass(frozen=True)
class Credentials:
    """AUTH PLAIN/LOGIN for one user (without TLS: loopback tests only)."""

    user: str
    password: str

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: object) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 made with the openssl command (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextmanager
def smtp_server(credentials: Credentials | None = None, *,
                tls: tuple[Path, Path] | None = None, implicit_tls: bool = False
                ) -> Iterator[tuple[SmtpTestServer, int]]:
    """A running recording server and its port on 127.0.0.1; stopped on exit.

    With `credentials`, mail is accepted only after a successful AUTH. With `tls` (cert and
    key), STARTTLS is offered and required, or with `implicit_tls` the port speaks TLS only.
    """
    server = SmtpTestServer()
    port = free_port()
    options: dict[str, Any] = {}
    if credentials:
        options.update(authenticator=credentials, auth_required=True, auth_require_tls=False)
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        if implicit_tls:
            options["ssl_context"] = context
        else:
            options.update(tls_context=context, require_starttls=True)
    controller = Controller(server, hostname="127.0.0.1", port=port,
                            server_hostname="smtp.test.local", **options)
    controller.start()
    try:
        yield server, port
    finally:
        controller.stop()
