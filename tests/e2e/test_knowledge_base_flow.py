"""The knowledge base through GraphQL on SQLite and PostgreSQL: staff write and publish, clients
search what they may read (and nothing else), agents get suggestions on a case, clients before
they ask, managers the topics that lack an article."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from tests.conftest import GraphQL
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

DRAFT = """mutation($input: DraftArticleInput!) { draftArticle(input: $input) {
  articleId notificationId } }"""
PUBLISH = """mutation($id: UUID!, $visibility: Visibility!, $plans: [Tier!]) {
  publishArticle(articleId: $id, visibility: $visibility, plans: $plans) { notificationId } }"""
SEARCH = """query($text: String, $first: Int = 10, $after: String, $wait: Int) {
  articles(query: $text, first: $first, after: $after, waitFor: $wait) {
    nodes { id title language status visibility plans score helpful }
    pageInfo { hasNextPage endCursor } } }"""
ARTICLE = """query($id: UUID!, $wait: Int) { article(id: $id, waitFor: $wait) { id title } }"""


def as_user(client: TestClient[Any], token: str) -> GraphQL:
    """Operations as one user: `data`, or the test fails on errors."""

    def run(document: str, **variables: Any) -> dict[str, Any]:
        answer = post_gql(client, document, token, **variables)
        assert not answer.get("errors"), answer
        return dict(answer["data"])

    return run


def write(gql: GraphQL, title: str, body: str, language: str, visibility: str,
          plans: list[str] | None = None, topic: str | None = None) -> tuple[str, int]:
    made = gql(DRAFT, input={"title": title, "body": body, "language": language,
                             "topic": topic})["draftArticle"]
    published = gql(PUBLISH, id=made["articleId"], visibility=visibility, plans=plans)
    return str(made["articleId"]), int(published["publishArticle"]["notificationId"])


@pytest.fixture
def staff(client: TestClient[Any], runtime: Runtime) -> GraphQL:
    add_user(runtime, "admin", "admin")
    return as_user(client, token_for(runtime, "admin"))


@pytest.fixture
def world(staff: GraphQL, runtime: Runtime) -> dict[str, Any]:
    gql = staff
    desk = runtime.desk
    alpha = desk.open_account(name="Alpha", tier="standard", manager="Ann", currency="EUR",
                              actor="staff:ann").ids["accountId"]
    bravo = desk.open_account(name="Bravo", tier="business", manager="Ann", currency="EUR",
                              actor="staff:ann").ids["accountId"]
    add_user(runtime, "alice@alpha.example", "client", account_id=alpha)
    add_user(runtime, "bob@bravo.example", "client", account_id=bravo)
    add_user(runtime, "agent", "agent")
    public, _ = write(gql, "Resetting your password", "Open Settings, choose Security and "
                      "reset the password.", "en", "PUBLIC", topic="Login")
    plan_only, _ = write(gql, "Rechnungen herunterladen", "Alle Rechnungen finden Sie unter "
                         "Konto und Abrechnung.", "de", "PLANS", ["BUSINESS"], topic="Billing")
    internal, wait = write(gql, "Password resets by hand", "Internal runbook: reset a "
                           "password from the admin console.", "en", "INTERNAL")
    return {"alpha": alpha, "bravo": bravo, "public": public, "plan_only": plan_only,
            "internal": internal, "wait": wait,
            "alice": token_for(runtime, "alice@alpha.example"),
            "bob": token_for(runtime, "bob@bravo.example"), "agent": token_for(runtime, "agent")}


def titles(answer: dict[str, Any]) -> list[str]:
    assert not answer.get("errors"), answer
    return [n["title"] for n in answer["data"]["articles"]["nodes"]]


def test_a_client_reads_public_articles_and_its_plans_and_nothing_else(
        client: TestClient[Any], world: dict[str, Any]) -> None:
    alice, bob, wait = world["alice"], world["bob"], world["wait"]
    assert titles(post_gql(client, SEARCH, alice, text="password", wait=wait)) == [
        "Resetting your password"]
    assert titles(post_gql(client, SEARCH, alice, wait=wait)) == ["Resetting your password"]
    assert titles(post_gql(client, SEARCH, alice, text="Rechnung")) == []
    assert titles(post_gql(client, SEARCH, bob, text="Rechnung")) == [
        "Rechnungen herunterladen"]
    for hidden in (world["internal"], world["plan_only"]):
        unknown = str(uuid4())
        answer = post_gql(client, ARTICLE, alice, id=hidden)
        missing = post_gql(client, ARTICLE, alice, id=unknown)
        assert codes(answer) == ["NOT_FOUND"]
        assert json.dumps(answer).replace(hidden, "?") == json.dumps(missing).replace(
            unknown, "?")
        vote = post_gql(client, "mutation($id: UUID!) { voteArticle(articleId: $id, "
                                "helpful: true) { notificationId } }", alice, id=hidden)
        assert codes(vote) == ["NOT_FOUND"]


def test_staff_search_everything_and_page_through_results(staff: GraphQL,
                                                          world: dict[str, Any]) -> None:
    gql = staff
    found = gql(SEARCH, text="password reset", wait=world["wait"])["articles"]
    assert {n["title"] for n in found["nodes"]} == {"Resetting your password",
                                                   "Password resets by hand"}
    first = gql(SEARCH, text="password reset", first=1)["articles"]
    rest = gql(SEARCH, text="password reset", first=1,
               after=first["pageInfo"]["endCursor"])["articles"]
    assert first["pageInfo"]["hasNextPage"]
    assert not rest["pageInfo"]["hasNextPage"]
    assert {first["nodes"][0]["title"], rest["nodes"][0]["title"]} == {
        n["title"] for n in found["nodes"]}


def test_a_vote_counts_once_per_reader(client: TestClient[Any], world: dict[str, Any]) -> None:
    vote = ("mutation($id: UUID!, $helpful: Boolean!) { voteArticle(articleId: $id, "
            "helpful: $helpful) { notificationId duplicate } }")
    # A reader votes on an article it has read: the views hold the publication by then.
    post_gql(client, SEARCH, world["alice"], text="password", wait=world["wait"])
    first = post_gql(client, vote, world["alice"], id=world["public"], helpful=True)
    assert not first.get("errors"), first
    again = post_gql(client, vote, world["alice"], id=world["public"], helpful=True)
    assert not again.get("errors"), again
    assert again["data"]["voteArticle"]["duplicate"]
    last = post_gql(client, vote, world["bob"], id=world["public"], helpful=True)
    wait = last["data"]["voteArticle"]["notificationId"]
    answer = post_gql(client, SEARCH, world["alice"], text="password", wait=wait)
    assert answer["data"]["articles"]["nodes"][0]["helpful"] == 2


def test_suggestions_for_an_agent_on_a_case_and_for_a_client_before_asking(
        client: TestClient[Any], runtime: Runtime, world: dict[str, Any]) -> None:
    case = runtime.desk.open_case(account_id=world["alpha"], channel="email",
                                  subject="Locked out", text="I cannot log in; how do I reset "
                                  "my password?", actor="staff:ann")
    wait = case.notification_id
    agent_view = post_gql(client, """query($id: UUID!, $wait: Int) {
        suggestedArticles(caseId: $id, waitFor: $wait) { title } }""", world["agent"],
                          id=str(case.ids["caseId"]), wait=wait)
    assert {a["title"] for a in agent_view["data"]["suggestedArticles"]} == {
        "Resetting your password", "Password resets by hand"}
    before_asking = post_gql(client, """query($text: String!) { suggestArticles(text: $text) {
        title } }""", world["alice"], text="Our team forgot the password, please help")
    assert [a["title"] for a in before_asking["data"]["suggestArticles"]] == [
        "Resetting your password"]
    refused = post_gql(client, """query($id: UUID!) { suggestedArticles(caseId: $id) {
        title } }""", world["alice"], id=str(case.ids["caseId"]))
    assert codes(refused) == ["FORBIDDEN"]


def test_candidates_are_the_top_topics_no_article_covers(staff: GraphQL, runtime: Runtime,
                                                         world: dict[str, Any]) -> None:
    desk = runtime.desk
    last = 0
    for topic, count in (("Login", 3), ("Exports", 2), ("Billing", 1), ("Mobile app", 1)):
        for n in range(count):
            last = desk.open_case(account_id=UUID(str(world["alpha"])), channel="email",
                                  subject=f"{topic} {n}", text="help", topic=topic,
                                  actor="staff:ann").notification_id
    candidates = staff("""query($wait: Int) { articleCandidates(months: 3, waitFor: $wait) {
        topic opened } }""", wait=last)["articleCandidates"]
    # Login and Billing have published articles (Billing's is for one plan: still covered).
    assert candidates == [{"topic": "Exports", "opened": 2}, {"topic": "Mobile app",
                                                              "opened": 1}]
