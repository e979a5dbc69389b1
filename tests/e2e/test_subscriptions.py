"""GraphQL subscriptions over a real WebSocket (graphql-transport-ws), in the embedded mode."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from api.app import create_app
from api.runtime import Runtime
from integrations.settings import Settings
from tests.live import graphql, live_server, subscribe

pytestmark = pytest.mark.e2e

OPEN_ACCOUNT = """mutation { openAccount(input: {name: "Globex Energy", tier: VIP,
    manager: "Anna Berg", occurredAt: "2026-01-05T09:00:00Z"}) { accountId notificationId } }"""
OPEN_CASE = """mutation($id: UUID!) { openCase(input: {accountId: $id, channel: TELEGRAM,
    subject: "Checkout fails", text: "Errors on checkout since 09:00",
    occurredAt: "2026-03-01T08:00:00Z"}) { caseId notificationId } }"""


@pytest.fixture
def url(settings: Settings, runtime: Runtime) -> Any:
    with live_server(create_app(settings, runtime=runtime)) as base:
        yield base


def test_case_updated_sends_the_case_then_every_change(url: str) -> None:
    account_id = graphql(url, OPEN_ACCOUNT)["openAccount"]["accountId"]
    made = graphql(url, OPEN_CASE, id=account_id)["openCase"]
    graphql(url, "query($w: Int) { case(id: \"" + made["caseId"] + "\", waitFor: $w) { id } }",
            w=made["notificationId"])

    async def scenario() -> list[dict[str, Any]]:
        seen = []
        query = "subscription($id: UUID!) { caseUpdated(caseId: $id) { status assignee " \
                "replyCount version } }"
        async with subscribe(url, query, id=made["caseId"]) as sub:
            seen.append((await sub.next())["caseUpdated"])
            for mutation in ('assignCase(caseId: $id, agent: "ivy")',
                             'replyToCase(caseId: $id, text: "On it")',
                             'resolveCase(caseId: $id, resolution: "Fixed")'):
                await asyncio.to_thread(
                    graphql, url, f"mutation($id: UUID!) {{ {mutation} {{ version }} }}",
                    id=made["caseId"])
                seen.append((await sub.next())["caseUpdated"])
        return seen

    seen = asyncio.run(scenario())
    assert seen == [
        {"status": "OPEN", "assignee": None, "replyCount": 0, "version": 1},
        {"status": "OPEN", "assignee": "ivy", "replyCount": 0, "version": 2},
        {"status": "OPEN", "assignee": "ivy", "replyCount": 1, "version": 3},
        {"status": "RESOLVED", "assignee": "ivy", "replyCount": 1, "version": 4},
    ]


def test_queue_and_account_subscriptions(url: str) -> None:
    opened = graphql(url, OPEN_ACCOUNT)["openAccount"]
    account_id = opened["accountId"]
    graphql(url, "query($w: Int) { accounts(first: 1, waitFor: $w) { nodes { id } } }",
            w=opened["notificationId"])

    async def scenario() -> tuple[list[int], list[str]]:
        queue = "subscription { queueChanged(line: 1) { openCount } }"
        account = "subscription($id: UUID!) { accountUpdated(accountId: $id) { tier } }"
        async with subscribe(url, queue) as q, subscribe(url, account, id=account_id) as a:
            counts = [(await q.next())["queueChanged"]["openCount"]]
            tiers = [(await a.next())["accountUpdated"]["tier"]]
            await asyncio.to_thread(graphql, url, OPEN_CASE, id=account_id)
            counts.append((await q.next())["queueChanged"]["openCount"])
            await asyncio.to_thread(graphql, url, 'mutation($id: UUID!) { changeTier('
                                    'accountId: $id, tier: ENTERPRISE) { version } }',
                                    id=account_id)
            tiers.append((await a.next())["accountUpdated"]["tier"])
        return counts, tiers

    assert asyncio.run(scenario()) == ([0, 1], ["VIP", "ENTERPRISE"])


def test_subscribing_to_a_missing_case_is_not_found(url: str) -> None:
    async def scenario() -> dict[str, Any]:
        query = "subscription { caseUpdated(caseId: \"00000000-0000-0000-0000-000000000000\")" \
                " { id } }"
        async with subscribe(url, query) as sub:
            message = json.loads(await asyncio.wait_for(sub.ws.recv(), 10))
        return dict(message)

    message = asyncio.run(scenario())
    assert message["type"] in ("next", "error")
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_the_legacy_graphql_ws_protocol_is_refused(url: str) -> None:
    async def scenario() -> str | None:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        try:
            async with websockets.connect(ws_url, subprotocols=["graphql-ws"]) as ws:
                return ws.subprotocol
        except websockets.exceptions.InvalidStatus as refused:
            return f"refused {refused.response.status_code}"

    assert asyncio.run(scenario()) != "graphql-ws"


def test_portfolio_changed_folds_a_burst_of_changes_into_one_news(url: str) -> None:
    """A live dashboard hears of changes at most once per `seconds`, with the newest position,
    and the portfolio asked with that position already holds what changed."""

    async def scenario() -> tuple[int, list[int], float, list[str]]:
        query = "subscription { portfolioChanged(seconds: 0.5) { position } }"
        async with subscribe(url, query) as sub:
            first = (await sub.next())["portfolioChanged"]["position"]
            made = [await asyncio.to_thread(graphql, url, OPEN_ACCOUNT.replace(
                "Globex Energy", f"Globex {n}")) for n in range(3)]
            heads = [m["openAccount"]["notificationId"] for m in made]
            started = asyncio.get_running_loop().time()
            news = [(await sub.next())["portfolioChanged"]["position"]]
            while news[-1] < heads[-1]:
                news.append((await sub.next())["portfolioChanged"]["position"])
            waited = asyncio.get_running_loop().time() - started
            names = await asyncio.to_thread(
                graphql, url, "query($w: Int) { portfolio(waitFor: $w) { name } }", w=news[-1])
        return first, news, waited, [r["name"] for r in names["portfolio"]]

    first, news, waited, names = asyncio.run(scenario())
    assert first >= 0
    assert news == sorted(news)
    assert news[-1] >= first
    assert len(news) <= 2  # three commands within half a second: one or two news, not three
    assert {"Globex 0", "Globex 1", "Globex 2"} <= set(names)
    assert waited < 5


def test_portfolio_changed_refuses_a_silly_interval(url: str) -> None:
    async def scenario() -> Any:
        async with subscribe(url, "subscription { portfolioChanged(seconds: 0) { position } }"
                             ) as sub:
            return await sub.next()

    with pytest.raises(Exception, match="seconds must be between"):
        asyncio.run(scenario())
