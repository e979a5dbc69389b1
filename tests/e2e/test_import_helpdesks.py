"""`carelog import zendesk|freshdesk`: the same history from exported files and from the API
(served on loopback here), written on SQLite and PostgreSQL and read back over GraphQL."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.runtime import Runtime
from integrations.importers import freshdesk, zendesk
from integrations.importers.records import ImportPlan
from integrations.importers.replayer import HistoryWriter, ImportSummary
from integrations.importers.sources import SourceError
from tests.conftest import GraphQL
from tests.helpdesk_server import Pages, serving

pytestmark = pytest.mark.e2e

METRICS = """query($groupBy: [MetricDimension!], $wait: Int) {
  supportMetrics(groupBy: $groupBy, waitFor: $wait) { priority opened firstResponses
    firstResponseMedianSeconds resolutionMeanSeconds csat csatResponses } }"""


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(runtime: Runtime, plan: ImportPlan) -> ImportSummary:
    summary = HistoryWriter(runtime.desk, currency="EUR", batch_size=2).write(plan)
    runtime.services.after_write()
    return summary


def check_metrics(gql: GraphQL, runtime: Runtime, tickets: list[dict[str, Any]]) -> None:
    """`tickets`: opened, first_response, resolved (datetimes or None), priority, csat."""
    wait = runtime.desk.recorder.max_notification_id()
    firsts: dict[str, list[float]] = {}
    for t in tickets:
        if t["first_response"] is not None:
            firsts.setdefault(t["priority"], []).append(
                (t["first_response"] - t["opened"]).total_seconds())
    rows = gql(METRICS, groupBy=["PRIORITY"], wait=wait)["supportMetrics"]
    medians = {r["priority"].lower(): r["firstResponseMedianSeconds"] for r in rows
               if r["firstResponseMedianSeconds"] is not None}
    assert medians == pytest.approx({p: statistics.median(v) for p, v in firsts.items()})
    (total,) = gql(METRICS, groupBy=[], wait=wait)["supportMetrics"]
    assert total["opened"] == len(tickets)
    resolutions = [(t["resolved"] - t["opened"]).total_seconds() for t in tickets
                   if t["resolved"] is not None]
    assert total["resolutionMeanSeconds"] == pytest.approx(statistics.mean(resolutions))
    ratings = [t["csat"] for t in tickets if t["csat"] is not None]
    assert total["csatResponses"] == len(ratings)
    assert total["csat"] == pytest.approx(sum(1 for r in ratings if r >= 4) / len(ratings))


# Zendesk -------------------------------------------------------------------------------------

Z0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ZENDESK_USER, ZENDESK_TOKEN = "admin@ours.example", "zd-secret"


def zendesk_ticket(ticket_id: int, opened: datetime, priority: str | None, status: str,
                   requester: int, org: int | None, **extra: Any) -> dict[str, Any]:
    return {"id": ticket_id, "created_at": iso(opened),
            "updated_at": iso(opened + timedelta(days=2)), "subject": f"Issue {ticket_id}",
            "description": f"Please help ({ticket_id})", "priority": priority,
            "status": status, "requester_id": requester, "assignee_id": 9,
            "organization_id": org, "via": {"channel": extra.pop("channel", "email")},
            "tags": extra.pop("tags", []), **extra}


def zendesk_metric(ticket_id: int, reply: int | None, resolution: int | None
                   ) -> dict[str, Any]:
    return {"id": ticket_id * 10, "ticket_id": ticket_id,
            "reply_time_in_minutes": {"calendar": reply, "business": reply},
            "first_resolution_time_in_minutes": {"calendar": resolution,
                                                 "business": resolution},
            "full_resolution_time_in_minutes": {"calendar": resolution,
                                                "business": resolution},
            "solved_at": None, "replies": 1 if reply else 0, "reopens": 0}


ZENDESK_PAGES: dict[str, Any] = {
    "organizations": [
        {"organizations": [{"id": 501, "name": "Acme", "created_at": "2025-01-10T08:00:00Z",
                            "organization_fields": {"tier": "VIP", "manager": "Anna"}}],
         "next_page": "{base}/api/v2/organizations.json?page=2"},
        {"organizations": [{"id": 502, "name": "Globex", "created_at": "2025-02-01T08:00:00Z",
                            "organization_fields": {}}], "next_page": None}],
    "users": [{"users": [
        {"id": 1, "name": "Raj", "email": "raj@acme.example", "role": "end-user",
         "organization_id": 501, "created_at": "2025-01-11T08:00:00Z"},
        {"id": 2, "name": "Li", "email": "li@globex.example", "role": "end-user",
         "organization_id": 502, "created_at": "2025-02-02T08:00:00Z"},
        {"id": 3, "name": "Ghost", "email": None, "role": "end-user", "organization_id": 502},
        {"id": 9, "name": "Zoe", "email": "zoe@ours.example", "role": "agent",
         "organization_id": None}], "next_page": None}],
    "tickets": [
        {"tickets": [
            zendesk_ticket(101, Z0, "high", "solved", 1, 501, tags=["login"]),
            # Closed before anyone answered; the organization comes from the requester.
            zendesk_ticket(102, Z0 + timedelta(days=1), "normal", "closed", 2, None,
                           channel="chat"),
            zendesk_ticket(103, Z0 - timedelta(days=60), "high", "closed", 1, 501,
                           tags=["escalated", "billing"])],
         "metric_sets": [zendesk_metric(101, 30, 180), zendesk_metric(102, None, None),
                         zendesk_metric(103, 90, 300)],
         "after_url": "{base}/api/v2/incremental/tickets/cursor.json?cursor=c2",
         "end_of_stream": False},
        {"tickets": [
            zendesk_ticket(104, Z0, "low", "open", 1, 501, created_at="last tuesday"),
            zendesk_ticket(105, Z0, "urgent", "open", 9, None),
            zendesk_ticket(106, Z0 + timedelta(days=2), None, "solved", 2, 502,
                           satisfaction_rating={"score": "good", "comment": "quick"}),
            # The incremental export repeats a ticket updated since: the last copy counts.
            zendesk_ticket(101, Z0, "high", "solved", 1, 501, tags=["login"])],
         "metric_sets": [zendesk_metric(106, 45, 60), zendesk_metric(101, 30, 180)],
         "after_url": None, "end_of_stream": True}],
    "satisfaction_ratings": [{"satisfaction_ratings": [
        {"id": 1, "ticket_id": 101, "score": "good", "created_at": "2026-01-05T13:00:00Z"},
        {"id": 2, "ticket_id": 103, "score": "bad", "comment": "slow",
         "created_at": "2025-11-07T13:00:00Z"},
        {"id": 3, "ticket_id": 102, "score": "offered", "created_at": "2026-01-07T10:00:00Z"}],
        "next_page": None}],
}
ZENDESK_EXPECTED = [  # computed from the pages above
    {"opened": Z0, "priority": "high", "first_response": Z0 + timedelta(minutes=30),
     "resolved": Z0 + timedelta(minutes=180), "csat": 5},
    {"opened": Z0 + timedelta(days=1), "priority": "normal", "first_response": None,
     "resolved": None, "csat": None},
    {"opened": Z0 - timedelta(days=60), "priority": "high",
     "first_response": Z0 - timedelta(days=60) + timedelta(minutes=90),
     "resolved": Z0 - timedelta(days=60) + timedelta(minutes=300), "csat": 1},
    {"opened": Z0 + timedelta(days=2), "priority": "normal",
     "first_response": Z0 + timedelta(days=2, minutes=45),
     "resolved": Z0 + timedelta(days=2, minutes=60), "csat": 5},
]


def zendesk_pages() -> Pages:
    pages = Pages(f"{ZENDESK_USER}/token", ZENDESK_TOKEN)
    first = {"organizations": "/api/v2/organizations.json", "users": "/api/v2/users.json",
             "satisfaction_ratings": "/api/v2/satisfaction_ratings.json",
             "tickets": "/api/v2/incremental/tickets/cursor.json?start_time=0"
                        "&include=metric_sets"}
    later = {"organizations": "/api/v2/organizations.json?page=2",
             "tickets": "/api/v2/incremental/tickets/cursor.json?cursor=c2"}
    for kind, bodies in ZENDESK_PAGES.items():
        for number, body in enumerate(bodies):
            pages.add(first[kind] if number == 0 else later[kind], body)
    return pages


@pytest.fixture
def zendesk_api() -> Iterator[str]:
    with serving(zendesk_pages()) as base:
        yield base


def zendesk_files(directory: Path) -> Path:
    directory.mkdir()
    for kind, bodies in ZENDESK_PAGES.items():
        for number, body in enumerate(bodies):
            (directory / f"{kind}-{number + 1}.json").write_text(json.dumps(body))
    return directory


def test_zendesk_history_from_the_api_then_from_files(
        runtime: Runtime, gql: GraphQL, zendesk_api: str, tmp_path: Path) -> None:
    plan = zendesk.ZendeskReader().plan(zendesk.fetch(zendesk_api, ZENDESK_USER,
                                                      ZENDESK_TOKEN))
    summary = write(runtime, plan)
    assert summary.tallies["account"].created == 2
    assert summary.tallies["contact"].created == 2
    assert summary.tallies["ticket"].created == 4
    assert summary.tallies["rating"].created == 3
    rejected = {r.key: r.reason for r in summary.rejections}
    assert set(rejected) == {"zendesk/user/3", "zendesk/ticket/104", "zendesk/ticket/105"}
    assert "last tuesday" in rejected["zendesk/ticket/104"]
    assert "no organization" in rejected["zendesk/ticket/105"]
    check_metrics(gql, runtime, ZENDESK_EXPECTED)
    tiers = gql("{ accounts(first: 10) { edges { node { name tier } } } }")["accounts"]["edges"]
    assert {e["node"]["name"]: e["node"]["tier"] for e in tiers} == {
        "Acme": "VIP", "Globex": "STANDARD"}

    # The exported files hold the same history: every item is already present.
    again = write(runtime, zendesk.ZendeskReader().plan(
        zendesk.read_directory(zendesk_files(tmp_path / "export"))))
    assert again.tallies["ticket"].present == 4
    assert again.tallies["account"].present == 2
    assert all(t.created == 0 for t in again.tallies.values())


def test_zendesk_api_refusing_the_token_reads_nothing(zendesk_api: str) -> None:
    with pytest.raises(SourceError, match="refused the credentials"):
        zendesk.fetch(zendesk_api, ZENDESK_USER, "wrong")
    with pytest.raises(SourceError, match="https"):
        zendesk.fetch("http://example.com", ZENDESK_USER, ZENDESK_TOKEN)


# Freshdesk -----------------------------------------------------------------------------------

F0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
FRESHDESK_TOKEN = "fd-key"
TICKETS_URL = ("/api/v2/tickets?include=stats&updated_since=1970-01-01T00:00:00Z"
               "&order_by=created_at&order_type=asc&per_page=100")


def fd_ticket(ticket_id: int, opened: datetime, priority: int, requester: int,
              stats: dict[str, datetime | None], **extra: Any) -> dict[str, Any]:
    return {"id": ticket_id, "subject": f"Freshdesk {ticket_id}",
            "description_text": f"Help me ({ticket_id})", "priority": priority,
            "source": extra.pop("source", 1), "status": 5, "requester_id": requester,
            "responder_id": 901, "company_id": extra.pop("company_id", None),
            "created_at": iso(opened), "type": extra.pop("type", None),
            "is_escalated": extra.pop("is_escalated", False),
            "stats": {k: iso(v) if v else None for k, v in stats.items()}, **extra}


FD_TICKETS = [
    fd_ticket(1, F0, 3, 801, {"first_responded_at": F0 + timedelta(minutes=20),
                              "resolved_at": F0 + timedelta(hours=2),
                              "closed_at": F0 + timedelta(days=1)}, type="Question"),
    # Closed before it was answered.
    fd_ticket(2, F0, 2, 802, {"first_responded_at": None, "resolved_at": None,
                              "closed_at": F0 + timedelta(hours=1)}, source=7),
    # Replies from its conversation; the private note is left out.
    fd_ticket(3, F0 - timedelta(days=10), 3, 801,
              {"first_responded_at": F0 - timedelta(days=10) + timedelta(minutes=50),
               "resolved_at": F0 - timedelta(days=10) + timedelta(hours=3),
               "closed_at": None}, is_escalated=True),
]
FD_PAGE_2 = [
    fd_ticket(4, F0, 9, 801, {"first_responded_at": None, "resolved_at": None,
                              "closed_at": None}),
    fd_ticket(5, F0 + timedelta(days=1), 4, 802,
              {"first_responded_at": F0 + timedelta(days=1, minutes=5),
               "resolved_at": F0 + timedelta(days=1, hours=1), "closed_at": None}),
]
T3 = F0 - timedelta(days=10)
FD_CONVERSATIONS = {3: [
    {"id": 31, "ticket_id": 3, "incoming": False, "private": True, "body_text": "note",
     "created_at": iso(T3 + timedelta(minutes=5))},
    {"id": 32, "ticket_id": 3, "incoming": True, "private": False, "body_text": "More info",
     "created_at": iso(T3 + timedelta(minutes=10))},
    {"id": 33, "ticket_id": 3, "incoming": False, "private": False, "body_text": "On it",
     "created_at": iso(T3 + timedelta(minutes=50))},
    {"id": 34, "ticket_id": 3, "incoming": False, "private": False, "body_text": "Done",
     "created_at": iso(T3 + timedelta(hours=2))}]}
FD_LISTS: dict[str, Any] = {
    "companies": [{"id": 7001, "name": "Initech", "account_tier": "Premium",
                   "created_at": "2025-03-01T00:00:00Z"},
                  {"id": 7002, "name": "Umbrella", "created_at": "2025-04-01T00:00:00Z"}],
    "contacts": [{"id": 801, "name": "Pat", "email": "pat@initech.example", "company_id": 7001,
                  "created_at": "2025-03-02T00:00:00Z"},
                 {"id": 802, "name": "Sam", "email": "sam@umbrella.example",
                  "company_id": 7002, "created_at": "2025-04-02T00:00:00Z"}],
    "agents": [{"id": 901, "contact": {"name": "Zoe", "email": "zoe@ours.example"}}],
    "satisfaction_ratings": [
        {"id": 1, "ticket_id": 1, "ratings": {"default_question": 103},
         "created_at": iso(F0 + timedelta(days=1, hours=1))},
        {"id": 2, "ticket_id": 3, "ratings": {"default_question": -103}, "feedback": "slow",
         "created_at": iso(T3 + timedelta(hours=4))},
        {"id": 3, "ticket_id": 5, "ratings": {"default_question": 101},
         "created_at": iso(F0 + timedelta(days=1, hours=2))}],
}
FRESHDESK_EXPECTED = [
    {"opened": F0, "priority": "high", "first_response": F0 + timedelta(minutes=20),
     "resolved": F0 + timedelta(hours=2), "csat": 5},
    {"opened": F0, "priority": "normal", "first_response": None, "resolved": None,
     "csat": None},
    {"opened": T3, "priority": "high", "first_response": T3 + timedelta(minutes=50),
     "resolved": T3 + timedelta(hours=3), "csat": 1},
    {"opened": F0 + timedelta(days=1), "priority": "urgent",
     "first_response": F0 + timedelta(days=1, minutes=5),
     "resolved": F0 + timedelta(days=1, hours=1), "csat": 4},
]


def freshdesk_pages() -> Pages:
    pages = Pages(FRESHDESK_TOKEN, "X")
    pages.add(TICKETS_URL, FD_TICKETS,
              {"Link": f'<{{base}}{TICKETS_URL}&page=2>; rel="next"'})
    pages.add(f"{TICKETS_URL}&page=2", FD_PAGE_2)
    pages.add("/api/v2/companies?per_page=100", FD_LISTS["companies"])
    pages.add("/api/v2/contacts?per_page=100", FD_LISTS["contacts"])
    pages.add("/api/v2/agents?per_page=100", FD_LISTS["agents"])
    pages.add("/api/v2/surveys/satisfaction_ratings?created_since=1970-01-01T00:00:00Z"
              "&per_page=100", FD_LISTS["satisfaction_ratings"])
    for ticket in [*FD_TICKETS, *FD_PAGE_2]:
        pages.add(f"/api/v2/tickets/{ticket['id']}/conversations?per_page=100",
                  FD_CONVERSATIONS.get(ticket["id"], []))
    return pages


def test_freshdesk_history_from_the_api_then_from_files(
        runtime: Runtime, gql: GraphQL, tmp_path: Path) -> None:
    with serving(freshdesk_pages()) as base:
        plan = freshdesk.FreshdeskReader().plan(freshdesk.fetch(base, FRESHDESK_TOKEN))
    summary = write(runtime, plan)
    assert summary.tallies["account"].created == 2
    assert summary.tallies["ticket"].created == 4
    assert summary.tallies["rating"].created == 3
    # Openings 4, replies: ticket 1 and 5 one each, ticket 3 its two plus the client's answer.
    assert summary.tallies["message"].created == 4 + 2 + 3
    (rejected,) = summary.rejections
    assert rejected.key == "freshdesk/ticket/4"
    assert "priority 9" in rejected.reason
    check_metrics(gql, runtime, FRESHDESK_EXPECTED)

    export = tmp_path / "export"
    export.mkdir()
    (export / "tickets-1.json").write_text(json.dumps(FD_TICKETS))
    (export / "tickets-2.json").write_text(json.dumps(FD_PAGE_2))
    (export / "conversations.json").write_text(json.dumps(
        {str(k): v for k, v in FD_CONVERSATIONS.items()}))
    for kind, items in FD_LISTS.items():
        (export / f"{kind}.json").write_text(json.dumps(items))
    again = write(runtime, freshdesk.FreshdeskReader().plan(freshdesk.read_directory(export)))
    assert again.tallies["ticket"].present == 4
    assert all(t.created == 0 for t in again.tallies.values())
