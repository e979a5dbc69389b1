"""The Litestar application factory: GraphQL at /graphql, health endpoints, and the runtime."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.exceptions import SerializationException
from litestar.status_codes import HTTP_400_BAD_REQUEST
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.authentication import Authenticator
from api.channels import call_log, inbound_email, web_form
from api.email_channel import smtp_sender
from api.graphql.context import context_getter
from api.graphql.schema import build_schema
from api.graphql.websocket import INIT_TIMEOUT, MAX_SUBSCRIPTIONS, CarelogTransportWs
from api.health import healthz, readyz
from api.login import login, logout
from api.portal import PortalRegistrations, confirm, register
from api.runtime import Runtime
from api.telegram_webhook import telegram_webhook
from api.token_use import TokenUse
from api.web.pages import WEB_ROUTES
from api.webhooks import jira_webhook
from domain.application import RefusedChannelError
from domain.users import UserDesk
from integrations.email.smtp_listener import SmtpListener
from integrations.settings import Settings
from projections.runner import ApplicationLog
from workers.distributed import NatsWorkers

MAX_BODY = 1_000_000


def create_app(settings: Settings, *, run_workers: bool = True,
               runtime: Runtime | None = None) -> Litestar:
    """Build the app; the runtime (log, views, workers) opens and closes with it.

    Embedded (no CARELOG_NATS_URL), the projections follow the log in threads of this process.
    Distributed, this process listens for view changes on NATS and, with `run_workers`, also
    runs a relay and the stream projectors (`carelog serve --no-workers` runs none). With
    `run_workers` and CARELOG_JIRA_URL, the Jira reactor runs in a thread too; with
    CARELOG_TELEGRAM_TOKEN, the outbound delivery too, and in polling mode the Telegram poller.
    """

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt = runtime if runtime is not None else await asyncio.to_thread(Runtime.open, settings)
        app.state.runtime = rt
        app.state.services = rt.services
        app.state.auth = Authenticator(UserDesk(rt.desk), settings,
                                       uses=TokenUse(rt.store, rt.desk.clock.now))
        app.state.portal = PortalRegistrations(
            UserDesk(rt.desk), rt.services.directory,
            smtp_sender(settings.email, rt.desk.clock) if settings.email.smtp_host else None,
            settings, app.state.auth.passwords)
        async with AsyncExitStack() as stack:
            if runtime is None:  # ours to close, after everything else has stopped
                stack.push_async_callback(asyncio.to_thread, rt.close)
            if settings.is_distributed:
                workers = await stack.enter_async_context(NatsWorkers(
                    settings, ApplicationLog(rt.desk), rt.store,
                    rt.runners if run_workers else [], relay=run_workers, name="carelog-api"))
                rt.services.feed = workers.changes
                rt.services.after_write = workers.nudge
                rt.services.worker_failures = workers.failures
            elif run_workers:
                rt.pool.start()
                stack.callback(rt.pool.stop)
            if run_workers:
                rt.start_reactors()
                stack.callback(rt.stop_reactors)
            if rt.telegram is not None:
                # getMe, then setWebhook (webhook mode) or polling (with the workers).
                await asyncio.to_thread(rt.telegram.start, run_workers)
                stack.push_async_callback(asyncio.to_thread, rt.telegram.stop)
            listen = settings.email.listen
            if listen is not None and run_workers:
                host, _, port = listen.rpartition(":")
                listener = SmtpListener(_mail_handler(rt), host=host, port=int(port),
                                        domains=frozenset({settings.email.domain}),
                                        data_size_limit=settings.email.max_bytes)
                await asyncio.to_thread(listener.start)
                stack.push_async_callback(asyncio.to_thread, listener.stop)
            await asyncio.to_thread(rt.services.portfolio.warm)
            # What start-up built lives as long as the process: keep it out of the collector's
            # generations, so a full collection does not stall a request for tens of ms.
            gc.collect()
            gc.freeze()
            yield

    schema = build_schema(production=settings.is_production, answers=settings.answer_cache)
    graphql = make_graphql_controller(
        schema,
        path="/graphql",
        graphql_ide=None if settings.is_production else "graphiql",
        allow_queries_via_get=False,
        context_getter=context_getter,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        connection_init_wait_timeout=INIT_TIMEOUT,
    )
    graphql.graphql_transport_ws_handler_class = CarelogTransportWs
    app = Litestar(
        route_handlers=[graphql, healthz, readyz, jira_webhook, telegram_webhook, web_form,
                        call_log, inbound_email, login, logout, register, confirm,
                        *WEB_ROUTES],
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY,
        on_app_init=[_no_docs] if settings.is_production else [],
        exception_handlers=dict.fromkeys(_UNREADABLE, _unreadable_body),
    )
    app.state.schema = schema
    return app


def _mail_handler(rt: Runtime) -> Callable[[bytes], None]:
    """What the SMTP listener does with each mail: route it, then wake the workers."""
    inbox = rt.email
    assert inbox is not None

    def on_mail(raw: bytes) -> None:
        try:
            inbox.receive(raw)
        except RefusedChannelError:
            pass  # recorded, and answered with the allowed channels
        finally:
            rt.services.after_write()

    return on_mail


_UNREADABLE: dict[type[Exception], str] = {
    SerializationException: "the body is not valid JSON",
    UnicodeDecodeError: "the body is not valid UTF-8",
    RecursionError: "the body is nested too deeply",
}
"""What parsing an untrusted body raises (Litestar's msgspec, strawberry's and the webhooks'
json.loads), before any command runs."""


def _unreadable_body(request: Request[Any, Any, Any],
                     error: Exception) -> Response[dict[str, str]]:
    """A body that cannot be read as JSON, on any route: 400, and nothing is recorded."""
    message = next(m for kind, m in _UNREADABLE.items() if isinstance(error, kind))
    return Response({"error": message}, status_code=HTTP_400_BAD_REQUEST)


def _no_docs(config: AppConfig) -> AppConfig:
    config.openapi_config = None
    return config
