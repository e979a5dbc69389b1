"""Raw RFC 5322 mail → `InboundMessage`: what `/inbound/email` and the SMTP listener call.

`read_mail` never raises for a malformed mail (only `MailTooLargeError`, before parsing): what
cannot be read cleanly is salvaged and `flagged` for review.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from uuid import UUID

from domain.ports import InboundMessage
from integrations.email.authentication import dmarc_result
from integrations.email.automation import automation_reason
from integrations.email.bodies import Body, attachments, read_body, salvage_text
from integrations.email.case_tags import find_case_ref
from integrations.email.message_ids import case_from_thread
from integrations.email.quotes import trim_quoted

CHANNEL = "email"
MAX_BYTES = 25 * 1024 * 1024
MAX_RECIPIENTS = 100
MAX_TEXT = 200_000
"""Characters of body text kept; a longer text is cut and says so."""

_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")
_BARE_ID = re.compile(r"[^<>\s@]{1,200}@[^<>\s@]{1,200}")
"""Some mailers write the Message-ID without its angle brackets."""
_MAX_THREAD = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class MailTooLargeError(ValueError):
    """The raw mail exceeds the size limit; it was not parsed (answer 413 / SMTP 552)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"mail of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ReadMail:
    """An inbound mail as read: the channel message plus what routing needs besides."""

    message: InboundMessage
    recipients: tuple[str, ...]
    """To and Cc addresses, lower-cased."""
    claims_staff: bool
    """The From address is in one of our staff domains."""
    staff_verified: bool
    """It claims staff, and our own server recorded DMARC pass for its From domain."""
    automation: str | None
    """Why it looks machine-sent (see `automation`), or None; `message.automated` says if any."""
    raw_size: int

    def agent_reply_case(self, secret: str | bytes) -> UUID | None:
        """The case this mail answers as an agent reply, or None when it must not count as one.

        Needs an authenticated staff sender and a reference to one of our signed Message-IDs.
        """
        if not self.staff_verified or self.message.flagged is not None:
            return None
        return case_from_thread(self.message.thread, secret)


def _raw_headers(msg: EmailMessage, name: str) -> list[str]:
    """Header values as received (folded lines joined), without the slow structured parse."""
    wanted = name.lower()
    return [" ".join(str(value).split()) for key, value in msg.raw_items()
            if key.lower() == wanted]


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub("", text).split())


def _decoded(value: str) -> str:
    """A raw header value with its RFC 2047 encoded words decoded, on one line."""
    try:
        text = str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError):
        text = value
    return _one_line(text)


def _message_ids(values: list[str]) -> list[str]:
    return [m for value in values for m in _MESSAGE_ID.findall(value)]


def _external_id(msg: EmailMessage, raw: bytes) -> str:
    values = _raw_headers(msg, "Message-ID")
    ids = _message_ids(values) or [v for v in values[:1] if _BARE_ID.fullmatch(v)]
    if ids:
        return ids[0]
    return f"sha256.{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id"


def _thread(msg: EmailMessage) -> tuple[str, ...]:
    ordered: list[str] = []
    for message_id in (_message_ids(_raw_headers(msg, "References"))
                       + _message_ids(_raw_headers(msg, "In-Reply-To"))):
        if message_id in ordered:
            ordered.remove(message_id)
        ordered.append(message_id)
    return tuple(ordered[-_MAX_THREAD:])


def _from(msg: EmailMessage) -> tuple[str, str, str | None]:
    """Display name, lower-cased address, and what is odd about the From header (or None).

    Parsed as RFC 5322 before encoded words are decoded, so a display name cannot smuggle
    in an address of its own.
    """
    problem = None
    try:
        header = msg["From"]
        found = ([(_one_line(a.display_name), a.addr_spec) for a in header.addresses]
                 if header else [])
        if len(found) != 1 or header.defects or len(msg.get_all("From") or ()) > 1:
            problem = "ambiguous From header"
    except Exception:  # the structured parser trips over some garbage: fall back
        name, address = parseaddr(" ".join(_raw_headers(msg, "From")[:1]))
        found = [(_decoded(name), address)]
        problem = "unreadable From header"
    name, address = found[0] if found else ("", "")
    return name, address.strip().lower(), problem if found else "no From address"


