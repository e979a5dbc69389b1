"""Protocols the domain needs from the outside world; adapters in `integrations/` satisfy them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The source of "now" for live commands (imported history brings its own times)."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...
