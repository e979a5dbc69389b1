"""Through HTTP and GraphQL, as a dashboard would: write with mutations, read with `waitFor`."""

from __future__ import annotations

from typing import Any

import pytest

from domain.service_plans import plan_for
from domain.values import Tier
from tests.conftest import GraphQL, GraphQLError

pytestmark = pytest.mark.e2e

RESULT = "notificationId version duplicate accountId caseId interactionId contactId"

OPEN_ACCOUNT = f"""
mutation($name: String!, $tier: Tier!, $ref: String) {{
  openAccount(input: {{name: $name, tier: $tier, manager: "Anna Berg", currency: "EUR",
                       externalRef: $ref, occurredAt: "2026-01-05T09:00:00Z"}}) {{ {RESULT} }}
}}"""

OPEN_CASE = f"""
mutation($input: OpenCaseInput!) {{ openCase(input: $input) {{ {RESULT} }} }}"""

CASE = """
query($id: UUID!, $wait: Int) {
  case(id: $id, waitFor: $wait) {
    id status channel priority line department escalated escalationReason assignee
    replyCount reopenedCount csat csatComment firstResponseAt firstResponseSeconds
    resolvedAt closedAt version firstResponseBreached resolutionBreached
    account { name }
    interactions { channel direction sender text channelAllowed }
  }
}"""


def open_account(gql: GraphQL, name: str = "Globex Energy", tier: str = "VIP",
                 ref: str | None = None) -> dict[str, Any]:
    return gql(OPEN_ACCOUNT, name=name, tier=tier, ref=ref)["openAccount"]


def open_case(gql: GraphQL, account_id: str, channel: str, **extra: Any) -> dict[str, Any]:
    case_input = {"accountId": account_id, "channel": channel, "subject": f"Help via {channel}",
                  "text": "Our export stopped at 02:00.", "occurredAt": "2026-03-01T08:00:00Z",
                  **extra}
    return gql(OPEN_CASE, input=case_input)["openCase"]


def test_a_case_on_every_channel_from_opening_to_rating(gql: GraphQL) -> None:
    account = open_account(gql)
    account_id = account["accountId"]
    contact = gql("""mutation($id: UUID!) { addContact(accountId: $id, name: "Raj Chen",
        email: "raj@globex.example", role: CHAMPION, occurredAt: "2026-01-06T09:00:00Z")
        { contactId notificationId } }""", id=account_id)["addContact"]
    gql("""mutation($id: UUID!) { recordRevenue(accountId: $id, period: "2026-02",
        mrr: "12500.00", currency: "EUR", occurredAt: "2026-02-01T06:00:00Z")
        { notificationId } }""", id=account_id)

    channels = [c.name for c in plan_for(Tier.VIP).channels]
    assert len(channels) == 7
    for n, channel in enumerate(sorted(channels)):
        made = open_case(gql, account_id, channel, contactId=contact["contactId"],
                         sender="Raj Chen", externalMessageId=f"{channel}-{n}", priority="HIGH")
        case_id = made["caseId"]
        steps = [
            ("assignCase", 'agent: "ivy", occurredAt: "2026-03-01T08:05:00Z"'),
            ("replyToCase", 'text: "Looking at it now.", occurredAt: "2026-03-01T08:20:00Z"'),
            ("escalateCase", 'reason: "Needs engineering", department: "engineering", '
                             'occurredAt: "2026-03-01T09:00:00Z"'),
            ("resolveEscalation", 'note: "Job restarted", occurredAt: "2026-03-01T11:00:00Z"'),
            ("resolveCase", 'resolution: "Export runs again", occurredAt: "2026-03-01T11:30:00Z"'),
            ("rateCase", 'csat: 5, comment: "Quick!", occurredAt: "2026-03-01T12:00:00Z"'),
            ("closeCase", 'occurredAt: "2026-03-02T08:00:00Z"'),
        ]
        last = made
        for mutation, arguments in steps:
            last = gql(f"mutation($id: UUID!) {{ {mutation}(caseId: $id, {arguments}) "
                       f"{{ {RESULT} }} }}", id=case_id)[mutation]
            assert last["caseId"] == case_id
        case = gql(CASE, id=case_id, wait=last["notificationId"])["case"]
        assert case["status"] == "CLOSED"
        assert case["channel"] == channel
        assert case["assignee"] == "ivy"
        assert case["department"] == "engineering"
        assert case["escalated"] is False
        assert case["escalationReason"] == "Needs engineering"
        assert case["replyCount"] == 1
        assert case["firstResponseSeconds"] == 20 * 60
        assert case["csat"] == 5
        assert case["csatComment"] == "Quick!"
        assert case["version"] == 8
        assert case["account"]["name"] == "Globex Energy"
        assert case["firstResponseBreached"] is False  # VIP high: 1 hour
        assert [(i["direction"], i["channel"]) for i in case["interactions"]] == [
            ("INBOUND", channel), ("OUTBOUND", channel)]
        assert case["interactions"][0]["sender"] == "Raj Chen"

    data = gql("""query($id: UUID!, $wait: Int) { account(id: $id, waitFor: $wait) {
        name tier arr { amount currency } mrr { amount } rank isKeyAccount contactsCount
        contacts { name email role } revenue { period mrr { amount } }
        cases(first: 50) { nodes { status } pageInfo { hasNextPage } } } }""",
               id=account_id, wait=last["notificationId"])["account"]
    assert data["arr"] == {"amount": "150000.00", "currency": "EUR"}
    assert data["rank"] == 1
    assert data["isKeyAccount"] is True
    assert data["contacts"] == [{"name": "Raj Chen", "email": "raj@globex.example",
                                 "role": "CHAMPION"}]
    assert data["revenue"] == [{"period": "2026-02", "mrr": {"amount": "12500.00"}}]
    assert [c["status"] for c in data["cases"]["nodes"]] == ["CLOSED"] * 7


