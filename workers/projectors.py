"""Keeps every projection following the log, one thread each, inside `carelog serve`.

The in-process bus is `nudge()`: a command that wrote events wakes the projectors at once;
a poll every `poll_interval` seconds picks up writes made by other processes. An outage of the
view store is retried for ever with backoff; a notification the projection cannot fold is
retried a few times, then dead-lettered, and that projection stops (never skips it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from projections.runner import FoldError, ProjectionRunner

log = logging.getLogger(__name__)

MAX_FOLD_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class ProjectorStatus:
    name: str
    position: int
    running: bool
    last_error: str | None


class ProjectorPool:
    def __init__(self, runners: Sequence[ProjectionRunner], poll_interval: float = 0.5,
                 max_fold_attempts: int = MAX_FOLD_ATTEMPTS) -> None:
        self.runners = list(runners)
        self.poll_interval = poll_interval
        self.max_fold_attempts = max_fold_attempts
        self._stop = threading.Event()
        self._wake = [threading.Event() for _ in self.runners]
        self._positions_wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def prepare(self) -> None:
        for runner in self.runners:
            runner.prepare()

    def start(self) -> None:
        keeper = threading.Thread(target=self._keep_positions, name="projector-positions",
                                  daemon=True)
        keeper.start()
        self._threads.append(keeper)
        for runner, wake in zip(self.runners, self._wake, strict=True):
            runner.skip_idle_pages = True
            thread = threading.Thread(target=self._follow, args=(runner, wake),
                                      name=f"projector-{runner.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def nudge(self) -> None:
        for wake in self._wake:
            wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.nudge()
        self._positions_wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        for runner in self.runners:
            runner.skip_idle_pages = False
        self._save_positions()  # what the last pages skipped

    def _keep_positions(self) -> None:
        """Store the positions of views that passed over pages without their topics: all in
        one transaction, where each view's own would otherwise be a transaction per page."""
        while not self._stop.is_set():
            self._positions_wake.wait(self.poll_interval)
            self._positions_wake.clear()
            self._save_positions()

    def _save_positions(self) -> None:
        moves = [(runner, move) for runner in self.runners
                 if (move := runner.unsaved()) is not None]
        if not moves:
            return
        try:
            moved = moves[0][0].store.advance_positions([move for _, move in moves])
        except Exception:  # an outage: the next round tries again
            log.exception("could not store the projections' positions; retrying")
            return
        for runner, (name, stored, position, _) in moves:
            if name in moved:
                runner.saved(stored, position)
            else:
                runner.not_saved()
                self._wake[self.runners.index(runner)].set()

    def status(self) -> list[ProjectorStatus]:
        alive = {t.name for t in self._threads if t.is_alive()}
        return [ProjectorStatus(r.name, r.position, f"projector-{r.name}" in alive, r.last_error)
                for r in self.runners]

    def _follow(self, runner: ProjectionRunner, wake: threading.Event) -> None:
        backoff = self.poll_interval
        attempts = 0
        while not self._stop.is_set():
            try:
                folded = runner.run_page()
            except FoldError as error:
                attempts += 1
                runner.last_error = str(error)
                if attempts >= self.max_fold_attempts:
                    runner.store.record_dead_letter(error.dead_letter(attempts))
                    log.error("%s; dead-lettered after %d attempts, projection stopped",
                              error, attempts)
                    return
                log.warning("%s (attempt %d of %d)", error, attempts, self.max_fold_attempts)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception as error:  # an outage: keep following; reported in status
                runner.last_error = f"{type(error).__name__}: {error}"
                log.exception("projection %s failed at position %s; retrying in %.1fs",
                              runner.name, runner.position, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            attempts = 0
            runner.last_error = None
            backoff = self.poll_interval
            if runner.unsaved() is not None:
                self._positions_wake.set()
            if folded == 0:
                wake.wait(self.poll_interval)
                wake.clear()
