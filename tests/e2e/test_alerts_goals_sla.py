"""Time-driven reactors and the manager's follow-up, through GraphQL: the SLA clock records
breaches at their due instants, health alerts reach the manager and are acknowledged and
resolved, and goals show their progress."""

from __future__ import annotations

from typing import Any

import pytest

from api.runtime import Runtime
from tests.conftest import GraphQL, GraphQLError

pytestmark = pytest.mark.e2e


def _account(gql: GraphQL, tier: str = "VIP") -> str:
    data = gql(f"""mutation {{ openAccount(input: {{name: "Umbrella", tier: {tier},
        manager: "Chloe Martin", occurredAt: "2026-01-05T09:00:00Z"}}) {{ accountId }} }}""")
    account = data["openAccount"]["accountId"]
    gql("""mutation($id: UUID!) { recordRevenue(accountId: $id, period: "2026-01",
        mrr: "20000.00", currency: "EUR", occurredAt: "2026-01-05T09:00:00Z")
        { notificationId } }""", id=account)
    return account


def _run(runtime: Runtime, name: str) -> int:
    reactor = next(r for r in runtime.reactors if r.name == name)
    return reactor.round()


CASE = """query($id: UUID!, $wait: Int) { case(id: $id, waitFor: $wait) {
  firstResponseDue resolutionDue priority } }"""


def test_the_sla_clock_records_a_breach_once_at_its_due_time(gql, runtime):
    account = _account(gql)
    opened = gql("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Down", text: "Nothing loads", priority: URGENT,
        occurredAt: "2026-03-02T07:00:00Z"}) { caseId notificationId } }""",
                 id=account)["openCase"]
    gql(CASE, id=opened["caseId"], wait=opened["notificationId"])

    assert _run(runtime, "sla-clock") == 1
    assert _run(runtime, "sla-clock") == 0, "a breach is recorded once"

    breaches = [n for n in runtime.desk.recorder.select_notifications(start=1, limit=10_000)
                if n.topic == "carelog:Case.SlaBreached"]
    kinds = sorted(runtime.desk.mapper.to_domain_event(n).kind for n in breaches)
    assert kinds == ["first_response"], "VIP urgent: 30 min to answer, 4 h to resolve"


def test_waiting_on_the_client_and_a_new_priority_move_the_due_times(gql, runtime):
    account = _account(gql)
    case = gql("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Slow", text: "Reports are slow", priority: LOW,
        occurredAt: "2026-03-02T08:00:00Z"}) { caseId } }""", id=account)["openCase"]["caseId"]

    changed = gql("""mutation($id: UUID!) { changePriority(caseId: $id, priority: HIGH)
        { notificationId } }""", id=case)["changePriority"]
    seen = gql(CASE, id=case, wait=changed["notificationId"])["case"]
    assert seen["priority"] == "HIGH"
    assert seen["firstResponseDue"] == "2026-03-02T09:00:00+00:00", "1 h from the opening"
    waiting = gql("""mutation($id: UUID!) { waitOnClient(caseId: $id, reason: "logs?")
        { notificationId } }""", id=case)["waitOnClient"]
    gql(CASE, id=case, wait=waiting["notificationId"])
    with pytest.raises(GraphQLError) as refused:
        gql("""mutation($id: UUID!) { waitOnClient(caseId: $id) { notificationId } }""",
            id=case)
    assert refused.value.codes == ["INVALID_STATE"]


def _alerts(gql: GraphQL, wait: int | None = None, **filters: Any) -> list[dict[str, Any]]:
    data = gql("""query($wait: Int, $status: [AlertStatus!]) { alerts(waitFor: $wait,
        status: $status) { edges { node { id kind status day bandBefore bandAfter scoreAfter
        manager drivers { key evidence } acknowledgedBy resolvedBy note } } } }""",
               wait=wait, **filters)
    return [e["node"] for e in data["alerts"]["edges"]]


def test_a_band_drop_alerts_the_manager_who_acknowledges_and_resolves_it(gql, runtime):
    account = _account(gql)
    for day in range(10, 28):  # a healthy month: meetings, usage
        gql(f"""mutation($id: UUID!) {{ logTouchpoint(accountId: $id, kind: CALL,
            twoWay: true, occurredAt: "2026-02-{day:02d}T10:00:00Z") {{ notificationId }} }}""",
            id=account)
    gql("""mutation($id: UUID!) { reportUsage(accountId: $id, activeUsers: 45,
        licensedSeats: 50, occurredAt: "2026-02-20T10:00:00Z") { notificationId } }""",
        id=account)
    risk = gql("""mutation($id: UUID!) { setRenewalRisk(accountId: $id, level: CHURN_NOTICE,
        occurredAt: "2026-02-28T10:00:00Z") { notificationId } }""", id=account)
    last = gql("""mutation($id: UUID!) { logTouchpoint(accountId: $id, kind: CALL,
        twoWay: true, occurredAt: "2026-03-02T08:00:00Z") { notificationId } }""", id=account)
    assert last["logTouchpoint"]["notificationId"] > risk["setRenewalRisk"]["notificationId"]
    gql("query($wait: Int) { accounts(first: 1, waitFor: $wait) { edges { cursor } } }",
        wait=last["logTouchpoint"]["notificationId"])

    assert _run(runtime, "health-alerts") >= 1
    assert _run(runtime, "health-alerts") == 0, "raised once"
    (alert,) = [a for a in _alerts(gql, wait=runtime.desk.recorder.max_notification_id())
                if a["kind"] == "BAND_DROPPED"]
    assert (alert["bandAfter"], alert["day"], alert["manager"]) == (
        "RED", "2026-02-28", "Chloe Martin")
    assert alert["scoreAfter"] <= 49
    assert alert["drivers"], "the drivers behind the fall come with it"

    ack = gql("""mutation($id: UUID!) { acknowledgeAlert(alertId: $id, note: "calling CFO")
        { notificationId } }""", id=alert["id"])["acknowledgeAlert"]
    (open_,) = _alerts(gql, wait=ack["notificationId"], status=["ACKNOWLEDGED"])
    assert (open_["acknowledgedBy"], open_["note"]) == ("staff:dev-admin", "calling CFO")
    done = gql("""mutation($id: UUID!) { resolveAlert(alertId: $id) { notificationId } }""",
               id=alert["id"])["resolveAlert"]
    assert [a["status"] for a in _alerts(gql, wait=done["notificationId"],
                                         status=["RESOLVED"])] == ["RESOLVED"]
    with pytest.raises(GraphQLError) as refused:
        gql("""mutation($id: UUID!) { resolveAlert(alertId: $id) { notificationId } }""",
            id=alert["id"])
    assert refused.value.codes == ["INVALID_STATE"]


def test_goals_show_their_metric_now_and_their_progress(gql):
    _account(gql)
    made = gql("""mutation { setGoal(title: "Keep what we have", metric: GRR,
        target: "0.95", deadline: "2026-12-31") { goalId notificationId } }""")["setGoal"]

    (goal,) = gql("""query($wait: Int) { goals(waitFor: $wait) { id title metric target
        current progress onTrack owner } }""", wait=made["notificationId"])["goals"]

    assert (goal["id"], goal["metric"], goal["target"]) == (made["goalId"], "GRR", "0.95")
    assert goal["owner"] == "dev-admin"
    with pytest.raises(GraphQLError) as refused:
        gql("""mutation { setGoal(title: "Nonsense", metric: GRR, target: "95",
            deadline: "2026-12-31") { goalId } }""")
    assert refused.value.codes == ["INVALID_INPUT"]