def test_a_channel_outside_the_plan_is_recorded_and_refused_with_the_allowed_channels(
        gql: GraphQL) -> None:
    account_id = open_account(gql, "Small Shop", "STANDARD")["accountId"]
    with pytest.raises(GraphQLError) as refused:
        open_case(gql, account_id, "TELEGRAM", externalMessageId="tg-1")
    error = refused.value.errors[0]
    assert error["extensions"]["code"] == "CHANNEL_NOT_ALLOWED"
    assert error["extensions"]["allowedChannels"] == ["email", "portal", "web_form", "api"]
    assert "does not include telegram" in error["message"]
    # Nothing is lost: the message is in the log and visible on the account's thread.
    wait = error["extensions"]["notificationId"]
    interaction_id = error["extensions"]["interactionId"]
    assert wait > 0
    assert interaction_id
    cases = gql("""query($id: UUID!, $wait: Int) { cases(filter: {accountId: $id},
        waitFor: $wait) { nodes { id } } }""", id=account_id, wait=wait)["cases"]
    assert cases["nodes"] == []


def test_a_redelivered_message_is_answered_as_a_duplicate(gql: GraphQL) -> None:
    account_id = open_account(gql)["accountId"]
    first = open_case(gql, account_id, "EMAIL", externalMessageId="<m1@globex.example>")
    again = open_case(gql, account_id, "EMAIL", externalMessageId="<m1@globex.example>")
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    assert again["caseId"] == first["caseId"]
    assert again["interactionId"] == first["interactionId"]
    cases = gql("""query($id: UUID!, $wait: Int) { cases(filter: {accountId: $id},
        waitFor: $wait) { nodes { id interactions { id } } } }""",
                id=account_id, wait=again["notificationId"])["cases"]["nodes"]
    assert len(cases) == 1
    assert len(cases[0]["interactions"]) == 1


def test_a_stale_version_gets_the_conflict_code(gql: GraphQL) -> None:
    account_id = open_account(gql)["accountId"]
    made = open_case(gql, account_id, "PORTAL")
    case_id = made["caseId"]
    version = gql(CASE, id=case_id, wait=made["notificationId"])["case"]["version"]
    assert version == 1
    gql('mutation($id: UUID!, $v: Int) { assignCase(caseId: $id, agent: "ivy", '
        'expectedVersion: $v) { version } }', id=case_id, v=version)
    with pytest.raises(GraphQLError) as conflict:
        gql('mutation($id: UUID!, $v: Int) { assignCase(caseId: $id, agent: "jonas", '
            'expectedVersion: $v) { version } }', id=case_id, v=version)
    assert conflict.value.codes == ["VERSION_CONFLICT"]
    assert "reload" in conflict.value.errors[0]["message"]


