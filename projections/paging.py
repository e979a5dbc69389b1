"""Keyset pagination over view tables: an opaque cursor holds the last row's sort key."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidInputError

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    has_next: bool


def encode_cursor(order: str, values: list[Any]) -> str:
    raw = json.dumps([order, *values], default=str, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, size: int) -> list[Any]:
    """The sort key in `cursor`; a cursor from another ordering or a forged one is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("the cursor is not one this API handed out") from None
    if not isinstance(data, list) or len(data) != size + 1 or data[0] != order:
        raise InvalidInputError("the cursor belongs to another ordering or query")
    return data[1:]


def check_first(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInputError(f"first must be between 1 and {MAX_PAGE}")
    return first
