"""Support metrics through GraphQL: cases and NPS answers made with mutations, then reported."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQL, GraphQLError

pytestmark = pytest.mark.e2e

FIGURES = ("periodStart opened resolved firstResponses firstResponseMedianSeconds "
           "firstResponseMeanSeconds firstResponseP90Seconds resolutionMedianSeconds "
           "resolutionMeanSeconds resolutionP90Seconds repliesToResolutionMean reopenRate csat "
           "csatResponses nps npsResponses slaAttainment slaTargets slaTargetsMet")

METRICS = f"""
query($groupBy: [MetricDimension!], $period: PeriodGrain, $from: DateTime, $to: DateTime,
      $filter: MetricFilter, $wait: Int) {{
  supportMetrics(groupBy: $groupBy, period: $period, from: $from, to: $to, filter: $filter,
                 waitFor: $wait) {{ channel agent line accountId priority topic {FIGURES} }}
}}"""


def mutate(gql: GraphQL, name: str, arguments: str, **variables: Any) -> dict[str, Any]:
    declared = ", ".join(f"${k}: {'UUID!' if k.endswith('id') else 'String!'}"
                         for k in variables)
    head = f"mutation({declared})" if variables else "mutation"
    return dict(gql(f"{head} {{ {name}({arguments}) {{ notificationId accountId caseId "
                    f"duplicate surveyResponseId contactId }} }}", **variables)[name])


@pytest.fixture
def history(gql: GraphQL) -> dict[str, Any]:
    """A VIP account with three February cases and three NPS answers (see the figures)."""
    account_id = mutate(gql, "openAccount", 'input: {name: "Globex", tier: VIP, '
                         'manager: "Anna", occurredAt: "2026-01-05T09:00:00Z"}')["accountId"]
    contacts = [mutate(gql, "addContact", f'accountId: $id, name: "{n}", email: '
                       f'"{n}@globex.example", occurredAt: "2026-01-06T09:00:00Z"',
                       id=account_id)["contactId"] for n in ("raj", "mei")]

    def case(channel: str, priority: str, topic: str, opened: str) -> str:
        made = mutate(gql, "openCase", f'input: {{accountId: $id, channel: {channel}, '
                      f'subject: "Help", text: "Broken", priority: {priority}, topic: "{topic}", '
                      f'occurredAt: "{opened}"}}', id=account_id)
        return str(made["caseId"])

    def act(name: str, case_id: str, arguments: str) -> dict[str, Any]:
        return mutate(gql, name, f"caseId: $id, {arguments}", id=case_id)

    # Email, high (VIP: first response 1 h, resolution 8 h): answered in 10 min, resolved in 2 h
    # after two replies, rated 2 then 5; met both targets.
    a = case("EMAIL", "HIGH", "login", "2026-02-02T09:00:00Z")
    act("replyToCase", a, 'text: "On it", occurredAt: "2026-02-02T09:10:00Z"')
    act("replyToCase", a, 'text: "Try now", occurredAt: "2026-02-02T10:00:00Z"')
    act("resolveCase", a, 'occurredAt: "2026-02-02T11:00:00Z"')
    act("rateCase", a, 'csat: 2, occurredAt: "2026-02-02T12:00:00Z"')
    act("rateCase", a, 'csat: 5, occurredAt: "2026-02-02T13:00:00Z"')
    # Email, low (4 h / 48 h): answered in 5 h (breached), resolved in 30 h, reopened.
    b = case("EMAIL", "LOW", "billing", "2026-02-03T08:00:00Z")
    act("replyToCase", b, 'text: "Sorry for the wait", occurredAt: "2026-02-03T13:00:00Z"')
    act("resolveCase", b, 'occurredAt: "2026-02-04T14:00:00Z"')
    act("reopenCase", b, 'reason: "Still wrong", occurredAt: "2026-02-05T09:00:00Z"')
    # Portal, urgent (30 min / 4 h): answered in 20 min, still open.
    c = case("PORTAL", "URGENT", "login", "2026-02-10T09:00:00Z")
    last = act("replyToCase", c, 'text: "Calling you", occurredAt: "2026-02-10T09:20:00Z"')

    raj, mei = contacts
    nps = 'accountId: $id, contactId: $cid, score: {}, survey: "{}", occurredAt: "{}"'
    for contact, score, survey, at in ((raj, 3, "2026-02-a", "2026-02-11T09:00:00Z"),
                                       (raj, 10, "2026-02-b", "2026-02-20T09:00:00Z"),
                                       (mei, 6, "2026-02-a", "2026-02-12T09:00:00Z")):
        last = mutate(gql, "recordNps", nps.format(score, survey, at), id=account_id,
                      cid=contact)
    return {"account": account_id, "contacts": contacts, "wait": last["notificationId"]}


def metrics(gql: GraphQL, wait: int, **variables: Any) -> list[dict[str, Any]]:
    return list(gql(METRICS, wait=wait, **variables)["supportMetrics"])


def test_a_month_by_channel_from_the_rollups(gql: GraphQL, history: dict[str, Any]) -> None:
    rows = metrics(gql, history["wait"], groupBy=["CHANNEL"], period="MONTH",
                   **{"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"})

    email, portal = rows
    assert (email["channel"], email["periodStart"], email["agent"]) == ("EMAIL", "2026-02-01",
                                                                        None)
    assert (email["opened"], email["resolved"], email["firstResponses"]) == (2, 2, 2)
    assert email["firstResponseMedianSeconds"] == (600 + 18000) / 2
    assert email["firstResponseMeanSeconds"] == 9300
    assert email["firstResponseP90Seconds"] == pytest.approx(600 + 0.9 * 17400)
    assert email["resolutionMedianSeconds"] == (7200 + 108000) / 2
    assert email["repliesToResolutionMean"] == 1.5
    assert email["reopenRate"] == 0.5
    assert (email["csat"], email["csatResponses"]) == (1.0, 1)
    # High: 3 + 3 met; low: first response breached (1), resolution met (1).
    assert (email["slaTargets"], email["slaTargetsMet"]) == (4, 3)
    assert email["slaAttainment"] == pytest.approx(7 / 8)
    assert (email["nps"], email["npsResponses"]) == (None, 0), "NPS is not by channel"
    assert (portal["channel"], portal["opened"], portal["resolved"]) == ("PORTAL", 1, 0)
    assert portal["firstResponseMedianSeconds"] == 1200
    assert portal["resolutionMedianSeconds"] is None
    assert portal["reopenRate"] is None
    assert portal["csat"] is None
    assert (portal["slaAttainment"], portal["slaTargets"]) == (1.0, 1)


def test_the_whole_range_with_nps_and_a_filtered_report(gql: GraphQL,
                                                        history: dict[str, Any]) -> None:
    [total] = metrics(gql, history["wait"])
    assert (total["opened"], total["resolved"], total["periodStart"]) == (3, 2, None)
    assert total["firstResponseMedianSeconds"] == 1200
    # Latest answer per contact: raj 10 (promoter), mei 6 (detractor).
    assert (total["nps"], total["npsResponses"]) == (0.0, 2)

    [by_account] = metrics(gql, history["wait"], groupBy=["ACCOUNT"], period="MONTH")
    assert by_account["accountId"] == history["account"]
    assert (by_account["nps"], by_account["npsResponses"]) == (0.0, 2)

    # Filters are answered from the case rows: the same numbers as the rollups.
    filtered = metrics(gql, history["wait"], groupBy=["PRIORITY", "TOPIC"],
                       filter={"channel": "EMAIL"})
    assert [(r["priority"], r["topic"], r["opened"]) for r in filtered] == [
        ("HIGH", "login", 1), ("LOW", "billing", 1)]
    weekly = metrics(gql, history["wait"], period="WEEK",
                     filter={"accountId": history["account"]})
    assert [(r["periodStart"], r["opened"]) for r in weekly] == [
        ("2026-02-02", 2), ("2026-02-09", 1), ("2026-02-16", 0)]
    # Each week has its own latest answers: raj 3 and mei 6, then raj 10.
    assert [(r["nps"], r["npsResponses"]) for r in weekly] == [
        (None, 0), (-100.0, 2), (100.0, 1)]
    assert weekly[0]["slaAttainment"] == pytest.approx(7 / 8)


def test_top_topics_count_opened_cases(gql: GraphQL, history: dict[str, Any]) -> None:
    top = gql("""query($wait: Int) { topTopics(from: "2026-02-01T00:00:00Z",
        to: "2026-03-01T00:00:00Z", first: 5, waitFor: $wait) { topic opened } }""",
              wait=history["wait"])["topTopics"]
    assert top == [{"topic": "login", "opened": 2}, {"topic": "billing", "opened": 1}]
    first = gql('{ topTopics(from: "2026-02-09T10:00:00Z", first: 1) { topic opened } }')
    assert first["topTopics"] == [{"topic": "login", "opened": 1}]


def test_an_nps_answer_delivered_twice_is_a_duplicate(gql: GraphQL,
                                                       history: dict[str, Any]) -> None:
    arguments = ('accountId: $id, contactId: $cid, score: 10, survey: "2026-02-b", '
                 'occurredAt: "2026-02-20T09:00:00Z"')
    again = mutate(gql, "recordNps", arguments, id=history["account"],
                   cid=history["contacts"][0])
    assert again["duplicate"] is True
    assert again["surveyResponseId"]


@pytest.mark.parametrize(("query", "code"), [
    ('{ supportMetrics(from: "2026-03-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { opened } }',
     "INVALID_INPUT"),
    ("{ supportMetrics(groupBy: [COLOUR]) { opened } }", "GRAPHQL_VALIDATION_FAILED"),
    ("{ supportMetrics(groupBy: [AGENT, AGENT]) { opened } }", "INVALID_INPUT"),
    ("{ supportMetrics(period: YEAR) { opened } }", "GRAPHQL_VALIDATION_FAILED"),
    ('{ supportMetrics(from: "2026-02-01T00:00:00") { opened } }', "INVALID_INPUT"),
    ("{ topTopics(first: 0) { topic } }", "INVALID_INPUT"),
    ("{ topTopics(first: 201) { topic } }", "INVALID_INPUT"),
    ('mutation { recordNps(accountId: "00000000-0000-0000-0000-000000000000", '
     'contactId: "00000000-0000-0000-0000-000000000000", score: 9, survey: "s") '
     "{ notificationId } }", "NOT_FOUND"),
])
def test_bad_input_gets_a_clear_error(gql: GraphQL, query: str, code: str) -> None:
    with pytest.raises(GraphQLError) as refused:
        gql(query)
    assert refused.value.codes == [code]
    assert refused.value.errors[0]["message"] != "Internal server error"


def test_an_nps_score_out_of_range_is_refused(gql: GraphQL, history: dict[str, Any]) -> None:
    with pytest.raises(GraphQLError) as refused:
        mutate(gql, "recordNps", 'accountId: $id, contactId: $cid, score: 11, survey: "s"',
               id=history["account"], cid=history["contacts"][1])
    assert refused.value.codes == ["INVALID_INPUT"]
    assert "0 to 10" in refused.value.errors[0]["message"]