@pytest.mark.parametrize(("mutation", "code"), [
    ('openAccount(input: {name: "  ", tier: VIP, manager: "A"})', "INVALID_INPUT"),
    ('openAccount(input: {name: "A", tier: VIP, manager: "A", currency: "XYZ"})',
     "INVALID_INPUT"),
    ('recordRevenue(accountId: "$ACCOUNT", period: "2026-02", mrr: "-1", currency: "EUR")',
     "INVALID_INPUT"),
    ('recordRevenue(accountId: "$ACCOUNT", period: "Feb 2026", mrr: "1", currency: "EUR")',
     "INVALID_INPUT"),
    ('openCase(input: {accountId: "$ACCOUNT", channel: EMAIL, subject: "Hi", text: ""})',
     "INVALID_INPUT"),
    ('openCase(input: {accountId: "$ACCOUNT", channel: EMAIL, subject: "Hi", text: "$HUGE"})',
     "INVALID_INPUT"),
    ('openCase(input: {accountId: "$ACCOUNT", channel: FAX, subject: "Hi", text: "x"})',
     "GRAPHQL_VALIDATION_FAILED"),
    ('openCase(input: {accountId: "00000000-0000-0000-0000-000000000000", channel: EMAIL, '
     'subject: "Hi", text: "x"})', "NOT_FOUND"),
    ('replyToCase(caseId: "00000000-0000-0000-0000-000000000000", text: "x")', "NOT_FOUND"),
    ('replyToCase(caseId: "$ACCOUNT", text: "an account id is not a case")', "NOT_FOUND"),
    ('openAccount(input: {name: "A", tier: VIP, manager: "A", '
     'occurredAt: "2030-01-01T00:00:00Z"})', "INVALID_INPUT"),
    ('openAccount(input: {name: "A", tier: VIP, manager: "A", '
     'occurredAt: "2026-01-01T00:00:00"})', "INVALID_INPUT"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(gql: GraphQL, client: Any,
                                                       mutation: str, code: str) -> None:
    account_id = open_account(gql)["accountId"]
    head = client.app.state.runtime.desk.recorder.max_notification_id()
    text = (mutation.replace("$ACCOUNT", account_id).replace("$HUGE", "x" * 40_000))
    with pytest.raises(GraphQLError) as refused:
        gql(f"mutation {{ {text} {{ notificationId }} }}")
    assert refused.value.codes == [code]
    message = refused.value.errors[0]["message"]
    assert "Traceback" not in message
    assert message != "Internal server error"
    assert client.app.state.runtime.desk.recorder.max_notification_id() == head


def test_accounts_are_paged_by_arr_with_keyset_cursors(gql: GraphQL) -> None:
    last = None
    for n in range(7):
        account_id = open_account(gql, f"Company {n}", "BUSINESS")["accountId"]
        last = gql(f"""mutation($id: UUID!) {{ recordRevenue(accountId: $id, period: "2026-02",
            mrr: "{1000 + 100 * (n % 4)}", currency: "EUR") {{ notificationId }} }}""",
                   id=account_id)["recordRevenue"]
    assert last is not None
    seen: list[tuple[str, int]] = []
    after = None
    while True:
        page = gql("""query($after: String, $wait: Int) { accounts(first: 3, after: $after,
            waitFor: $wait) { edges { cursor node { name arr { amount } rank } }
            pageInfo { hasNextPage endCursor } } }""", after=after,
                   wait=last["notificationId"])["accounts"]
        seen += [(e["node"]["arr"]["amount"], e["node"]["rank"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [rank for _, rank in seen] == list(range(1, 8))
    amounts = [float(a) for a, _ in seen]
    assert amounts == sorted(amounts, reverse=True)
    with pytest.raises(GraphQLError) as forged:
        gql('{ accounts(first: 3, after: "bm90LWEtY3Vyc29y") { edges { cursor } } }')
    assert forged.value.codes == ["INVALID_INPUT"]
    with pytest.raises(GraphQLError) as too_many:
        gql("{ accounts(first: 5000) { edges { cursor } } }")
    assert too_many.value.codes == ["INVALID_INPUT"]


def test_queues_show_open_cases_per_line(gql: GraphQL) -> None:
    account_id = open_account(gql)["accountId"]
    first = open_case(gql, account_id, "EMAIL")
    second = open_case(gql, account_id, "PHONE")
    done = gql('mutation($id: UUID!) { escalateCase(caseId: $id, reason: "Admin rights") '
               '{ notificationId } }', id=second["caseId"])["escalateCase"]
    queues = gql("query($wait: Int) { queues(waitFor: $wait) { line openCount unassigned "
                 "escalated } }", wait=done["notificationId"])["queues"]
    assert queues == [{"line": 1, "openCount": 1, "unassigned": 1, "escalated": 0},
                      {"line": 2, "openCount": 1, "unassigned": 1, "escalated": 1}]
    line2 = gql("{ cases(filter: {line: 2}) { nodes { id } } }")["cases"]["nodes"]
    assert line2 == [{"id": second["caseId"]}]
    assert first["caseId"] != second["caseId"]


def test_errors_never_leak_a_stack_trace(gql: GraphQL) -> None:
    with pytest.raises(GraphQLError) as unknown:
        gql("{ nosuchfield }")
    assert unknown.value.codes == ["GRAPHQL_VALIDATION_FAILED"]
    with pytest.raises(GraphQLError) as deep:
        gql("{ accounts { edges { node { cases { edges { node { account { cases { edges { node"
            " { account { cases { edges { node { id } } } } } } } } } } } } } } }")
    assert "depth" in deep.value.errors[0]["message"]
