"""`SmtpSender`: our replies out over SMTP, threaded under the client's mail.

The receipt says what happened; nothing is raised. 4xx answers and connection trouble are
retryable, 5xx answers and mails that cannot be built are not. A send whose outcome is
unknown (the connection dropped after DATA) is reported retryable: the retry reuses the
Message-ID, so a duplicate is recognisable as one.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Literal

from domain.ports import Clock, DeliveryReceipt, OutboundMessage
from integrations.clock import SystemClock
from integrations.email.case_tags import case_tag, find_case_ref, reply_subject
from integrations.email.message_ids import case_of_own_id

_MESSAGE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_MAX_REFERENCES = 20
_ADDRESS = re.compile(r"[^<>\s@,;]+@[^<>\s@,;]+")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand mail over: the settings `SmtpSender` needs."""

    host: str
    from_address: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    from_name: str | None = None
    helo_name: str | None = None
    """The name we greet with; unset: the from address's domain (no DNS lookup of our own)."""
    ssl_context: ssl.SSLContext | None = None


class MailBuildError(ValueError):
    """The outbound message cannot become a valid mail (bad address or Message-ID)."""


def _bracketed(message_id: str) -> str:
    bare = message_id.strip().strip("<>").strip()
    if not _MESSAGE_ID.fullmatch(bare):
        raise MailBuildError(f"not a Message-ID: {message_id!r}")
    return f"<{bare}>"


def _is_message_id(value: str) -> bool:
    return _MESSAGE_ID.fullmatch(value.strip().strip("<>").strip()) is not None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_mail(message: OutboundMessage, config: SmtpConfig, clock: Clock) -> EmailMessage:
    """The mail for one outbound message: UTF-8 text/plain with threading headers."""
    _, to = parseaddr(message.conversation)
    if not _ADDRESS.fullmatch(to) or to != message.conversation.strip():
        raise MailBuildError(f"not one mail address: {message.conversation!r}")
    subject = _one_line(message.subject or "")
    case_id = case_of_own_id(message.message_id)
    if case_id is not None and find_case_ref(subject) is None:
        subject = (reply_subject(subject, case_id) if message.in_reply_to
                   else f"{subject or 'Your request'} {case_tag(case_id)}")
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = formataddr((config.from_name or "", config.from_address))
    mail["To"] = to
    mail["Subject"] = subject or "(no subject)"
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = _bracketed(message.message_id)
    # a client's malformed id is left out rather than blocking our reply
    references = [_bracketed(r) for r in message.references if _is_message_id(r)]
    if message.in_reply_to and _is_message_id(message.in_reply_to):
        parent = _bracketed(message.in_reply_to)
        mail["In-Reply-To"] = parent
        references = [r for r in references if r != parent] + [parent]
    if references:
        mail["References"] = " ".join(references[-_MAX_REFERENCES:])
    if message.automated:
        mail["Auto-Submitted"] = "auto-replied"
        # Exchange's own switch: no out-of-office answers to this mail
        mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    return mail


def _failure(code: int, text: str) -> DeliveryReceipt:
    return DeliveryReceipt(delivered=False, error=f"{code} {text}".strip(),
                           retryable=not 500 <= code < 600)


class SmtpSender:
    """`MessageSender` for channel "email" over SMTP (smtplib; one connection per send)."""

    channel = "email"

    def __init__(self, config: SmtpConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if message.channel != self.channel:
            return DeliveryReceipt(False, error=f"not an email message: {message.channel}")
        try:
            mail = build_mail(message, self.config, self.clock)
        except (MailBuildError, ValueError) as error:
            return DeliveryReceipt(delivered=False, error=str(error), retryable=False)
        try:
            smtp = self._connect()
        except smtplib.SMTPNotSupportedError as error:
            return DeliveryReceipt(delivered=False, error=_describe(error), retryable=False)
        except smtplib.SMTPResponseException as error:
            return _failure(error.smtp_code, _text(error.smtp_error))
        except (smtplib.SMTPException, OSError) as error:
            return DeliveryReceipt(delivered=False, error=_describe(error), retryable=True)
        try:
            smtp.send_message(mail, from_addr=self.config.from_address,
                              to_addrs=[str(mail["To"])])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return _failure(code, _text(reply))
        except smtplib.SMTPResponseException as error:
            return _failure(error.smtp_code, _text(error.smtp_error))
        except (smtplib.SMTPException, OSError) as error:
            return DeliveryReceipt(delivered=False, error=_describe(error), retryable=True)
        finally:
            _close(smtp)
        return DeliveryReceipt(delivered=True, external_id=str(mail["Message-ID"]).strip("<>"))

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        helo = c.helo_name or c.from_address.rpartition("@")[2] or "localhost"
        context = c.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.security == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, local_hostname=helo, timeout=c.timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, local_hostname=helo, timeout=c.timeout)
        try:
            if c.security == "starttls":
                smtp.starttls(context=context)
            if c.username is not None:
                smtp.login(c.username, c.password or "")
        except BaseException:
            _close(smtp)
            raise
        return smtp


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT after the answer to DATA is known: its failure must not undo a delivery."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
