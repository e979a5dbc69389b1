"""An optional inbound SMTP listener (aiosmtpd): each accepted mail's raw bytes to a callback.

Accepts mail only for our own domains (no relaying), refuses mail over `data_size_limit` in
the protocol (552), and runs the callback in a worker thread so a slow store never blocks the
SMTP loop. The callback raising `MailTooLargeError` answers 552; any other error 451, so the
sending server retries later and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from integrations.email.parsing import MAX_BYTES, MailTooLargeError

log = logging.getLogger(__name__)

MailCallback = Callable[[bytes], None]
"""Called once per accepted mail with its raw bytes; runs in a worker thread."""


class _Handler:
    def __init__(self, on_mail: MailCallback, domains: frozenset[str]) -> None:
        self.on_mail = on_mail
        self.domains = domains

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        if address.rpartition("@")[2].lower() not in self.domains:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802
                          envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.on_mail, raw)
        except MailTooLargeError:
            return "552 5.3.4 Message too big"
        except Exception:
            log.exception("inbound mail from %s not stored", envelope.mail_from)
            return "451 4.3.0 Not stored, try again later"
        return "250 2.0.0 Message accepted"


class SmtpListener:
    """Listens on `host:port` (loopback by default) in its own thread; `start()`/`stop()`."""

    def __init__(self, on_mail: MailCallback, *, domains: frozenset[str],
                 host: str = "127.0.0.1", port: int = 2525, data_size_limit: int = MAX_BYTES,
                 server_hostname: str = "localhost") -> None:
        if not domains:
            raise ValueError("an SMTP listener needs the domains it accepts mail for")
        self.host = host
        self.port = port
        handler = _Handler(on_mail, frozenset(d.lower() for d in domains))
        self._controller = Controller(handler, hostname=host, port=port,
                                      server_hostname=server_hostname,
                                      data_size_limit=data_size_limit)
        self._running = False

    def start(self) -> None:
        self._controller.start()
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> SmtpListener:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
