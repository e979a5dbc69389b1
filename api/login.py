"""`POST /auth/login` and `POST /auth/logout`: a session cookie for people.

The cookie is HttpOnly, SameSite=Lax (a cross-site POST carries no session) and, in
production, Secure. Each login starts a new session and ends the one the browser sent, so a
session id planted before login is never the one that is signed in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import Cookie
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_429_TOO_MANY_REQUESTS,
)

from api.auth import ANONYMOUS
from api.authentication import (
    SESSION_COOKIE,
    Authenticator,
    LoginLimitedError,
    LoginRefusedError,
    PortalClosedError,
)

MAX_LOGIN_BODY = 4096


def _cookie(auth: Authenticator, value: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=value, max_age=max_age, path="/", httponly=True,
                  samesite="lax", secure=auth.settings.is_production)


@post("/auth/login", status_code=HTTP_200_OK, request_max_body_size=MAX_LOGIN_BODY)
async def login(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """`{"username", "password"}`: sets the session cookie, answers who signed in."""
    auth: Authenticator = request.app.state.auth
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not (isinstance(data, dict) and isinstance(data.get("username"), str)
            and isinstance(data.get("password"), str)):
        return Response({"error": "send {\"username\": ..., \"password\": ...} as JSON"},
                        status_code=HTTP_400_BAD_REQUEST)
    client_ip = request.client.host if request.client else "unknown"
    try:
        done = await asyncio.to_thread(auth.login, data["username"], data["password"],
                                       client_ip, request.cookies.get(SESSION_COOKIE))
    except LoginLimitedError as limited:
        return Response({"error": "too many login attempts; try again later"},
                        status_code=HTTP_429_TOO_MANY_REQUESTS,
                        headers={"Retry-After": str(max(1, round(limited.retry_after)))})
    except LoginRefusedError:
        return Response({"error": "wrong username or password"},
                        status_code=HTTP_401_UNAUTHORIZED)
    except PortalClosedError as closed:
        return Response({"error": str(closed)}, status_code=HTTP_403_FORBIDDEN)
    max_age = int(auth.session_lifetime.total_seconds())
    user = done.user
    return Response({"username": user.username, "role": user.role,
                     "accountId": str(user.account_id) if user.account_id else None,
                     "expiresAt": done.expires_at.isoformat()},
                    cookies=[_cookie(auth, done.secret, max_age)])


@post("/auth/logout", status_code=HTTP_200_OK, request_max_body_size=MAX_LOGIN_BODY)
async def logout(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Ends the session on the server (every process refuses it from now on), drops the cookie."""
    auth: Authenticator = request.app.state.auth
    session = request.cookies.get(SESSION_COOKIE)
    ended = False
    if session:
        viewer = await asyncio.to_thread(auth.viewer, None, session)
        if viewer is not ANONYMOUS:
            ended = await asyncio.to_thread(auth.logout, session, viewer.actor)
    return Response({"loggedOut": ended}, cookies=[_cookie(auth, "", 0)])
