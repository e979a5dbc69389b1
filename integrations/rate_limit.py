"""A sliding-window limit per key (an address, a client IP), kept in this process's memory."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimit:
    """At most `limit` events per `window` seconds for each key."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when that would exceed the limit."""
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            if len(self._seen) > self.max_keys:  # forget idle keys rather than grow forever
                stale = now - self.window
                for idle in [k for k, t in self._seen.items() if not t or t[-1] <= stale]:
                    del self._seen[idle]
            return True

    def retry_after(self, key: str) -> float:
        with self._lock:
            times = self._seen.get(key)
            if not times:
                return 0.0
            return max(0.0, times[0] + self.window - self.clock())
