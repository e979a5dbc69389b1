"""Product feedback through HTTP: GraphQL board and mutations, the Jira reactor of `carelog
serve` against the Jira stub, and Jira's webhooks back (matrix C1, C2, C7)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.runtime import Runtime
from integrations.settings import JiraSettings, Secret, Settings
from tests.conftest import GraphQL
from tests.e2e.users import add_user, post_gql, token_for
from tests.jira_server import JiraStub, jira_stub
from tests.live import CARELOG, environment, graphql, live_server, subscribe

pytestmark = pytest.mark.e2e

SECRET = "webhook-secret"
BOARD = """query($first: Int = 10, $after: String, $filter: FeedbackFilterInput, $wait: Int) {
  feedbackBoard(first: $first, after: $after, filter: $filter, waitFor: $wait) {
    nodes { id title status jiraKey jiraStatusName syncPending accountsCount
            arr { amount currency } redArr { amount } lastComment lastCommentAuthor
            requests { note account { name } } }
    pageInfo { hasNextPage endCursor } } }"""
SUBMIT = """mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) { feedbackId notificationId duplicate } }"""


@pytest.fixture
def stub() -> Iterator[JiraStub]:
    with jira_stub() as server:
        yield server


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings], stub: JiraStub) -> Settings:
    return make_settings(backend, jira=JiraSettings(
        url=stub.url, token=Secret(stub.token), timeout=2.0, reconcile_seconds=30,
        webhook_secret=Secret(SECRET), declined_statuses=frozenset({"10003"})))


def account(gql: GraphQL, name: str, mrr: str) -> str:
    made = gql(f"""mutation {{ openAccount(input: {{name: "{name}", tier: BUSINESS,
        manager: "Manager of {name}", occurredAt: "2026-01-05T09:00:00Z"}}) {{ accountId }} }}""")
    account_id = str(made["openAccount"]["accountId"])
    gql("""mutation($id: UUID!, $mrr: Decimal!) { recordRevenue(accountId: $id,
        period: "2026-02", mrr: $mrr, currency: "EUR") { notificationId } }""",
        id=account_id, mrr=mrr)
    return account_id


def submit(gql: GraphQL, account_id: str, title: str) -> dict[str, Any]:
    return dict(gql(SUBMIT, input={"accountId": account_id, "productArea": "Reporting",
                                   "title": title, "text": f"{title}, please"})["submitFeedback"])


def board(gql: GraphQL, **variables: Any) -> list[dict[str, Any]]:
    return list(gql(BOARD, **variables)["feedbackBoard"]["nodes"])


def until_synced(gql: GraphQL, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = board(gql)
        if nodes and not any(n["syncPending"] for n in nodes):
            return nodes
        assert time.monotonic() < deadline, nodes
        time.sleep(0.2)


def deliver(client: TestClient[Any], payload: dict[str, Any] | bytes, delivery: str,
            secret: str = SECRET, **headers: str) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post("/webhooks/jira", content=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature": signature,
        "X-Atlassian-Webhook-Identifier": delivery, **headers})
    return response.status_code


def topics(runtime: Runtime, topic: str) -> int:
    notes = runtime.desk.recorder.select_notifications(start=None, limit=100_000)
    return sum(1 for n in notes if n.topic == topic)


def test_the_board_ranks_by_arr_and_shows_jiras_news(
        client: TestClient[Any], gql: GraphQL, stub: JiraStub, runtime: Runtime) -> None:
    small = account(gql, "Small Co", "100.00")
    big = account(gql, "Big AG", "5000.00")
    other = account(gql, "Other Ltd", "8000.00")
    excel = submit(gql, small, "Excel export")
    submit(gql, big, "SAML single sign-on")
    joined = gql("""mutation($f: UUID!, $a: UUID!) { supportFeedback(feedbackId: $f,
        accountId: $a, note: "Asked in QBR") { notificationId } }""",
                 f=excel["feedbackId"], a=other)["supportFeedback"]

    nodes = board(gql, wait=joined["notificationId"])
    assert [(n["title"], n["arr"]["amount"], n["accountsCount"]) for n in nodes] == [
        ("Excel export", "97200.00", 2), ("SAML single sign-on", "60000.00", 1)]
    assert nodes[0]["redArr"] == {"amount": "0.00"}  # health hook: nothing is red yet
    assert [r["account"]["name"] for r in nodes[0]["requests"]] == ["Small Co", "Other Ltd"]
    first = gql(BOARD, first=1)["feedbackBoard"]
    second = gql(BOARD, first=1, after=first["pageInfo"]["endCursor"])["feedbackBoard"]
    assert [n["title"] for n in first["nodes"] + second["nodes"]] == [
        "Excel export", "SAML single sign-on"]

    nodes = until_synced(gql)  # the reactor of `carelog serve` made the issues
    keys = {n["title"]: n["jiraKey"] for n in nodes}
    assert len(stub.issues) == 2
    assert all(len(stub.issues_with_label(f"carelog-feedback-{n['id']}")) == 1 for n in nodes)

    assert deliver(client, stub.transition(keys["Excel export"], "10001"), "d-1") == 200
    assert deliver(client, stub.comment_as_product(keys["Excel export"], "Planned for Q3"),
                   "d-2") == 200
    assert deliver(client, stub.transition(keys["Excel export"], "10002"), "d-3") == 200
    assert deliver(client, stub.transition(keys["SAML single sign-on"], "10003"), "d-4") == 200

    head = runtime.desk.recorder.max_notification_id()
    by_title = {n["title"]: n for n in board(gql, wait=head)}
    assert by_title["Excel export"]["status"] == "SHIPPED"
    assert by_title["Excel export"]["jiraStatusName"] == "Done"
    assert by_title["Excel export"]["lastComment"] == "Planned for Q3"
    assert by_title["Excel export"]["lastCommentAuthor"] == "Pat Product"
    assert by_title["SAML single sign-on"]["status"] == "DECLINED"
    # Every requesting account's manager has a message to pass on: two shipped, one declined.
    assert topics(runtime, "carelog:Feedback.OutcomeMessagePrepared") == 3
    # ... and finds it in the account's room, as a note for the manager.
    rooms = {name: gql("""query($id: UUID!, $w: Int) { room(accountId: $id, waitFor: $w) {
        messages { edges { node { kind direction text subject } } } } }""", id=ident,
        w=head)["room"]["messages"]["edges"] for name, ident in
        (("small", small), ("other", other), ("big", big))}
    notes = {name: [(e["node"]["kind"], e["node"]["subject"], e["node"]["text"])
                    for e in edges if e["node"]["kind"] == "note"]
             for name, edges in rooms.items()}
    assert notes["small"] == notes["other"] == [
        ("note", "Feedback shipped",
         'Your request "Excel export" (Reporting) has shipped.')]
    assert notes["big"] == [("note", "Feedback declined", 'Your request "SAML single sign-on" '
                                                          "(Reporting) was declined by the "
                                                          "product team.")]
    # The note is for the manager: a client of the account never reads it, nor its preview.
    add_user(runtime, "smallclient", "client", account_id=UUID(small))
    seen = post_gql(client, """query($id: UUID!, $w: Int) { room(accountId: $id, waitFor: $w) {
        lastMessage messageCount messages { edges { node { kind text } } } } }""",
                    token_for(runtime, "smallclient"), id=small,
                    w=runtime.desk.recorder.max_notification_id())["data"]["room"]
    assert seen["messageCount"] == len(seen["messages"]["edges"])
    assert all(e["node"]["kind"] == "message" for e in seen["messages"]["edges"])
    assert "shipped" not in json.dumps(seen)


def issue_in_progress(client: TestClient[Any], gql: GraphQL, stub: JiraStub
                      ) -> tuple[str, dict[str, Any]]:
    submit(gql, account(gql, "Acme GmbH", "100.00"), "Excel export")
    (node,) = until_synced(gql)
    return node["jiraKey"], stub.transition(node["jiraKey"], "10001")


def test_c1_a_delivery_repeated_by_jira_is_recorded_once(
        client: TestClient[Any], gql: GraphQL, stub: JiraStub, runtime: Runtime) -> None:
    _, payload = issue_in_progress(client, gql, stub)
    answers = [deliver(client, payload, "delivery-7"),
               deliver(client, payload, "delivery-7", **{"X-Atlassian-Webhook-Retry": "1"}),
               deliver(client, payload, "delivery-7", **{"X-Atlassian-Webhook-Retry": "2"})]

    assert answers == [200, 200, 200]
    assert topics(runtime, "carelog:Feedback.JiraStatusChanged") == 1


def test_c2_forged_or_tampered_deliveries_are_refused_before_parsing(
        client: TestClient[Any], gql: GraphQL, stub: JiraStub, runtime: Runtime) -> None:
    _, payload = issue_in_progress(client, gql, stub)
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    before = runtime.desk.recorder.max_notification_id()

    answers = [
        deliver(client, payload, "d-1", secret="another-secret"),
        client.post("/webhooks/jira", content=body).status_code,  # no signature at all
        client.post("/webhooks/jira", content=body.replace(b"10001", b"10002", 1),
                    headers={"X-Hub-Signature": signature}).status_code,  # one byte changed
        client.post("/webhooks/jira", content=b"not even json",
                    headers={"X-Hub-Signature": "sha256=00"}).status_code,
        client.post("/webhooks/jira", content=body,
                    headers={"X-Carelog-Webhook-Secret": "guess"}).status_code,
        client.post(f"/webhooks/jira?secret={SECRET}", content=body).status_code,  # no URLs
    ]

    assert answers == [401] * 6
    assert runtime.desk.recorder.max_notification_id() == before
    assert client.get("/readyz").json()["webhook_rejections"] == 6
    assert client.post("/webhooks/jira", content=body,
                       headers={"X-Carelog-Webhook-Secret": SECRET}).status_code == 200


def test_c7_a_late_replay_is_still_deduplicated_and_stale_state_not_applied(
        client: TestClient[Any], gql: GraphQL, stub: JiraStub, runtime: Runtime) -> None:
    key, in_progress = issue_in_progress(client, gql, stub)
    assert deliver(client, in_progress, "d-progress") == 200
    done = stub.transition(key, "10002")
    assert deliver(client, done, "d-done") == 200

    # 25 minutes later Jira still retries the first delivery, and an older To Do change
    # arrives for the first time.
    to_do = stub.transition(key, "10000")
    to_do["timestamp"] = in_progress["timestamp"] - 25 * 60 * 1000
    assert deliver(client, in_progress, "d-progress",
                   **{"X-Atlassian-Webhook-Retry": "5"}) == 200
    assert deliver(client, to_do, "d-late") == 200

    head = runtime.desk.recorder.max_notification_id()
    (node,) = board(gql, wait=head)
    assert node["status"] == "SHIPPED"
    assert topics(runtime, "carelog:Feedback.JiraStatusChanged") == 2


def test_a_kept_board_answer_follows_a_revenue_change(client: TestClient[Any],
                                                      gql: GraphQL) -> None:
    account_id = account(gql, "Acme GmbH", "100.00")
    made = submit(gql, account_id, "Excel export")
    board(gql, wait=made["notificationId"])
    query = "{ feedbackBoard { nodes { arr { amount } } } }"
    assert gql(query)["feedbackBoard"]["nodes"] == [{"arr": {"amount": "1200.00"}}]

    changed = gql("""mutation($id: UUID!) { recordRevenue(accountId: $id, period: "2026-03",
        mrr: "200.00", currency: "EUR") { notificationId } }""", id=account_id)
    board(gql, wait=changed["recordRevenue"]["notificationId"])

    assert gql(query)["feedbackBoard"]["nodes"] == [{"arr": {"amount": "2400.00"}}]


def test_merged_feedback_leaves_the_board_and_its_accounts_join(
        client: TestClient[Any], gql: GraphQL) -> None:
    keep = submit(gql, account(gql, "Acme GmbH", "100.00"), "Excel export")
    duplicate = submit(gql, account(gql, "Initech", "200.00"), "XLSX download")
    merged = gql("""mutation($f: UUID!, $into: UUID!) { mergeFeedback(feedbackId: $f,
        intoId: $into) { notificationId feedbackId } }""",
                 f=duplicate["feedbackId"], into=keep["feedbackId"])["mergeFeedback"]

    nodes = board(gql, wait=merged["notificationId"])
    assert [(n["title"], n["accountsCount"], n["arr"]["amount"]) for n in nodes] == [
        ("Excel export", 2, "3600.00")]
    merged_too = {n["title"]: n["status"] for n in board(gql, filter={"includeMerged": True})}
    assert merged_too["XLSX download"] == "MERGED"
    assert set(merged_too) == {"Excel export", "XLSX download"}


def test_feedback_changed_sends_the_item_then_every_change(
        settings: Settings, runtime: Runtime) -> None:
    with live_server(create_app(settings, runtime=runtime)) as url:
        made = graphql(url, """mutation { openAccount(input: {name: "Acme GmbH",
            tier: BUSINESS, manager: "Ann"}) { accountId } }""")["openAccount"]
        other = graphql(url, """mutation { openAccount(input: {name: "Initech",
            tier: BUSINESS, manager: "Bo"}) { accountId } }""")["openAccount"]
        item = graphql(url, SUBMIT, input={
            "accountId": made["accountId"], "productArea": "Reporting", "title": "Excel",
            "text": "Please"})["submitFeedback"]
        graphql(url, "query($id: UUID!, $w: Int) { feedback(id: $id, waitFor: $w) { id } }",
                id=item["feedbackId"], w=item["notificationId"])

        async def scenario() -> list[int]:
            query = ("subscription($id: UUID!) { feedbackChanged(feedbackId: $id) "
                     "{ accountsCount } }")
            async with subscribe(url, query, id=item["feedbackId"]) as sub:
                seen = [(await sub.next())["feedbackChanged"]["accountsCount"]]
                await asyncio.to_thread(graphql, url, """mutation($f: UUID!, $a: UUID!) {
                    supportFeedback(feedbackId: $f, accountId: $a) { notificationId } }""",
                                        f=item["feedbackId"], a=other["accountId"])
                while seen[-1] < 2:
                    seen.append((await sub.next())["feedbackChanged"]["accountsCount"])
                return seen

        assert asyncio.run(scenario())[-1] == 2


def test_carelog_worker_jira_keeps_the_issues_of_the_distributed_mode(
        make_settings: Callable[..., Settings], stub: JiraStub, tmp_path: Path) -> None:
    """Two `carelog worker jira` processes on one database: one holds the lease and calls Jira,
    the other waits; each item gets its one issue, and SIGTERM ends both cleanly."""
    settings = make_settings("postgres", nats_url="nats://127.0.0.1:9", jira=JiraSettings(
        url=stub.url, token=Secret(stub.token), timeout=2.0))
    env = {**environment(settings), "CARELOG_JIRA_URL": stub.url,
           "CARELOG_JIRA_TOKEN": stub.token, "CARELOG_JIRA_PROJECT": "FEED"}
    runtime = Runtime.open(settings)
    workers = [subprocess.Popen([CARELOG, "worker", "jira"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    try:
        made = runtime.desk.open_account(name="Acme GmbH", tier="business", manager="Ann",
                                         currency="EUR", actor="staff:ann")
        ids = [runtime.desk.submit_feedback(
            account_id=made.ids["accountId"], product_area="Reporting", title=f"Request {n}",
            text="Please", actor="staff:ann").ids["feedbackId"] for n in range(3)]
        deadline = time.monotonic() + 60
        while not all(runtime.desk.feedback(i).jira_key for i in ids):
            assert all(w.poll() is None for w in workers), workers[0].communicate()[0]
            assert time.monotonic() < deadline, "the workers made no issues in 60 s"
            for runner in runtime.runners:  # the projectors' part in the distributed mode
                runner.catch_up()
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
        outputs = [w.communicate(timeout=30)[0] for w in workers]
        runtime.close()
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert "carelog worker jira running" in outputs[0]
    assert stub.token not in "".join(outputs)
    assert all(len(stub.issues_with_label(f"carelog-feedback-{i}")) == 1 for i in ids)
    assert len(stub.issues) == 3


def test_carelog_worker_jira_needs_jira_configured(
        make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings("sqlite", nats_url="nats://127.0.0.1:9")
    result = subprocess.run([CARELOG, "worker", "jira"], env=environment(settings),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "CARELOG_JIRA_URL" in result.stderr
