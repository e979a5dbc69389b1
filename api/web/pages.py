"""The routes of the web pages and the one rule of who sees which.

Each page is a fixed HTML shell; its module reads everything else through `/graphql` as the
signed-in viewer, so a page shows no more than GraphQL would answer that viewer. The shell
carries only the page's own ids (typed path parameters) and who is signed in, all escaped.
Anybody without a valid session is sent to the sign-in page; a client contact only ever to
the portal, staff never to it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote
from uuid import UUID

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from api.auth import ANONYMOUS, Role, Viewer
from api.graphql.context import viewer_of_request

HERE = Path(__file__).parent
STATIC = HERE / "static"

SECURITY_HEADERS = {
    # No inline script or style anywhere: data can never become code through a page.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

PORTFOLIO_READERS = frozenset({Role.MANAGER, Role.ADMIN, Role.PRODUCT})
"""The roles with `Action.READ_PORTFOLIO`; agents start at their queues."""


def _template(name: str) -> Template:
    return Template((HERE / "templates" / name).read_text(encoding="utf-8"))


_LAYOUT = _template("layout.html")


def _nav(viewer: Viewer) -> str:
    if viewer.role is Role.CLIENT:
        return '<a href="/portal">Our requests</a>'
    portfolio = '<a href="/">Portfolio</a>' if viewer.role in PORTFOLIO_READERS else ""
    return f'{portfolio}<a href="/agent">Queues</a>'


def render(page: str, title: str, viewer: Viewer | None, **ids: str) -> Response[str]:
    """The shell of `page` (templates/<page>.html inside the layout) with its module."""
    data = "".join(f' data-{escape(k.replace("_", "-"))}="{escape(v)}"' for k, v in ids.items())
    who = nav = signout = role = ""
    if viewer is not None and viewer is not ANONYMOUS:
        role, nav = viewer.role.value, _nav(viewer)
        signout = '<button type="button" id="signout" class="link">Sign out</button>'
        # Staff are named by username; a client's subject is a contact id, not for show.
        who = "" if viewer.role is Role.CLIENT else viewer.subject
    html = _LAYOUT.substitute(
        title=escape(title), page=escape(page), data=data, role=escape(role), who=escape(who),
        nav=nav, signout=signout, body=_template(f"{page}.html").substitute())
    return Response(html, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def _to_signin(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect(f"/signin?next={quote(request.url.path, safe='/')}",
                    headers=SECURITY_HEADERS)


async def _staff(request: Request[Any, Any, Any], *,
                 portfolio: bool = False) -> Viewer | Redirect:
    """The staff viewer, or where to send the request instead."""
    viewer = await viewer_of_request(request)
    if viewer is ANONYMOUS:
        return _to_signin(request)
    if viewer.role is Role.CLIENT:
        return Redirect("/portal", headers=SECURITY_HEADERS)
    if portfolio and viewer.role not in PORTFOLIO_READERS:
        return Redirect("/agent", headers=SECURITY_HEADERS)
    return viewer


async def _client(request: Request[Any, Any, Any]) -> Viewer | Redirect:
    viewer = await viewer_of_request(request)
    if viewer is ANONYMOUS:
        return _to_signin(request)
    if viewer.role is not Role.CLIENT:
        return Redirect("/", headers=SECURITY_HEADERS)
    return viewer


Page = Response[str] | Redirect


@get("/signin", include_in_schema=False)
async def signin_page() -> Response[str]:
    return render("signin", "Sign in", None)


@get("/", include_in_schema=False)
async def dashboard_page(request: Request[Any, Any, Any]) -> Page:
    viewer = await _staff(request, portfolio=True)
    return viewer if isinstance(viewer, Redirect) else render("dashboard", "Portfolio", viewer)


@get("/accounts/{account_id:uuid}", include_in_schema=False)
async def account_page(request: Request[Any, Any, Any], account_id: FromPath[UUID]) -> Page:
    viewer = await _staff(request)
    return viewer if isinstance(viewer, Redirect) else render(
        "account", "Account", viewer, account_id=str(account_id))


@get("/agent", include_in_schema=False)
async def queues_page(request: Request[Any, Any, Any]) -> Page:
    viewer = await _staff(request)
    return viewer if isinstance(viewer, Redirect) else render("queues", "Queues", viewer)


@get("/agent/cases/{case_id:uuid}", include_in_schema=False)
async def case_page(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Page:
    viewer = await _staff(request)
    return viewer if isinstance(viewer, Redirect) else render(
        "case", "Case", viewer, case_id=str(case_id), staff=viewer.subject)


@get("/portal", include_in_schema=False)
async def portal_page(request: Request[Any, Any, Any]) -> Page:
    viewer = await _client(request)
    return viewer if isinstance(viewer, Redirect) else render(
        "portal", "Portal", viewer, account_id=str(viewer.account_id),
        contact_id=viewer.subject)


@get("/portal/requests/{case_id:uuid}", include_in_schema=False)
async def request_page(request: Request[Any, Any, Any], case_id: FromPath[UUID]) -> Page:
    viewer = await _client(request)
    return viewer if isinstance(viewer, Redirect) else render(
        "request", "Request", viewer, account_id=str(viewer.account_id), case_id=str(case_id))


async def _static_headers(response: Response[Any]) -> Response[Any]:
    # Modules and styles change with the code: the browser asks again (304 when unchanged).
    response.headers.update({"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
    return response


static_files = create_static_files_router(path="/static", directories=[STATIC],
                                          after_request=_static_headers)

WEB_ROUTES: list[ControllerRouterHandler] = [
    signin_page, dashboard_page, account_page, queues_page, case_page, portal_page,
    request_page, static_files]
