"""Authentication-Results (RFC 8601): did our own mail server see DMARC pass for this mail?

Only a header whose authserv-id is our trusted server counts (RFC 8601 section 5: others may
be forged by anyone upstream). Our server prepends its header, so the topmost trusted one is
its verdict; it must also remove incoming copies bearing its own id, which is the MTA's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^([a-z0-9_-]+)\s*=\s*([a-z0-9_-]+)(.*)$", re.IGNORECASE | re.DOTALL)
_HEADER_FROM = re.compile(r"header\.from\s*=\s*\"?([^\s\";]+)", re.IGNORECASE)


def _without_comments(value: str) -> str:
    while True:
        stripped = _COMMENT.sub(" ", value)
        if stripped == value:
            return value
        value = stripped


def dmarc_result(headers: Iterable[str], trusted_authserv_id: str | None,
                 from_domain: str) -> str:
    """`pass`, `fail`, ... as our server recorded it; `none` when it recorded nothing.

    A `pass` whose `header.from` names another domain than the From address counts as `fail`.
    """
    if not trusted_authserv_id:
        return "none"
    for header in headers:
        clauses = [c.strip() for c in _without_comments(" ".join(header.split())).split(";")]
        authserv = clauses[0].split()[0].lower() if clauses and clauses[0] else ""
        if authserv != trusted_authserv_id.lower():
            continue
        for clause in clauses[1:]:
            match = _RESULT.match(clause)
            if match is None or match.group(1).lower() != "dmarc":
                continue
            result = match.group(2).lower()
            named = _HEADER_FROM.search(match.group(3))
            if result == "pass" and named and named.group(1).lower() != from_domain.lower():
                return "fail"
            return result
        return "none"
    return "none"
