"""Subscription protocol abuse (matrix row D6) against a served app, on both backends."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
import websockets

from api.app import create_app
from api.graphql.websocket import INIT_TIMEOUT, MAX_SUBSCRIPTIONS
from api.runtime import Runtime
from integrations.settings import Settings
from tests.e2e.users import add_user, token_for
from tests.live import live_server

pytestmark = pytest.mark.e2e

QUEUE = "subscription { queueChanged(line: 1) { line openCount } }"


def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/graphql"


async def _close_code(ws: Any, seconds: float) -> int | None:
    """Read until the server closes the socket; its close code (None: still open)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except websockets.exceptions.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


def test_d6_legacy_protocol_limits_and_init_timeout_close_the_socket(
        settings: Settings, runtime: Runtime) -> None:
    add_user(runtime, "mia", "manager")
    bearer = {"Authorization": f"Bearer {token_for(runtime, 'mia')}"}
    with live_server(create_app(settings, runtime=runtime)) as url:

        async def legacy() -> str:
            try:
                async with websockets.connect(_ws_url(url), subprotocols=["graphql-ws"],  # type: ignore[list-item]
                                              additional_headers=bearer) as ws:
                    # The CVE-2026-35523 shape: `start` with no `connection_init` first.
                    await ws.send(json.dumps({"id": "1", "type": "start",
                                              "payload": {"query": QUEUE}}))
                    return f"closed {await _close_code(ws, 5)}"
            except websockets.exceptions.InvalidHandshake as refused:
                return f"refused {type(refused).__name__}"
            except websockets.exceptions.ConnectionClosed as closed:
                return f"closed {closed.rcvd.code if closed.rcvd else None}"

        answer = asyncio.run(legacy())
        assert answer.startswith("refused") or answer == "closed 4406", answer

        async def too_many() -> tuple[list[dict[str, Any]], int | None]:
            async with websockets.connect(_ws_url(url), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                          additional_headers=bearer) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                for i in range(MAX_SUBSCRIPTIONS + 1):
                    await ws.send(json.dumps({"id": str(i), "type": "subscribe",
                                              "payload": {"query": QUEUE}}))
                seen: list[dict[str, Any]] = []
                try:
                    async with asyncio.timeout(10):
                        while True:
                            seen.append(json.loads(await ws.recv()))
                except websockets.exceptions.ConnectionClosed as closed:
                    return seen, closed.rcvd.code if closed.rcvd else None

        seen, code = asyncio.run(too_many())
        assert code == 4429
        assert {m["id"] for m in seen} <= {str(i) for i in range(MAX_SUBSCRIPTIONS)}

        async def silent() -> int | None:
            async with websockets.connect(_ws_url(url), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                          additional_headers=bearer) as ws:
                return await _close_code(ws, INIT_TIMEOUT.total_seconds() + 5)

        assert asyncio.run(silent()) == 4408
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_d6_subscriptions_over_http_are_refused_alike_for_every_caller(
        settings: Settings, runtime: Runtime) -> None:
    production = replace(settings, environment="production")
    account = runtime.desk.open_account(name="Bravo", tier="vip", manager="Ann", currency="EUR",
                                        actor="staff:ann").ids["accountId"]
    own = runtime.desk.open_account(name="Alpha", tier="vip", manager="Ann", currency="EUR",
                                    actor="staff:ann").ids["accountId"]
    add_user(runtime, "alice", "client", account_id=own)
    alice = {"Authorization": f"Bearer {token_for(runtime, 'alice')}"}
    room = f'subscription {{ roomEvents(accountId: "{account}") {{ text }} }}'
    multipart = {"Accept": "multipart/mixed;subscriptionSpec=1.0,application/json"}
    with live_server(create_app(production, runtime=runtime)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:

        def over_http(query: str, headers: dict[str, str]) -> tuple[int, str]:
            answer = http.post("/graphql", json={"query": query},
                               headers={**multipart, **headers})
            return answer.status_code, answer.text

        # Subscriptions run over the websocket only, where each event re-checks the session:
        # over HTTP every caller gets the same refusal, and no data.
        answers = {over_http(QUEUE, {}), over_http(QUEUE, alice), over_http(room, alice),
                   over_http(QUEUE.replace("subscription", "subscription Named"), alice)}
        assert {status for status, _ in answers} == {400}
        assert all("ubscription" in text for _, text in answers)
        assert not any("openCount" in text or "Bravo" in text for _, text in answers)
        by_get = http.get("/graphql", params={"query": QUEUE}, headers=multipart)
        assert by_get.status_code in (400, 405)
        assert "openCount" not in by_get.text
