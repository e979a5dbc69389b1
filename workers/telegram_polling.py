"""Long polling of Telegram (`getUpdates`), for installations Telegram cannot reach by webhook.

Each update is read and handed to the caller's handler (the router), one at a time in update
order; the offset moves past an update only after its handler returned, so a crash or an error
re-reads it instead of losing it (the store refuses what was stored already), and an update
id handled lately is not handed over twice. An update that
cannot be read is logged and skipped: reading it again would not help. Errors of Telegram or
the handler pause the loop, longer while they last, up to `max_backoff`.

With a lease only its holder polls: several processes may run the poller (`carelog worker
telegram` on two machines), and Telegram's updates are read by one at a time. When the holder
stops or dies, its lease is released (by the database session or the kernel) and another
poller takes it over within `lease_retry` seconds; updates its predecessor handled but had not
yet confirmed are read again and found stored already.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from integrations.settings import Settings
from integrations.telegram.dedupe import SeenUpdates, UpdateOffset
from integrations.telegram.updates import (
    BotIdentity,
    InvalidUpdateError,
    ParsedUpdate,
    parse_update,
)
from workers.lease import FileLease, Lease, PostgresLease

log = logging.getLogger(__name__)


class UpdateSource(Protocol):
    """The part of `BotApi` the poller needs."""

    def get_updates(self, offset: int | None, timeout: int = ...) -> list[dict[str, Any]]:
        ...


class TelegramPoller:
    def __init__(self, api: UpdateSource, handler: Callable[[ParsedUpdate], object],
                 bot: BotIdentity | None = None, poll_timeout: int = 25,
                 offset: UpdateOffset | None = None, seen: SeenUpdates | None = None,
                 min_backoff: float = 1.0, max_backoff: float = 60.0,
                 lease: Lease | None = None, lease_retry: float = 1.0) -> None:
        self.api = api
        self.handler = handler
        self.bot = bot
        self.poll_timeout = poll_timeout
        self.offset = offset or UpdateOffset()
        self.seen = seen or SeenUpdates()
        """Updates handled lately: one delivered twice is handed over once."""
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.lease = lease
        """Held while polling, when several processes may poll (see the module's text)."""
        self.lease_retry = lease_retry
        self.last_error: str | None = None
        self.errors = 0
        """Failed rounds since the poller started."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="telegram-polling", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop after the current round and wait for it (by default as long as a long poll
        lasts, plus a margin); whether the loop ended. No update is half handled: the offset
        only moves after the handler returned."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(self.poll_timeout + 10.0 if timeout is None else timeout)
        if self._thread.is_alive():
            return False
        self._thread = None
        return True

    def run(self) -> None:
        """Rounds until stopped (in the calling thread)."""
        backoff = self.min_backoff
        try:
            while not self._stop.is_set():
                if self.lease is not None and not self._lease_held():
                    self._stop.wait(self.lease_retry)
                    continue
                backoff = self._round(backoff)
        finally:
            if self.lease is not None:
                self.lease.release()

    def _round(self, backoff: float) -> float:
        """One poll; the pause before the next one after an error."""
        try:
            self.poll_once()
        except Exception as error:  # Telegram down or the handler failed: wait, re-read
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("Telegram polling failed (%s); next try in %.0fs",
                        self.last_error, backoff)
            self._stop.wait(backoff)
            return min(backoff * 2, self.max_backoff)
        self.last_error = None
        return self.min_backoff

    def _lease_held(self) -> bool:
        """Hold the lease, taking it (again) when free; its database session may have ended.
        A store that cannot be asked counts as someone else holding it."""
        assert self.lease is not None
        try:
            if self.lease.held():
                return True
            self.lease.release()
            return self.lease.try_acquire()
        except Exception as error:
            self.last_error = f"lease: {type(error).__name__}: {error}"
            log.warning("Telegram polling waits: its lease cannot be taken (%s)", error)
            return False

    def poll_once(self) -> int:
        """One getUpdates and the handling of what it returned; how many updates were handled.
        Raises what the call or a handler raised, with the offset past the updates handled."""
        updates = self.api.get_updates(self.offset.next, timeout=self.poll_timeout)
        handled = 0
        for raw in sorted(updates, key=_update_id):
            if self._stop.is_set():
                break
            update_id = _update_id(raw)
            if update_id in self.seen:
                self.offset.handled(update_id)
                continue
            try:
                parsed = parse_update(raw, self.bot)
            except InvalidUpdateError as error:
                log.error("skipping Telegram update %s: %s", update_id, error)
            else:
                self.handler(parsed)
            self.seen.add(update_id)
            self.offset.handled(update_id)
            handled += 1
        return handled


def _update_id(raw: dict[str, Any]) -> int:
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise InvalidUpdateError("getUpdates returned an update without an integer update_id")
    return update_id


def polling_lease(settings: Settings) -> Lease:
    """One poller of Telegram at a time among the processes sharing this store."""
    if settings.database_url is not None:
        return PostgresLease(settings.database_url, "carelog:telegram-polling")
    return FileLease(settings.data_dir / "telegram-polling.lock")
