"""Our outbound Message-IDs, signed with an HMAC over the case id, and their verification.

`<case.<case hex>.<nonce>.<mac>@<domain>>`: a reply whose References or In-Reply-To carry such an
id answers a mail we sent for that case, but only when the MAC checks. Ids are easy to guess
or copy from any mail we sent, so an unchecked id would let anyone attach mail (or, as in
FreeScout's CVE-2026-47123, an agent reply) to any case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from uuid import UUID

_MAC_HEX = 32
_NONCE = re.compile(r"[0-9a-z]{1,64}")
_OURS = re.compile(r"case\.([0-9a-f]{32})\.([0-9a-z]{1,64})\.([0-9a-f]{32})@[^@\s<>]+")


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the Message-ID secret must not be empty")
    return key


def _mac(secret: str | bytes, case_hex: str, nonce: str) -> str:
    digest = hmac.new(_key(secret), f"case.{case_hex}.{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()[:_MAC_HEX]


def outbound_message_id(case_id: UUID, *, nonce: str, secret: str | bytes, domain: str) -> str:
    """A Message-ID for a mail about this case, without angle brackets.

    `nonce` makes it unique per mail (the outbound interaction's id hex, say); the same
    arguments give the same id, so a retried send reuses it.
    """
    nonce = nonce.lower()
    if not _NONCE.fullmatch(nonce):
        raise ValueError("the nonce must be 1-64 characters of [0-9a-z]")
    return f"case.{case_id.hex}.{nonce}.{_mac(secret, case_id.hex, nonce)}@{domain}"


def case_of_own_id(message_id: str) -> UUID | None:
    """The case named in a Message-ID we are about to send, unchecked (never for inbound)."""
    match = _OURS.fullmatch(message_id.strip().strip("<>").strip())
    return None if match is None else UUID(match.group(1))


def verify_reference(message_id: str, secret: str | bytes) -> UUID | None:
    """The case a referenced Message-ID of ours names, or None if it is not ours or forged."""
    match = _OURS.fullmatch(message_id.strip().strip("<>").strip())
    if match is None:
        return None
    case_hex, nonce, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, case_hex, nonce)):
        return None
    return UUID(case_hex)


def case_from_thread(thread: Iterable[str], secret: str | bytes) -> UUID | None:
    """The case named by the newest verified id of ours in a mail's thread (newest last)."""
    for message_id in reversed(tuple(thread)):
        case_id = verify_reference(message_id, secret)
        if case_id is not None:
            return case_id
    return None
