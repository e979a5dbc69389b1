"""The per-request GraphQL context: services, the viewer, and this request's data loaders."""

from __future__ import annotations

from typing import Any, TypeAlias

import strawberry
from litestar import Request, WebSocket
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from api.auth import DEVELOPMENT_ADMIN, Viewer
from api.services import Services

Row = dict[str, Any]


class CareContext(BaseContext, kw_only=True):
    services: Services
    viewer: Viewer
    accounts: DataLoader[str, Row | None]
    cases: DataLoader[str, Row | None]
    health: DataLoader[str, Row | None]
    uses_clock: bool = False
    """Set by fields whose value depends on the time of asking: such answers are never kept."""


Info: TypeAlias = strawberry.Info[CareContext, None]


def build_context(services: Services, viewer: Viewer, *, cache: bool = True) -> CareContext:
    """A context for one operation; a subscription's lives long, so it must not cache rows."""

    async def load_accounts(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.accounts.get_many, ids)
        return [found.get(i) for i in ids]

    async def load_cases(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.cases.get_many, ids)
        return [found.get(i) for i in ids]

    async def load_health(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.health.get_many, ids)
        return [found.get(i) for i in ids]

    return CareContext(services=services, viewer=viewer,
                       accounts=DataLoader(load_fn=load_accounts, cache=cache),
                       cases=DataLoader(load_fn=load_cases, cache=cache),
                       health=DataLoader(load_fn=load_health, cache=cache))


async def context_getter(
        request: Request[Any, Any, Any] | WebSocket[Any, Any, Any]) -> CareContext:
    services: Services = request.app.state.services
    # Authentication arrives with the security work; until then every caller is the
    # development administrator, and every resolver still goes through `authorize`.
    return build_context(services, DEVELOPMENT_ADMIN,
                         cache=not isinstance(request, WebSocket))
