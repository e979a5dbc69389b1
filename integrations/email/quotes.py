"""Quoted history trimmed from a reply: what the client wrote this time, not the thread again.

Cuts at the first attribution line ("On … wrote:", "Am … schrieb …:", "Le … a écrit :"),
Outlook's "-----Original Message-----" or its "From: … Sent: …" header block, and drops
`>`-quoted lines. When trimming would leave nothing, the full text is kept.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^(on\s.+\swrote|am\s.+\sschrieb.*|le\s.+\sa\s+écrit\s*|el\s.+\sescribió)\s*:\s*$",
    re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^(on|am|le|el)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|ursprüngliche nachricht|forwarded message)"
                       r"\s*-{2,}$", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\*?(from|von|de)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\*?(sent|date|gesendet|envoyé|to|an|subject|betreff)\s*:",
                          re.IGNORECASE)
_RULE = re.compile(r"^_{10,}$")


def _starts_history(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if _ATTRIBUTION.match(line) or _ORIGINAL.match(line):
        return True
    # Gmail wraps long attributions over two lines
    if (_ATTRIBUTION_START.match(line) and i + 1 < len(lines)
            and _ATTRIBUTION.match(f"{line} {lines[i + 1].strip()}")):
        return True
    if _RULE.match(line) and i + 1 < len(lines) and _HEADER_FROM.match(lines[i + 1].strip()):
        return True
    return bool(_HEADER_FROM.match(line)) and any(
        _HEADER_NEXT.match(next_line.strip()) for next_line in lines[i + 1:i + 4])


def trim_quoted(text: str) -> str:
    """The new part of a reply; the whole text if nothing new would remain."""
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _starts_history(lines, i):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    trimmed = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return trimmed or text.strip()
