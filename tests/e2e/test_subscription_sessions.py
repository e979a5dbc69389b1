"""A live subscription ends when its session does: logged out (here) or the user disabled; and
then its socket is closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
import websockets

from api.app import create_app
from api.runtime import Runtime
from domain.users import UserDesk
from integrations.settings import Settings
from tests.e2e.users import PASSWORD, add_user
from tests.live import live_server

pytestmark = pytest.mark.e2e

CASE_UPDATED = "subscription($id: UUID!) { caseUpdated(caseId: $id) { id priority } }"


async def _open(url: str, cookie: str, case_id: UUID) -> Any:
    ws = await websockets.connect(url.replace("http://", "ws://") + "/graphql",
                                  subprotocols=["graphql-transport-ws"],
                                  additional_headers={"Cookie": f"carelog_session={cookie}"})
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
        "query": CASE_UPDATED, "variables": {"id": str(case_id)}}}))
    return ws


async def _message(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


@pytest.mark.parametrize("ending", ["logout", "disabled"])
def test_a_live_subscription_ends_with_its_session(settings: Settings, runtime: Runtime,
                                                   ending: str) -> None:
    desk = runtime.desk
    account = desk.open_account(name="Acme", tier="vip", manager="Ann", currency="EUR",
                                actor="staff:ann").ids["accountId"]
    case_id = desk.open_case(account_id=account, channel="email", subject="Export",
                             text="It stopped", actor="staff:ann").ids["caseId"]
    add_user(runtime, "mia", "manager", password=True)
    with live_server(create_app(settings, runtime=runtime)) as url, \
            httpx.Client(base_url=url, timeout=30) as http:
        head = desk.recorder.max_notification_id()
        login = http.post("/auth/login", json={"username": "mia", "password": PASSWORD})
        assert login.status_code == 200
        cookie = login.cookies["carelog_session"]
        http.post("/graphql", json={"query": f"{{ case(id: \"{case_id}\", waitFor: {head}) "
                                              "{ id } }"})

        async def scenario() -> list[dict[str, Any]]:
            ws = await _open(url, cookie, case_id)
            try:
                first = await _message(ws)
                assert first["type"] == "next"
                assert first["payload"]["data"]["caseUpdated"]["priority"] == "NORMAL"
                if ending == "logout":
                    assert http.post("/auth/logout").json() == {"loggedOut": True}
                else:
                    UserDesk(desk).disable_user(username="mia", reason="left",
                                                actor="system:test")
                    await asyncio.sleep(1.2)  # the recheck interval of this process
                desk.change_priority(case_id=case_id, priority="urgent", actor="staff:ann")
                runtime.services.after_write()
                ended, completed = await _message(ws), await _message(ws)
                # The socket itself is closed: nothing else runs on a dead session.
                with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                    await _message(ws)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4401
                return [ended, completed]
            finally:
                await ws.close()

        ended, completed = asyncio.run(scenario())
    assert ended["type"] == "next"
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in ended["payload"] or ended["payload"]["data"] is None
    assert "URGENT" not in json.dumps(ended)
    assert completed["type"] == "complete"


def test_subscriptions_answer_another_companys_ids_like_missing_ones(
        settings: Settings, runtime: Runtime) -> None:
    """E1 over the subscription root fields: a client of A subscribes with B's ids and with
    random ids; the first answers are identical and carry nothing of B."""
    desk = runtime.desk
    a = desk.open_account(name="Alpha", tier="vip", manager="Ann", currency="EUR",
                          actor="staff:ann").ids["accountId"]
    b = desk.open_account(name="Bravo Hidden", tier="vip", manager="Ann", currency="EUR",
                          actor="staff:ann").ids["accountId"]
    b_case = desk.open_case(account_id=b, channel="email", subject="Bravo outage",
                            text="Bravo text", actor="staff:ann").ids["caseId"]
    add_user(runtime, "alice", "client", account_id=a, password=True)
    app = create_app(settings, runtime=runtime)
    schema = app.state.schema._schema
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        head = desk.recorder.max_notification_id()
        http.post("/graphql", json={"query": f"{{ queues(waitFor: {head}) {{ line }} }}"})
        cookie = http.post("/auth/login", json={"username": "alice", "password": PASSWORD}
                           ).cookies["carelog_session"]

        async def first_answer(field: str, args: str) -> dict[str, Any]:
            ws = await websockets.connect(
                url.replace("http://", "ws://") + "/graphql",
                subprotocols=["graphql-transport-ws"],
                additional_headers={"Cookie": f"carelog_session={cookie}"})
            try:
                await ws.send(json.dumps({"type": "connection_init"}))
                await _message(ws)
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": f"subscription {{ {field}{args} {{ __typename }} }}"}}))
                return await _message(ws)
            finally:
                await ws.close()

        probed = 0
        for name, field in schema.subscription_type.fields.items():
            ids = [arg for arg, spec in field.args.items() if str(spec.type).startswith("UUID")]
            if not ids:
                continue
            for b_id in (b, b_case):
                missing = UUID(int=b_id.int ^ 0xFFFF)
                on_b, on_missing = (asyncio.run(first_answer(name, "(" + ", ".join(
                    f'{arg}: "{ident}"' for arg in ids) + ")")) for ident in (b_id, missing))
                text_b = json.dumps(on_b).replace(str(b_id), "ID")
                assert text_b == json.dumps(on_missing).replace(str(missing), "ID"), name
                assert "Bravo" not in text_b
                assert str(b) not in text_b
                probed += 1
    assert probed >= 6
