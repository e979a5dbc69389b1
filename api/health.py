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


def _readiness(runtime: Runtime) -> dict[str, Any]:
    """Where the views stand; raises when the log or the view store cannot be read."""
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
    failures = list(runtime.services.worker_failures)
    healthy = all(v["error"] is None for v in views) and not failures
    body: dict[str, Any] = {
        "status": "ready" if healthy else "degraded", "head": head, "views": views,
        "worker_failures": failures, "webhook_rejections": runtime.services.webhook_rejections}
    body["reactors"] = [{"name": r.name, "running": r.running, "last_error": r.last_error}
                        for r in runtime.reactors]
    jira = runtime.reactor("jira")
    if jira is not None and runtime.jira is not None:
        body["jira"] = {"running": jira.running, "last_error": jira.last_error,
                        "pending": runtime.jira.pending()}
    return body


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The log and the views are reachable (503 otherwise).

    A view that is failing or stopped at a dead letter makes the answer `degraded` but keeps
    it 200: this process still serves every request, and taking every API replica out of the
    load balancer for one stale view would turn a partial fault into an outage.
    """
    runtime: Runtime = request.app.state.runtime
    try:
        body = await asyncio.to_thread(_readiness, runtime)
    except Exception as error:  # the database is unreachable
        return Response({"status": "unavailable", "error": type(error).__name__},
                        status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response(body, status_code=HTTP_200_OK)
