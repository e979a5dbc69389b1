"""The case tag in mail subjects, `[CL-1A2B3C4D]`: written by replies, read from inbound mail.

The tag is the first 32 bits of the case UUID in upper-case hex. It is a hint for routing, not a
proof: anyone can type it, so it may only attach a mail to a case the sender may already write
to. Only a signed Message-ID (`message_ids`) proves a reply answers our own mail.
"""

from __future__ import annotations

import re
from uuid import UUID

PREFIX = "CL-"
_TAG = re.compile(r"\[\s*CL-([0-9A-F]{8})\s*\]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fwd?|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def case_ref(case_id: UUID) -> str:
    """`CL-1A2B3C4D`: what `InboundMessage.case_ref` holds for mail tagged with this case."""
    return f"{PREFIX}{case_id.hex[:8].upper()}"


def case_tag(case_id: UUID) -> str:
    """`[CL-1A2B3C4D]`, as it appears in a subject."""
    return f"[{case_ref(case_id)}]"


def find_case_ref(subject: str | None) -> str | None:
    """The first case tag in a subject, normalised to `CL-1A2B3C4D`; None when there is none."""
    if not subject:
        return None
    match = _TAG.search(subject)
    return None if match is None else f"{PREFIX}{match.group(1).upper()}"


def matches(ref: str, case_id: UUID) -> bool:
    """Whether a found case ref names this case (refs are prefixes, so compare, never parse)."""
    return ref.upper() == case_ref(case_id)


def reply_subject(subject: str | None, case_id: UUID) -> str:
    """`Re: <subject> [CL-…]`: earlier `Re:`/`AW:` prefixes and case tags are folded into one."""
    bare = _TAG.sub("", subject or "").strip()
    bare = _REPLY_PREFIX.sub("", bare).strip() or "Your request"
    return f"Re: {bare} {case_tag(case_id)}"
