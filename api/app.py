"""The Litestar application factory: GraphQL at /graphql, health endpoints, and the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.graphql.context import context_getter
from api.graphql.schema import build_schema
from api.health import healthz, readyz
from api.runtime import Runtime
from integrations.settings import Settings

MAX_BODY = 1_000_000


def create_app(settings: Settings, *, run_projectors: bool = True,
               runtime: Runtime | None = None) -> Litestar:
    """Build the app; the runtime (log, views, projectors) opens and closes with it."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        rt = runtime if runtime is not None else await asyncio.to_thread(Runtime.open, settings)
        app.state.runtime = rt
        app.state.services = rt.services
        if run_projectors:
            rt.pool.start()
        try:
            yield
        finally:
            if runtime is None:
                await asyncio.to_thread(rt.close)
            else:
                rt.pool.stop()

    graphql = make_graphql_controller(
        build_schema(production=settings.is_production),
        path="/graphql",
        graphql_ide=None if settings.is_production else "graphiql",
        allow_queries_via_get=False,
        context_getter=context_getter,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    return Litestar(
        route_handlers=[graphql, healthz, readyz],
        lifespan=[lifespan],
        request_max_body_size=MAX_BODY,
        on_app_init=[_no_docs] if settings.is_production else [],
    )


def _no_docs(config: AppConfig) -> AppConfig:
    config.openapi_config = None
    return config
