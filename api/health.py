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
    views = [
        {"name": s.name, "position": s.position, "lag": max(head - s.position, 0),
         "running": s.running, "error": s.last_error}
        for s in runtime.pool.status()
    ]
    ready = all(v["error"] is None for v in views)
    return ready, {"status": "ready" if ready else "degraded", "head": head, "views": views}


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The log is reachable and every view is following it without errors."""
    runtime: Runtime = request.app.state.runtime
    try:
        ready, body = await asyncio.to_thread(_readiness, runtime)
    except Exception as error:  # the database is unreachable
        return Response({"status": "unavailable", "error": type(error).__name__},
                        status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)