def _in_domains(domain: str, domains: frozenset[str]) -> bool:
    """The domain or one of its parents is listed (mail from eu.carelog.example claims staff)."""
    labels = domain.lower().split(".")
    listed = {d.lower() for d in domains}
    return any(".".join(labels[i:]) in listed for i in range(len(labels)))


def _occurred_at(msg: EmailMessage, received_at: datetime) -> datetime:
    """The Date header when it is readable and not in the future, else the receiving time."""
    for value in _raw_headers(msg, "Date")[:1]:
        try:
            sent = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return received_at
        sent = sent if sent.tzinfo else sent.replace(tzinfo=UTC)
        return min(sent.astimezone(UTC), received_at)
    return received_at


def _cut(text: str) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}\n[… {len(text) - MAX_TEXT} more characters not kept]"


def _raw_body(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        _, found, body = raw.partition(separator)
        if found:
            return body
    return raw


def read_mail(raw: bytes, *, trusted_authserv_id: str | None, staff_domains: frozenset[str],
              max_bytes: int = MAX_BYTES, max_recipients: int = MAX_RECIPIENTS,
              received_at: datetime | None = None) -> ReadMail:
    """Read one raw mail. Raises `MailTooLargeError` (only) when it exceeds `max_bytes`.

    `trusted_authserv_id` is our receiving server's id in Authentication-Results (None: no
    mail can prove it comes from staff); `staff_domains` are our agents' mail domains
    (subdomains count too). `received_at` (default now) is `occurred_at` when the Date
    header is missing, unreadable or in the future.
    """
    if len(raw) > max_bytes:
        raise MailTooLargeError(len(raw), max_bytes)
    received_at = received_at or datetime.now(UTC)
    msg = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, sender, from_problem = _from(msg)
    domain = sender.rpartition("@")[2]
    flags = [from_problem] if from_problem else []
    try:
        body = read_body(msg, _raw_body(raw))
        found = attachments(msg)
    except Exception as error:  # untrusted input: keep what can be read, flag it
        body = Body(salvage_text(_raw_body(raw)),
                    f"unreadable MIME ({type(error).__name__}): raw text kept")
        found = ()
    if body.problem:
        flags.append(body.problem)
    recipients = tuple(a.lower() for _, a in getaddresses(
        _raw_headers(msg, "To") + _raw_headers(msg, "Cc")) if a)
    if len(recipients) > max_recipients:
        flags.append(f"{len(recipients)} recipients (more than {max_recipients})")
    claims_staff = _in_domains(domain, staff_domains)
    dmarc = dmarc_result(_raw_headers(msg, "Authentication-Results"), trusted_authserv_id,
                         domain) if claims_staff else "none"
    if claims_staff and dmarc != "pass":
        flags.append(f"claims staff sender {sender} but DMARC at our server is {dmarc!r}")
    subject = _decoded(" ".join(_raw_headers(msg, "Subject")[:1])) or None
    automation = automation_reason(msg, sender)
    message = InboundMessage(
        channel=CHANNEL, external_id=_external_id(msg, raw), conversation=sender,
        sender=sender, sender_name=name, text=_cut(trim_quoted(body.text)),
        occurred_at=_occurred_at(msg, received_at), subject=subject, thread=_thread(msg),
        case_ref=find_case_ref(subject), attachments=found,
        automated=automation is not None,
        flagged="; ".join(flags) or None)
    verified = claims_staff and dmarc == "pass" and from_problem is None
    return ReadMail(message, recipients, claims_staff, verified, automation, len(raw))
