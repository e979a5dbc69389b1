"""Health endpoints as load balancers and orchestrators read them."""

from __future__ import annotations

from typing import Any

import pytest

from api.runtime import Runtime
from projections.store import DeadLetter

pytestmark = pytest.mark.e2e


def test_healthz_and_readyz(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert {v["name"] for v in body["views"]} == {"accounts", "case_queues", "feedback_board"}


def test_a_stopped_view_degrades_readiness_but_keeps_serving(client: Any,
                                                               runtime: Runtime) -> None:
    runtime.store.record_dead_letter(DeadLetter("case_queues", 7, "carelog:Case.Escalated",
                                                "ValueError: boom", 5, "2026-03-02T09:00:00"))
    ready = client.get("/readyz")
    assert ready.status_code == 200, "one stale view must not take the API out of service"
    views = {v["name"]: v for v in ready.json()["views"]}
    assert ready.json()["status"] == "degraded"
    assert views["case_queues"]["error"] == "stopped at a dead letter"
    assert views["accounts"]["error"] is None


def test_readyz_is_503_when_the_views_cannot_be_read(client: Any, runtime: Runtime,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> dict[str, int]:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(runtime.store, "positions", unreachable)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "error": "ConnectionError"}
