"""A worker that wakes on a timer, does one round of work, and never dies of an outage.

Reactors that turn the passing of time into events (the SLA clock, health alerts) are rounds
of "read a view, call idempotent commands"; running them in several processes at once is safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicWorker:
    def __init__(self, name: str, round_: Callable[[], int], interval: float) -> None:
        self.name = name
        self.round = round_
        self.interval = interval
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"reactor-{self.name}",
                                        daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Rounds until stopped; an error is logged and the next round comes after a pause."""
        backoff = self.interval
        while not self._stop.is_set():
            try:
                done = self.round()
            except Exception as error:  # an outage or a bug: log, wait, try again
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("reactor %s failed; next round in %.0fs", self.name, backoff)
                backoff = min(backoff * 2, 300.0)
            else:
                self.last_error = None
                backoff = self.interval
                if done:
                    log.info("reactor %s: %d commands", self.name, done)
            self._wake.wait(backoff)
            self._wake.clear()
