"""The per-request GraphQL context: services, the viewer, and this request's data loaders."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import strawberry
from litestar import Request, WebSocket
from litestar.exceptions import WebSocketException
from litestar.status_codes import WS_1008_POLICY_VIOLATION
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from api.auth import Viewer
from api.authentication import SESSION_COOKIE, Authenticator, bearer_of
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
    credential: tuple[str | None, str | None] | None = None
    """On a websocket: the bearer token and session cookie it connected with, to re-check the
    viewer before each subscription event."""
    session_ended: bool = False
    """Set when a subscription found the credential no longer valid: the socket is closed."""


Info: TypeAlias = strawberry.Info[CareContext, None]


def build_context(services: Services, viewer: Viewer, *, cache: bool = True) -> CareContext:
    """A context for one operation; a subscription's lives long, so it must not cache rows.

    For a client the loaders are scoped to its account before anything is read: another
    company's account, health or case loads as missing, so every field that loads through them
    answers a foreign id exactly as an unknown one, whether or not its resolver checks.
    """
    own = None if viewer.account_id is None else str(viewer.account_id)

    def mine(ids: list[str]) -> list[str]:
        return ids if own is None else [i for i in ids if i == own]

    async def load_accounts(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.accounts.get_many, mine(ids))
        return [found.get(i) for i in ids]

    async def load_cases(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.cases.get_many, ids)
        return [r if r is not None and (own is None or str(r["account_id"]) == own) else None
                for r in (found.get(i) for i in ids)]

    async def load_health(ids: list[str]) -> list[Row | None]:
        found = await services.read(services.health.get_many, mine(ids))
        return [found.get(i) for i in ids]

    return CareContext(services=services, viewer=viewer,
                       accounts=DataLoader(load_fn=load_accounts, cache=cache),
                       cases=DataLoader(load_fn=load_cases, cache=cache),
                       health=DataLoader(load_fn=load_health, cache=cache))


async def context_getter(
        request: Request[Any, Any, Any] | WebSocket[Any, Any, Any]) -> CareContext:
    services: Services = request.app.state.services
    if isinstance(request, WebSocket):
        check_origin(request)
    viewer = await viewer_of_request(request)
    context = build_context(services, viewer, cache=not isinstance(request, WebSocket))
    if isinstance(request, WebSocket):
        context.credential = (bearer_of(request.headers.get("authorization")),
                              request.cookies.get(SESSION_COOKIE))
    return context


def check_origin(socket: WebSocket[Any, Any, Any]) -> None:
    """Refuse a browser's websocket from another site (cross-site websocket hijacking): its
    `Origin` must be this server's own host. Clients that send no `Origin` are not browsers."""
    origin = socket.headers.get("origin")
    if origin is None:
        return
    host = socket.headers.get("host", "")
    if urlsplit(origin).netloc.lower() != host.lower():
        raise WebSocketException(detail="this origin may not open a websocket here",
                                 code=WS_1008_POLICY_VIOLATION)


async def still_the_viewer(context: CareContext) -> bool:
    """Whether a websocket's credential still names the viewer it connected as (not revoked,
    expired, disabled or changed role; the development admin only while no user exists)."""
    connection = context.websocket or context.request
    if context.credential is None or connection is None:
        return True
    auth: Authenticator = connection.app.state.auth
    bearer, session = context.credential
    known = (auth.without_credential() if bearer is None and session is None
             else auth.recently_checked(bearer, session))
    if known is None:
        known = await asyncio.to_thread(auth.viewer, bearer, session)
    return known == context.viewer


async def viewer_of_request(
        request: Request[Any, Any, Any] | WebSocket[Any, Any, Any]) -> Viewer:
    """The bearer token or session cookie's viewer (see `api.authentication`)."""
    auth: Authenticator = request.app.state.auth
    bearer = bearer_of(request.headers.get("authorization"))
    session = request.cookies.get(SESSION_COOKIE)
    known = (auth.without_credential() if bearer is None and session is None
             else auth.recently_checked(bearer, session))
    if known is not None:
        return known
    return await asyncio.to_thread(auth.viewer, bearer, session)
