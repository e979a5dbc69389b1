"""Answers to plain queries are kept while the views they read are unchanged, and never after."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from api.auth import DEVELOPMENT_ADMIN, Role, Viewer
from api.graphql.answers import _is_plain_query
from api.graphql.context import build_context
from api.graphql.schema import build_schema
from api.runtime import Runtime
from tests.conftest import GraphQL

pytestmark = pytest.mark.e2e

TOP = "{ accounts(first: 10) { nodes { name tier } } }"
OPEN = """mutation($name: String!) { openAccount(input: {name: $name, tier: VIP,
    manager: "Anna Berg", occurredAt: "2026-01-05T09:00:00Z"}) { accountId notificationId } }"""


def cache(client: Any) -> Any:
    return client.app.state.schema.answers


def test_a_repeated_query_is_answered_without_reading_the_views(
        gql: GraphQL, client: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    made = gql(OPEN, name="Globex")["openAccount"]
    gql("query($w: Int) { accounts(first: 1, waitFor: $w) { nodes { id } } }",
        w=made["notificationId"])
    first = gql(TOP)
    reads = []
    original = runtime.services.accounts.page
    monkeypatch.setattr(runtime.services.accounts, "page",
                        lambda *a, **k: reads.append(a) or original(*a, **k))
    hits = cache(client).hits
    assert gql(TOP) == first
    assert gql(TOP) == first
    assert reads == [], "answered from the kept answer"
    assert cache(client).hits == hits + 2


def test_an_answer_is_dropped_as_soon_as_its_view_changes(gql: GraphQL) -> None:
    made = gql(OPEN, name="Globex")["openAccount"]
    gql("query($w: Int) { accounts(first: 1, waitFor: $w) { nodes { id } } }",
        w=made["notificationId"])
    assert gql(TOP)["accounts"]["nodes"] == [{"name": "Globex", "tier": "VIP"}]
    gql('mutation($id: UUID!) { changeTier(accountId: $id, tier: BUSINESS) { version } }',
        id=made["accountId"])
    deadline = time.monotonic() + 10
    while gql(TOP)["accounts"]["nodes"] != [{"name": "Globex", "tier": "BUSINESS"}]:
        assert time.monotonic() < deadline, "the kept answer outlived the change of its view"
        time.sleep(0.02)


def test_answers_that_read_the_clock_or_wait_for_a_write_are_not_kept(
        gql: GraphQL, client: Any) -> None:
    made = gql(OPEN, name="Globex")["openAccount"]
    case = gql("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Slow", text: "Reports are slow", occurredAt: "2026-03-01T08:00:00Z"})
        { caseId notificationId } }""", id=made["accountId"])["openCase"]
    gql("query($w: Int) { cases(waitFor: $w) { nodes { id } } }", w=case["notificationId"])
    breached = "{ cases { nodes { firstResponseBreached } } }"
    kept = cache(client)
    gql(breached)
    hits = kept.hits
    gql(breached)
    gql("query($w: Int) { cases(waitFor: $w) { nodes { id } } }", w=case["notificationId"])
    gql("query($w: Int) { cases(waitFor: $w) { nodes { id } } }", w=case["notificationId"])
    assert kept.hits == hits


def test_answers_are_kept_per_viewer(runtime: Runtime) -> None:
    schema = build_schema(production=False, answers=16)
    assert schema.answers is not None

    async def ask(viewer: Viewer) -> None:
        result = await schema.execute(TOP, context_value=build_context(runtime.services, viewer))
        assert not result.errors

    for viewer in (DEVELOPMENT_ADMIN, DEVELOPMENT_ADMIN, Viewer(Role.MANAGER, "ann")):
        asyncio.run(ask(viewer))
    assert (schema.answers.hits, schema.answers.misses) == (1, 2)


@pytest.mark.parametrize(("document", "name", "plain"), [
    ("{ accounts { nodes { id } } }", None, True),
    ("query Top { accounts { nodes { id } } }", "Top", True),
    ("mutation { churnAccount(accountId: \"x\", reason: \"y\") { version } }", None, False),
    ("subscription { queueChanged(line: 1) { openCount } }", None, False),
    ("query($w: Int) { accounts(waitFor: $w) { nodes { id } } }", None, False),
    ("query A { accounts { nodes { id } } } mutation B { x }", "B", False),
    ("{ not valid", None, False),
])
def test_which_documents_may_be_kept(document: str, name: str | None, plain: bool) -> None:
    assert _is_plain_query(document, name) is plain
