"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from api.runtime import Runtime


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _readiness(runtime: Runtime) -> tuple[bool, dict[str, Any]]:
    head = runtime.desk.recorder.max_notification_id() or 0
    positions = runtime.store.positions()
    dead = {d.name for d in runtime.store.dead_letters()}
    errors = {r.name: r.last_error for r in runtime.runners}
    views = [
        {"name": r.name, "position": positions.get(r.name, 0),
         "lag": max(head - positions.get(r.name, 0), 0),
         "error": errors[r.name] or ("stopped at a dead letter" if r.name in dead else None)}
        for r in runtime.runners
    ]
    ready = all(v["error"] is None for v in views)
    return ready, {"status": "ready" if ready else "degraded", "head": head, "views": views}


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The log and the views are reachable, and no view is failing or stopped."""
    runtime: Runtime = request.app.state.runtime
    try:
        ready, body = await asyncio.to_thread(_readiness, runtime)
    except Exception as error:  # the database is unreachable
        return Response({"status": "unavailable", "error": type(error).__name__},
                        status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)
