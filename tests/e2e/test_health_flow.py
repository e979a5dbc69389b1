"""Key-account health and revenue KPIs through HTTP and GraphQL, as a manager's dashboard
reads them: the portfolio, one account's explanation, KPIs for a period, and as-of answers."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import GraphQL, GraphQLError

pytestmark = pytest.mark.e2e


def _mutate(gql: GraphQL, call: str, **variables: Any) -> dict[str, Any]:
    declared = ", ".join(f"${k}: {t}" for k, t in (
        ("id", "UUID!"), ("contact", "UUID!")) if k in variables)
    data = gql(f"mutation({declared}) {{ result: {call} {{ notificationId accountId "
               f"contactId }} }}", **variables)
    return data["result"]


def _account(gql: GraphQL, name: str, mrr: dict[str, str]) -> str:
    opened = gql(f"""mutation {{ openAccount(input: {{name: "{name}", tier: ENTERPRISE,
        manager: "Anna Berg", occurredAt: "2025-10-01T09:00:00Z"}}) {{ accountId }} }}""")
    account = opened["openAccount"]["accountId"]
    for period, amount in mrr.items():
        _mutate(gql, f'recordRevenue(accountId: $id, period: "{period}", mrr: "{amount}", '
                     f'currency: "EUR", occurredAt: "{period}-01T06:00:00Z")', id=account)
    return account


@pytest.fixture
def book(gql: GraphQL) -> dict[str, Any]:
    """Three accounts: Acme grows, Birch churns, Cedar is new; Acme's renewal is at risk."""
    acme = _account(gql, "Acme", {"2025-11": "10000.00", "2026-02": "12000.00"})
    birch = _account(gql, "Birch", {"2025-11": "5000.00"})
    cedar = _account(gql, "Cedar", {"2026-02": "3000.00"})
    _mutate(gql, 'churnAccount(accountId: $id, reason: "budget", '
                 'occurredAt: "2026-02-10T09:00:00Z")', id=birch)
    sponsor = _mutate(gql, 'addContact(accountId: $id, name: "Eve Ceo", email: '
                           '"eve@acme.example", role: EXECUTIVE_SPONSOR, '
                           'occurredAt: "2025-10-02T09:00:00Z")', id=acme)["contactId"]
    _mutate(gql, 'reportUsage(accountId: $id, activeUsers: 31, licensedSeats: 50, '
                 'occurredAt: "2026-02-20T09:00:00Z")', id=acme)
    _mutate(gql, 'logTouchpoint(accountId: $id, kind: MEETING, twoWay: true, '
                 'contactIds: [$contact], occurredAt: "2026-02-25T09:00:00Z")',
            id=acme, contact=sponsor)
    gql("""mutation($id: UUID!) { openCase(input: {accountId: $id, channel: EMAIL,
        subject: "Export", text: "Stuck", occurredAt: "2026-02-16T09:00:00Z"}) { caseId } }""",
        id=acme)
    risk = _mutate(gql, 'setRenewalRisk(accountId: $id, level: AT_RISK, note: "budget cut", '
                        'occurredAt: "2026-03-01T09:00:00Z")', id=acme)
    return {"acme": acme, "birch": birch, "cedar": cedar, "risk": risk}


PORTFOLIO = """query($wait: Int, $asOf: DateTime) { portfolio(top: 10, waitFor: $wait,
  asOf: $asOf) { rank accountId name owner score band confirmedBand trend
  revenueAtRisk { amount } arr { amount } } }"""

HEALTH = """query($id: UUID!, $asOf: DateTime) { account(id: $id, asOf: $asOf) { name
  health { score band confirmedBand coverage provisional modelVersion
    components { key score contribution pointsLost subMetrics { key raw score evidence } }
    drivers { key pointsLost evidence }
    gates { key cap evidence actor binding }
    changeSinceWeekAgo { valueDelta scoreDelta gateEffect roundingEffect
      components { key scoreEffect renormalisationEffect } }
    history(days: 200) { day score confirmedBand } }
  kpis { arr { amount } arrYearAgo { amount } movement }
  metrics(period: MONTH) { periodStart opened } } }"""


def test_the_portfolio_ranks_by_arr_and_shows_red_revenue_at_risk(gql, book):
    entries = gql(PORTFOLIO, wait=book["risk"]["notificationId"])["portfolio"]

    assert [e["name"] for e in entries] == ["Acme", "Cedar"], "a churned account is not ranked"
    acme = entries[0]
    assert acme["rank"] == 1
    assert acme["owner"] == "Anna Berg"
    assert acme["arr"]["amount"] == "144000.00"
    assert acme["score"] <= 49
    assert acme["confirmedBand"] == "RED", "a gate confirms a band at once"
    assert acme["revenueAtRisk"]["amount"] == "144000.00"
    assert entries[1]["revenueAtRisk"]["amount"] == "0.00"


