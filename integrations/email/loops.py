"""Mail-loop guards for automatic answers (acknowledgements, out-of-hours notices).

RFC 3834: never answer an automatic mail, and answer one sender at most so often. Check
`should_auto_answer` first, then `SenderRateLimit.try_acquire`, which counts the answer.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from domain.ports import Clock, InboundMessage


def should_auto_answer(message: InboundMessage) -> bool:
    """Whether a person may get an automatic answer to this mail at all.

    Not to machines (auto-replies, bounces, lists), not to mail flagged for review, not to a
    sender without an address.
    """
    return (not message.automated and message.flagged is None
            and "@" in message.sender)


class SenderRateLimit:
    """At most `limit` automatic answers per sender within `window` (a sliding window).

    Held in memory per process: a restart forgets it, which only lets a loop run `limit`
    answers longer; the `Auto-Submitted` checks stop well-behaved auto-responders first.
    """

    def __init__(self, clock: Clock, *, limit: int = 5,
                 window: timedelta = timedelta(hours=1)) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.clock = clock
        self.limit = limit
        self.window = window
        self._sent: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, sender: str) -> bool:
        """Count one answer to `sender` and return True, or False when its quota is spent."""
        now = self.clock.now()
        key = sender.strip().lower()
        with self._lock:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            if len(sent) >= self.limit:
                return False
            sent.append(now)
            self._forget_idle(now)
            return True

    def _forget_idle(self, now: datetime) -> None:
        # keeps memory bounded when many senders each write once
        if len(self._sent) > 10_000:
            self._sent = {k: v for k, v in self._sent.items()
                          if v and v[-1] > now - self.window}
