"""A worker that wakes on a timer (or when nudged), does one round of work, and never dies of
an outage.

Reactors that turn the passing of time or new events into effects (the SLA clock, health
alerts, the Jira sync) are rounds of "read, then call idempotent commands or an outside
system". With a lease only the process holding it does rounds (the Jira sync: one caller of
Jira at a time); without one, running a reactor in several processes at once is safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from workers.lease import Lease

log = logging.getLogger(__name__)


class PeriodicWorker:
    def __init__(self, name: str, round_: Callable[[], object], interval: float,
                 lease: Lease | None = None) -> None:
        self.name = name
        self.round = round_
        self.interval = interval
        self.lease = lease
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"reactor-{self.name}",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def nudge(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Rounds until stopped (in the calling thread); an error is logged and the next round
        comes after a pause that grows while the errors last."""
        backoff = self.interval
        try:
            while not self._stop.is_set():
                if self.lease is not None and not self._hold_lease():
                    self._stop.wait(self.interval)
                    continue
                try:
                    self.round()
                except Exception as error:  # an outage or a bug: log, wait, try again
                    self.last_error = f"{type(error).__name__}: {error}"
                    log.exception("reactor %s failed; next round in %.0fs", self.name, backoff)
                    backoff = min(backoff * 2, 300.0)
                else:
                    self.last_error = None
                    backoff = self.interval
                self._wake.wait(backoff)
                self._wake.clear()
        finally:
            if self.lease is not None:
                self.lease.release()

    def _hold_lease(self) -> bool:
        """Hold the lease, taking it (again) when free; its database session may have ended."""
        assert self.lease is not None
        if self.lease.held():
            return True
        self.lease.release()
        return self.lease.try_acquire()
