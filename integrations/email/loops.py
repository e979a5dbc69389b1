"""Mail-loop guards for automatic answers (acknowledgements, out-of-hours notices).

RFC 3834: never answer an automatic mail, and answer one sender at most so often. Check
`should_auto_answer` first, then `SenderRateLimit.try_acquire`, which counts the answer.
"""

from __future__ import annotations

from datetime import timedelta

from domain.ports import Clock, InboundMessage
from integrations.rate_limit import RateLimit


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
        self._limit = RateLimit(limit, window.total_seconds(),
                                clock=lambda: clock.now().timestamp(), max_keys=10_000)

    def try_acquire(self, sender: str) -> bool:
        """Count one answer to `sender` and return True, or False when its quota is spent."""
        return self._limit.allow(sender.strip().lower())
