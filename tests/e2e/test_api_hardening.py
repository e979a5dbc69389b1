"""The GraphQL API under abuse (matrix rows D1-D5, D7, D9, D10, G2), on both backends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from litestar.testing import TestClient

from api.app import create_app
from api.runtime import Runtime
from integrations.settings import Settings
from tests.e2e.test_role_matrix import _literal
from tests.e2e.test_tenant_isolation import root_queries
from tests.e2e.users import add_user, codes, post_gql, token_for
from tests.live import live_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def production(settings: Settings, runtime: Runtime) -> Any:
    from dataclasses import replace
    app = create_app(replace(settings, environment="production"), runtime=runtime)
    with TestClient(app) as client:
        yield client


def test_d1_d2_d3_d4_d10_limits_hold_before_execution(client: TestClient[Any],
                                                      runtime: Runtime) -> None:
    add_user(runtime, "mia", "manager")
    token = token_for(runtime, "mia")
    inner = "id"
    for _ in range(12):  # depth about 50
        inner = f"account {{ cases(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    deep = f"{{ cases(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    assert codes(post_gql(client, deep, token=token))[:1] == ["GRAPHQL_VALIDATION_FAILED"]
    aliases = "{ " + " ".join(f'a{i}: case(id: "{i:08x}-0000-4000-8000-000000000000") '
                              "{ id }" for i in range(100)) + " }"
    refused = post_gql(client, aliases, token=token)
    assert codes(refused) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "aliases" in refused["errors"][0]["message"]
    huge = client.post("/graphql", json={"query": "{ " + "a " * 2_600_000 + "}"},
                       headers={"Authorization": f"Bearer {token}"})
    assert huge.status_code == 413
    tokens = post_gql(client, "{ " + " ".join(["queues { line }"] * 800) + " }", token=token)
    assert tokens["data"] is None
    assert "more than 2000 tokens" in tokens["errors"][0]["message"]
    batch = client.post("/graphql", json=[{"query": "{ queues { line } }"}] * 100,
                        headers={"Authorization": f"Bearer {token}"})
    assert batch.status_code == 400
    assert "queues" not in batch.text
    many = post_gql(client, "{ cases(first: 99999999) { edges { cursor } } }", token=token)
    assert codes(many) == ["INVALID_INPUT"]


def test_d5_production_hides_the_schema(production: TestClient[Any], client: TestClient[Any],
                                       runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    introspection = production.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert "GRAPHQL_VALIDATION_FAILED" in introspection.text
    assert '"types"' not in introspection.text
    ide = production.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in ide.text.lower()

    add_user(runtime, "mia", "manager")
    token = token_for(runtime, "mia")
    typos = ["{ queus { line } }", "{ queues { lien } }",
             "{ cases(frist: 1) { edges { cursor } } }", "query($s: Acount) { queues { line } }"]
    for typo in typos:
        hidden = post_gql(production, typo, token=token)
        assert codes(hidden), hidden
        assert set(codes(hidden)) == {"GRAPHQL_VALIDATION_FAILED"}, hidden
        assert "Did you mean" not in json.dumps(hidden), hidden
    # Development keeps graphql-core's hints, for the people writing queries.
    assert "Did you mean" in json.dumps(post_gql(client, typos[0], token=token))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection to /var/lib/secret.db refused")

    monkeypatch.setattr(runtime.services.cases, "queue_summary", broken)
    masked = post_gql(production, "{ queues { line } }", token=token)
    assert codes(masked) == ["INTERNAL"]
    assert masked["errors"][0]["message"] == "Internal server error"
    assert "secret" not in json.dumps(masked)
    assert "Traceback" not in json.dumps(masked)


def test_d9_g2_every_root_field_refuses_anonymous_callers_whatever_the_headers(
        production: TestClient[Any], runtime: Runtime) -> None:
    schema = production.app.state.schema._schema
    account = runtime.desk.open_account(name="Acme", tier="vip", manager="Ann",
                                        currency="EUR", actor="staff:ann").ids["accountId"]
    spoofed = {"X-Remote-User": "admin", "X-Forwarded-User": "admin", "X-User": "admin"}
    operations = [q for q, _ in root_queries(schema, str(account), 0).values()]
    for name, field in schema.mutation_type.fields.items():
        args = ", ".join(f"{a}: {_literal(a, arg.type, account)}"
                         for a, arg in field.args.items() if str(arg.type).endswith("!"))
        operations.append(f"mutation {{ {name}{'(' + args + ')' if args else ''} "
                          "{ __typename } }")
    assert len(operations) > 60
    for query in operations:
        answer = production.post("/graphql", json={"query": query}, headers=spoofed).json()
        assert codes(answer), query
        assert set(codes(answer)) == {"UNAUTHENTICATED"}, (query, answer)


def test_d7_a_websocket_from_another_origin_is_refused(settings: Settings,
                                                       runtime: Runtime) -> None:
    with live_server(create_app(settings, runtime=runtime)) as url:
        ws_url = url.replace("http://", "ws://") + "/graphql"

        async def handshake(origin: str) -> str:
            try:
                async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"],
                                              origin=origin) as ws:  # type: ignore[arg-type]
                    await ws.send(json.dumps({"type": "connection_init"}))
                    return str(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
            except websockets.exceptions.InvalidStatus as refused:
                return f"refused {refused.response.status_code}"
            except websockets.exceptions.ConnectionClosed as closed:
                return f"closed {closed.rcvd.code if closed.rcvd else None}"

        assert asyncio.run(handshake(url)) == "connection_ack"
        assert asyncio.run(handshake("http://evil.example")) in ("refused 403", "closed 1008")
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_telephony_system_needs_a_token_that_may_work_cases(production: TestClient[Any],
                                                               runtime: Runtime) -> None:
    call = {"callId": "pbx-9", "direction": "inbound", "number": "+1 555 0100",
            "durationSeconds": 30, "outcome": "answered", "notes": "hello"}
    assert production.post("/calls", json=call).status_code == 401
    add_user(runtime, "pbx", "agent")
    add_user(runtime, "pat", "product")
    product = token_for(runtime, "pat")
    refused = production.post("/calls", json=call, headers={"Authorization": f"Bearer {product}"})
    assert refused.status_code == 403
    logged = runtime.desk.recorder.select_notifications(start=None, limit=10_000)
    assert not [n.topic for n in logged if n.topic.startswith(("carelog:StrayMessage",
                                                               "carelog:Interaction"))]
    agent = token_for(runtime, "pbx")
    held = production.post("/calls", json=call, headers={"Authorization": f"Bearer {agent}"})
    assert held.status_code == 202, held.text
