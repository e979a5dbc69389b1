"""The Telegram bot of one installation: its Bot API client, its sender, the update handler,
and (in polling mode) the long-polling loop; built from `CARELOG_TELEGRAM_*`.

At start it asks Telegram who the bot is (`getMe`) and warns when privacy mode hides group
messages from it. In webhook mode with `CARELOG_TELEGRAM_PUBLIC_URL` it registers the webhook
with the secret token; in polling mode it removes any webhook (getUpdates answers 409 while
one is set) and polls. A failing start is logged, never fatal: the rest of Carelog runs on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from api.inbox import Inbox
from api.telegram_updates import TelegramUpdates
from domain.application import CareDesk
from integrations.settings import Secret, TelegramSettings
from integrations.telegram.bot_api import (
    BotApi,
    BotApiError,
    BotApiUnavailableError,
    TelegramSender,
)
from integrations.telegram.updates import BotIdentity, ParsedUpdate
from workers.lease import Lease
from workers.telegram_polling import TelegramPoller

log = logging.getLogger(__name__)

WEBHOOK_THREADS = 100

PRIVACY_WARNING = (
    "Telegram privacy mode is on for @%s: in groups the bot receives only commands and replies "
    "to its own messages, so client messages will not reach the rooms. Turn it off with "
    "@BotFather (/setprivacy, Disable) or make the bot a group admin.")


class TelegramBot:
    def __init__(self, settings: TelegramSettings, desk: CareDesk, inbox: Inbox,
                 after_write: Callable[[], None], poll_timeout: int = 25,
                 lease: Lease | None = None) -> None:
        assert settings.token is not None, "TelegramBot needs CARELOG_TELEGRAM_TOKEN"
        self.settings = settings
        self.api = BotApi(settings.token, settings.api_url, timeout=settings.timeout)
        self.sender = TelegramSender(self.api)
        self.updates = TelegramUpdates(desk, inbox, self.sender)
        self.after_write = after_write
        self.poll_timeout = poll_timeout
        self.identity: BotIdentity | None = None
        """Who the bot is, once `getMe` answered: its own messages are skipped."""
        self.poller: TelegramPoller | None = None
        self.lease = lease
        """Held by the poller of this process while it polls: one poller at a time."""
        self.webhook_threads = ThreadPoolExecutor(WEBHOOK_THREADS,
                                                  thread_name_prefix="telegram-webhook")
        """Where webhook deliveries wait for their batch: enough for Telegram's up to 100
        concurrent connections to be received together (asyncio's default pool is ~6)."""

    @property
    def secret_token(self) -> Secret | None:
        return self.settings.secret_token

    @property
    def polling(self) -> bool:
        return self.settings.mode == "polling"

    def handle(self, update: ParsedUpdate) -> str:
        """Apply one update, from the webhook route or the poller."""
        return self.updates.handle(update)

    def _polled(self, update: ParsedUpdate) -> str:
        try:
            return self.handle(update)
        finally:
            self.after_write()  # the route's caller nudges for itself

    def start(self, poll: bool = True) -> None:
        """Introduce the bot to Telegram; with `poll` in polling mode, start polling."""
        try:
            self.identity = self.api.get_me()
        except (BotApiError, BotApiUnavailableError) as error:
            log.warning("Telegram getMe failed: %s", error)
        else:
            if not self.identity.reads_all_group_messages:
                log.warning(PRIVACY_WARNING, self.identity.username)
        if self.polling:
            if poll:
                self._start_polling()
            return
        url, secret = self.settings.webhook_url, self.secret_token
        if url is None or secret is None:
            log.info("Telegram webhook mode: set CARELOG_TELEGRAM_PUBLIC_URL to have Carelog "
                     "register /webhooks/telegram itself")
            return
        try:
            self.api.set_webhook(url, secret)
        except (BotApiError, BotApiUnavailableError) as error:
            log.warning("Telegram setWebhook failed: %s", error)
        else:
            log.info("Telegram delivers updates to %s", url)

    def _start_polling(self) -> None:
        try:
            self.api.delete_webhook()
        except (BotApiError, BotApiUnavailableError) as error:
            log.warning("Telegram deleteWebhook failed: %s; polling all the same", error)
        self.poller = TelegramPoller(self.api, self._polled, self.identity,
                                     poll_timeout=self.poll_timeout, lease=self.lease)
        self.poller.start()
        log.info("polling Telegram for updates")

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
            self.poller = None

    def close(self) -> None:
        self.stop()
        self.webhook_threads.shutdown(wait=True)
        self.api.close()
