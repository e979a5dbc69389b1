"""The readable text and the attachments of a parsed mail, with fallbacks for broken MIME.

Prefers text/plain, else HTML reduced to text. Transfer encodings are undone by the `email`
package; unknown or bogus charsets fall back to UTF-8, then Latin-1, and say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message

from domain.ports import Attachment
from integrations.email.html_text import html_to_text

_BROKEN_MIME = ("StartBoundaryNotFoundDefect", "NoBoundaryInMultipartDefect",
                "MultipartInvariantViolationDefect", "CloseBoundaryNotFoundDefect",
                "InvalidMultipartContentTransferEncodingDefect")
_MIME_SCAFFOLD = re.compile(r"^(--[^\s]{1,200}|content-[a-z-]+:.*|mime-version:.*)$",
                            re.IGNORECASE)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


@dataclass(frozen=True, slots=True)
class Body:
    text: str
    problem: str | None
    """Why the text may be incomplete or mis-decoded (for review); None when read cleanly."""


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Bytes as text in their declared charset; UTF-8 then Latin-1 when it is unknown."""
    name = (charset or "us-ascii").strip().strip('"').lower()
    if name in ("us-ascii", "ascii"):
        # 8-bit bytes under a us-ascii label are nearly always UTF-8 sent by a lax client
        name = "utf-8"
    try:
        # non-text codecs such as base64 or rot13 raise LookupError here too
        return data.decode(name, errors="replace"), None
    except (LookupError, UnicodeError, ValueError):
        pass
    try:
        return data.decode("utf-8"), f"unknown charset {charset!r}, read as UTF-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), f"unknown charset {charset!r}, read as Latin-1"


def _part_text(part: Message) -> tuple[str, str | None]:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text, problem = decode_bytes(data, part.get_content_charset())
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text, problem


def mime_defects(msg: Message) -> list[str]:
    """Names of the structural defects the parser found anywhere in the mail."""
    return [type(defect).__name__ for part in msg.walk() for defect in part.defects
            if type(defect).__name__ in _BROKEN_MIME]


def salvage_text(raw_body: bytes) -> str:
    """Whatever text a mail's unreadable body holds: decoded leniently, without boundary and
    part-header lines, markup removed."""
    text, _ = decode_bytes(raw_body, "utf-8")
    lines = text.replace("\r\n", "\n").split("\n")
    text = "\n".join(line for line in lines if not _MIME_SCAFFOLD.match(line.strip()))
    return html_to_text(text, keep_newlines=True)


def read_body(msg: EmailMessage, raw_body: bytes) -> Body:
    """The mail's text; for broken MIME with no readable part, the raw body salvaged."""
    defects = mime_defects(msg)
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None and (defects or (msg.get_content_maintype() == "multipart"
                                     and not msg.is_multipart())):
        reason = ", ".join(sorted(set(defects))) or "multipart without parts"
        return Body(salvage_text(raw_body), f"broken MIME ({reason}): raw text kept")
    if part is None:
        return Body("", None)
    text, problem = _part_text(part)
    if defects and problem is None:
        problem = f"MIME defects ({', '.join(sorted(set(defects)))})"
    return Body(text, problem)


def _leaves(part: Message) -> Iterator[Message]:
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return len(payload)
    # message/rfc822 and other containers: the size of the part as it was sent
    return len(part.as_bytes())


def _filename(part: Message) -> str:
    name = part.get_filename() or ""
    name = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()
    return name[:255] or ("forwarded.eml" if part.get_content_type() == "message/rfc822"
                          else "unnamed")


def attachments(msg: EmailMessage) -> tuple[Attachment, ...]:
    """Files that came with the mail (not the text alternatives), as metadata only."""
    if not msg.is_multipart():
        return ()
    found: list[Attachment] = []
    for part in _leaves(msg):
        disposition = (part.get_content_disposition() or "").lower()
        is_text = part.get_content_maintype() == "text"
        if is_text and disposition != "attachment" and not part.get_filename():
            continue
        found.append(Attachment(_filename(part), part.get_content_type(), _size(part)))
    return tuple(found)