def test_an_account_explains_its_score_with_the_events_behind_it(gql, book):
    gql(PORTFOLIO, wait=book["risk"]["notificationId"])

    account = gql(HEALTH, id=book["acme"])["account"]
    health = account["health"]

    (gate,) = [g for g in health["gates"] if g["key"] == "G2"]
    assert gate["evidence"] == str(book["risk"]["notificationId"])
    assert gate["binding"] is True
    assert gate["actor"] == "staff:dev-admin"
    (event,) = gql("query($p: [Int!]!) { events(positions: $p) { position topic aggregateId "
                   "occurredAt actor } }", p=[int(gate["evidence"])])["events"]
    assert (event["topic"], event["aggregateId"], event["actor"]) == (
        "carelog:Account.RenewalRiskSet", book["acme"], "staff:dev-admin")
    assert event["occurredAt"] == "2026-03-01T09:00:00+00:00"
    components = {c["key"]: c for c in health["components"]}
    usage = {m["key"]: m for m in components["C1"]["subMetrics"]}
    assert usage["U1"]["raw"] == pytest.approx(31 / 50)
    assert usage["U1"]["score"] == pytest.approx(55.0)  # lin(0.62; 0.40, 0.80)
    assert sum(c["contribution"] for c in health["components"]) >= health["score"]
    assert len(health["drivers"]) <= 3
    change = health["changeSinceWeekAgo"]
    parts = sum(c["scoreEffect"] + c["renormalisationEffect"] for c in change["components"])
    assert math.isclose(parts + change["gateEffect"], change["valueDelta"], abs_tol=1e-9)
    days = [c["day"] for c in health["history"]]
    assert days == sorted(days)
    assert days[-1] == "2026-02-28", "the close of the day before the latest event"
    assert account["kpis"]["movement"] in ("expansion", "new")
    assert [(m["periodStart"], m["opened"]) for m in account["metrics"]] == [("2026-02-01", 1)]


def test_as_of_answers_replay_the_log_without_the_later_events(gql, book):
    gql(PORTFOLIO, wait=book["risk"]["notificationId"])

    past = gql(HEALTH, id=book["acme"], asOf="2026-02-10T12:00:00Z")["account"]
    assert past["metrics"] == [], "the case was opened after that moment"
    before = gql(HEALTH, id=book["acme"], asOf="2026-02-28T12:00:00Z")["account"]["health"]
    entries = gql(PORTFOLIO, asOf="2026-01-15T00:00:00Z")["portfolio"]

    assert [g["key"] for g in before["gates"]] == []
    assert before["score"] > 49
    assert [(e["name"], e["arr"]["amount"]) for e in entries] == [
        ("Acme", "120000.00"), ("Birch", "60000.00"), ("Cedar", "0.00")]
    live = gql(HEALTH, id=book["acme"])["account"]["health"]
    assert [g["key"] for g in live["gates"]] == ["G2"], "the live view is untouched"


KPIS = """query($from: Date!, $to: Date!) { kpis(from: $from, to: $to) { start end keyAccounts
  arr { amount } startingArr { amount } grr nrr logoChurn
  movements { new { amount } expansion { amount } churn { amount } contraction { amount } }
  waterfall { period closing { amount } }
  revenueAtRisk180 { amount } redArr { amount } watchArr { amount }
  shareOfArrByBand { band share } revenueWeightedHealth { value coverage } } }"""


def test_kpis_for_a_period_follow_the_start_cohort(gql, book):
    gql(PORTFOLIO, wait=book["risk"]["notificationId"])

    kpis = gql(KPIS, **{"from": "2025-12-01", "to": "2026-03-01"})["kpis"]

    # Cohort at 1 Dec: Acme 120k, Birch 60k = 180k. At 1 Mar: Acme 144k, Birch churned.
    assert kpis["startingArr"]["amount"] == "180000.00"
    assert kpis["grr"] == pytest.approx(120 / 180)
    assert kpis["nrr"] == pytest.approx(144 / 180)
    assert kpis["logoChurn"] == pytest.approx(0.5)
    assert kpis["movements"]["expansion"]["amount"] == "24000.00"
    assert kpis["movements"]["churn"]["amount"] == "60000.00"
    assert kpis["movements"]["new"]["amount"] == "36000.00"
    assert kpis["redArr"]["amount"] == "144000.00"
    assert sum(s["share"] for s in kpis["shareOfArrByBand"]) == pytest.approx(1.0)


def test_bad_periods_and_sizes_are_refused_with_a_code(gql, book):
    with pytest.raises(GraphQLError) as refused:
        gql(KPIS, **{"from": "2026-03-01", "to": "2026-01-01"})
    assert refused.value.codes == ["INVALID_INPUT"]
    with pytest.raises(GraphQLError) as refused:
        gql("{ portfolio(top: 0) { rank } }")
    assert refused.value.codes == ["INVALID_INPUT"]
    with pytest.raises(GraphQLError) as refused:
        gql('{ account(id: "00000000-0000-0000-0000-000000000000") { health { score } } }')
    assert refused.value.codes == ["NOT_FOUND"]


def test_portfolio_health_history_counts_todays_key_accounts_by_band_each_day(gql, book):
    """Per closed day: how many of today's key accounts were in each confirmed band (as their
    own daily closes say) and their ARR that day (from the revenue recorded in `book`)."""
    wait = book["risk"]["notificationId"]
    history = gql("""query($w: Int) { portfolioHealthHistory(top: 10, days: 200, waitFor: $w) {
        day bands { band accounts arr { amount } } } }""", w=wait)["portfolioHealthHistory"]

    def arr(name: str, day: str) -> Decimal:
        if name == "acme":
            return (Decimal(0) if day < "2025-11-01" else Decimal("120000.00")
                    if day < "2026-02-01" else Decimal("144000.00"))
        return Decimal(0) if day < "2026-02-01" else Decimal("36000.00")

    expected: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for name in ("acme", "cedar"):  # Birch churned: not a key account today
        closes = gql(HEALTH, id=book[name])["account"]["health"]["history"]
        for close in closes:
            cell = expected[close["day"]].setdefault(close["confirmedBand"], [0, Decimal(0)])
            cell[0] += 1
            cell[1] += arr(name, close["day"])
    got = {d["day"]: {b["band"]: [b["accounts"], Decimal(b["arr"]["amount"])]
                      for b in d["bands"]} for d in history}
    assert len(got) >= 5
    assert got == expected
    assert got[max(got)] == {"YELLOW": [1, Decimal("144000.00")]}  # Cedar: no close yet
