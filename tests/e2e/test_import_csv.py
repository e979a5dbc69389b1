"""`carelog import csv` end to end: files written here, imported into SQLite and PostgreSQL,
then read back over GraphQL and compared with figures computed here from the same rows."""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.runtime import Runtime
from integrations.importers.csv_files import CsvReader
from integrations.importers.replayer import HistoryWriter, ImportSummary
from tests.conftest import GraphQL

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


@dataclass(frozen=True)
class Ticket:
    id: str
    account: str
    opened: datetime
    channel: str
    priority: str
    first_response: datetime | None
    resolved: datetime | None
    closed: datetime | None
    satisfaction: int | None
    escalated: bool = False
    topic: str = ""
    written_in_berlin: bool = False  # written as M/D/YYYY H:MM wall-clock times


TICKETS = [
    Ticket("T1", "A1", utc("2026-01-05T09:00"), "email", "high", utc("2026-01-05T09:30"),
           utc("2026-01-05T12:00"), utc("2026-01-06T12:00"), 5, topic="login"),
    # Satisfaction left empty, escalated, never closed.
    Ticket("T2", "A1", utc("2026-01-06T09:00"), "web_chat", "normal", utc("2026-01-06T09:20"),
           utc("2026-01-07T10:00"), None, None, escalated=True, topic="export"),
    # Closed before anyone answered.
    Ticket("T3", "A2", utc("2025-10-01T08:00"), "email", "low", None, None,
           utc("2025-10-01T09:00"), None),
    # Across the spring-forward night in Berlin: 01:30 CET to 03:30 CEST is one hour.
    Ticket("T4", "A1", berlin("2025-03-29T01:30"), "phone", "high", berlin("2025-03-29T03:30"),
           berlin("2025-03-29T05:30"), None, 2, written_in_berlin=True),
    # Resolved without a recorded first response.
    Ticket("T5", "A3", utc("2025-06-10T14:00"), "email", "normal", None,
           utc("2025-06-11T14:00"), utc("2025-06-12T09:00"), 4, topic="billing"),
    Ticket("T6", "A3", utc("2025-07-01T08:00"), "email", "high", utc("2025-07-01T08:45"),
           utc("2025-07-01T16:00"), utc("2025-07-02T16:00"), 1),
    Ticket("T9", "A2", utc("2025-09-01T09:00"), "email", "urgent", utc("2025-09-01T09:05"),
           utc("2025-09-01T10:05"), utc("2025-09-02T10:05"), 3),
]
# T7's replies come from messages.csv: its first outbound message is its first response.
T7_MESSAGES = [("2025-12-01T10:40", "outbound", "Zoe", "Looking into it"),
               ("2025-12-01T11:00", "inbound", "raj@acme.example", "Thanks"),
               ("2025-12-01T11:30", "outbound", "Zoe", "Fixed")]
T7 = Ticket("T7", "A1", utc("2025-12-01T10:00"), "email", "normal", utc("2025-12-01T10:40"),
            utc("2025-12-01T12:00"), None, 4)

# (account, start, end, mrr, arr)
REVENUE = [("A1", date(2025, 1, 15), None, Decimal(1000), None),
           ("A1", date(2025, 6, 1), None, Decimal(500), None),
           ("A2", date(2025, 2, 1), date(2025, 11, 30), None, Decimal(24000)),
           ("A3", date(2025, 3, 1), date(2025, 8, 31), Decimal(300), None),
           ("A3", date(2025, 9, 1), None, Decimal(200), None)]
CHURNS = {"A2": date(2025, 11, 30)}
NAMES = {"A1": "Acme", "A2": "Globex", "A3": "Initech"}


def _cell(at: datetime | None, in_berlin: bool) -> str:
    if at is None:
        return ""
    if in_berlin:
        local = at.astimezone(BERLIN)
        return f"{local.month}/{local.day}/{local.year} {local.hour}:{local.minute:02d}"
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if v is None else str(v) for v in row] for row in rows])


def write_files(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "accounts.csv",
           ["id", "name", "plan", "seats", "signup_date", "manager", "currency", "churned",
            "churn_date", "churn_reason"],
           [["A1", "Acme", "VIP", 50, "1/15/2025", "Anna", "EUR", "FALSE", "", ""],
            ["A2", "Globex", "Enterprise", "", "2025-02-01", "Ben", "", "yes", "11/30/2025",
             "Moved to a rival"],
            ["A3", "Initech", "basic", 10, "2025-03-01", "", "", "", "", ""],
            ["A4", "Hooli", "platinum", "", "2025-03-01", "", "", "", "", ""]])
    _write(directory / "revenue.csv", ["account", "start", "end", "mrr", "arr", "currency"],
           [[a, s.isoformat(), e.strftime("%m/%d/%Y") if e else "", m, r, "EUR"]
            for a, s, e, m, r in REVENUE] + [["A9", "2025-01-01", "", 10, "", "EUR"]])
    _write(directory / "contacts.csv", ["account", "name", "email", "phone", "role", "added"],
           [["A1", "Raj", "raj@acme.example", "+49 30 1", "champion", "2025-01-20"],
            ["A1", "Mei", "mei@acme.example", "", "", ""],
            ["A2", "Li", "not-an-email", "", "", ""]])
    tickets = [*TICKETS, T7]
    _write(directory / "tickets.csv",
           ["id", "account", "opened", "subject", "text", "channel", "priority", "topic",
            "requester", "agent", "first_response", "escalated", "resolved", "closed",
            "satisfaction", "satisfaction_comment", "rated"],
           [[t.id, t.account, _cell(t.opened, t.written_in_berlin), f"Subject {t.id}",
             f"Please help with {t.id}", t.channel, t.priority.upper(), t.topic,
             "raj@acme.example" if t.account == "A1" else "", "Zoe",
             "" if t is T7 else _cell(t.first_response, t.written_in_berlin),
             "TRUE" if t.escalated else "", _cell(t.resolved, t.written_in_berlin),
             _cell(t.closed, t.written_in_berlin), t.satisfaction,
             "great" if t.satisfaction == 5 else "",
             _cell(t.closed + timedelta(hours=1), False) if t.id == "T1" and t.closed else ""]
            for t in tickets]
           + [["T8", "A1", "not a date", "Broken", "", "email", "high", "", "", "", "", "", "",
               "", "", "", ""]])
    _write(directory / "messages.csv", ["ticket", "id", "sent", "direction", "author", "text"],
           [["T7", f"m{i}", f"{sent}:00Z", d, who, text]
            for i, (sent, d, who, text) in enumerate(T7_MESSAGES)])
    _write(directory / "nps.csv", ["account", "email", "score", "answered", "survey", "comment"],
           [["A1", "raj@acme.example", 9, "2025-11-10", "2025-Q4", "good"],
            ["A1", "mei@acme.example", 6, "2025-11-11", "2025-Q4", ""],
            ["A1", "nobody@acme.example", 10, "2025-11-12", "2025-Q4", ""]])
    return directory


# Figures computed here from the rows above -------------------------------------------------


def expected_first_response_medians() -> dict[str, float]:
    by_priority: dict[str, list[float]] = {}
    for t in [*TICKETS, T7]:
        if t.first_response is not None:
            seconds = (t.first_response - t.opened).total_seconds()
            by_priority.setdefault(t.priority, []).append(seconds)
    return {p: statistics.median(v) for p, v in by_priority.items()}


def expected_resolution_mean_hours() -> float:
    hours = [(t.resolved - t.opened).total_seconds() / 3600 for t in [*TICKETS, T7]
             if t.resolved is not None]
    return statistics.mean(hours)


def expected_csat() -> tuple[float, int]:
    ratings = [t.satisfaction for t in [*TICKETS, T7] if t.satisfaction is not None]
    return sum(1 for r in ratings if r >= 4) / len(ratings), len(ratings)


def month_index(d: date) -> int:
    return d.year * 12 + d.month


def expected_arr(account: str, at: date) -> Decimal:
    """As documented: a subscription counts from its start month to its end month; ARR is
    12 x the MRR of the month; a churn sets ARR to 0 from its day."""
    if account in CHURNS and at >= CHURNS[account]:
        return Decimal(0)
    mrr = Decimal(0)
    for a, start, end, monthly, yearly in REVENUE:
        if a != account or month_index(at) < month_index(start):
            continue
        if end is not None and month_index(at) > month_index(end):
            continue
        mrr += monthly if monthly is not None else yearly / 12
    return 12 * mrr


def expected_retention(t0: date, t1: date) -> tuple[float, float]:
    cohort = [a for a in NAMES if expected_arr(a, t0) > 0]
    start = sum(expected_arr(a, t0) for a in cohort)
    kept = sum(min(expected_arr(a, t0), expected_arr(a, t1)) for a in cohort)
    end = sum(expected_arr(a, t1) for a in cohort)
    return float(kept / start), float(end / start)


# The tests -----------------------------------------------------------------------------------


def run_import(runtime: Runtime, directory: Path, *, dry_run: bool = False) -> ImportSummary:
    plan = CsvReader(BERLIN, "EUR").read(directory)
    summary = HistoryWriter(runtime.desk, currency="EUR", batch_size=3,
                            dry_run=dry_run).write(plan)
    runtime.services.after_write()
    return summary


def head(runtime: Runtime) -> int:
    return runtime.desk.recorder.max_notification_id() or 0


def stored(runtime: Runtime) -> int:
    """Events in the log (PostgreSQL's ids may skip numbers a refused batch had drawn)."""
    return len(runtime.desk.recorder.select_notifications(1, 1_000_000))


METRICS = """query($groupBy: [MetricDimension!], $wait: Int) {
  supportMetrics(groupBy: $groupBy, waitFor: $wait) { priority opened resolved firstResponses
    firstResponseMedianSeconds resolutionMeanSeconds csat csatResponses nps npsResponses } }"""


def test_csv_import_matches_figures_computed_from_the_files(
        runtime: Runtime, gql: GraphQL, tmp_path: Path) -> None:
    directory = write_files(tmp_path / "history")
    summary = run_import(runtime, directory)
    created = {kind: tally.created for kind, tally in summary.tallies.items()}
    assert created == {"account": 3, "contact": 2, "revenue": 6, "ticket": 8,
                       "message": 8 + 5 + 3, "rating": 6, "nps": 2}
    # Each bad row is reported with its file, line and reason; the good ones landed.
    rejected = {(r.kind, r.file, r.line): r.reason for r in summary.rejections}
    assert set(rejected) == {("account", "accounts.csv", 5), ("revenue", "revenue.csv", 7),
                             ("contact", "contacts.csv", 4), ("ticket", "tickets.csv", 10),
                             ("nps", "nps.csv", 4)}
    assert "platinum" in rejected[("account", "accounts.csv", 5)]
    assert "not a date" in rejected[("ticket", "tickets.csv", 10)]
    wait = head(runtime)

    rows = gql(METRICS, groupBy=["PRIORITY"], wait=wait)["supportMetrics"]
    medians = {r["priority"].lower(): r["firstResponseMedianSeconds"] for r in rows
               if r["firstResponseMedianSeconds"] is not None}
    assert medians == pytest.approx(expected_first_response_medians())
    assert {r["priority"].lower(): r["opened"] for r in rows} == {
        "high": 3, "normal": 3, "low": 1, "urgent": 1}
    (total,) = gql(METRICS, groupBy=[], wait=wait)["supportMetrics"]
    assert total["resolutionMeanSeconds"] / 3600 == pytest.approx(
        expected_resolution_mean_hours())
    csat, answers = expected_csat()
    assert total["csatResponses"] == answers
    assert total["csat"] == pytest.approx(csat)
    assert total["npsResponses"] == 2
    topics = gql("{ topTopics(first: 10) { topic opened } }")["topTopics"]
    counted: dict[str, int] = {}
    for t in [*TICKETS, T7]:
        if t.topic:
            counted[t.topic] = counted.get(t.topic, 0) + 1
    assert {x["topic"]: x["opened"] for x in topics} == counted

    t0, t1 = date(2025, 3, 1), date(2026, 3, 1)
    kpis = gql("""query($wait: Int) { kpis(from: "2025-03-01", to: "2026-03-01", waitFor: $wait)
                  { grr nrr startingArr { amount } } }""", wait=wait)["kpis"]
    grr, nrr = expected_retention(t0, t1)
    assert kpis["grr"] == pytest.approx(grr)
    assert kpis["nrr"] == pytest.approx(nrr)
    assert Decimal(str(kpis["startingArr"]["amount"])) == sum(
        expected_arr(a, t0) for a in NAMES)

    def ranking(entries: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
        return [(e["name"], Decimal(str(e["arr"]["amount"]))) for e in entries
                if Decimal(str(e["arr"]["amount"])) > 0]

    def expected_ranking(at: date) -> list[tuple[str, Decimal]]:
        arrs = [(NAMES[a], expected_arr(a, at)) for a in NAMES]
        return sorted([x for x in arrs if x[1] > 0], key=lambda x: -x[1])

    portfolio = gql("""query($wait: Int) { portfolio(waitFor: $wait) { name arr { amount } } }""",
                    wait=wait)["portfolio"]
    assert ranking(portfolio) == expected_ranking(date(2026, 3, 1))
    # As of mid-October 2025, Globex had not churned yet and led the ranking.
    then = gql("""{ portfolio(asOf: "2025-10-15T00:00:00Z") { name arr { amount } } }"""
               )["portfolio"]
    assert ranking(then) == expected_ranking(date(2025, 10, 15))
    assert ranking(then)[0][0] == "Globex"


def test_importing_the_same_files_twice_adds_nothing(runtime: Runtime, tmp_path: Path) -> None:
    directory = write_files(tmp_path / "history")
    dry = run_import(runtime, directory, dry_run=True)
    assert head(runtime) == 0  # a dry run writes nothing
    first = run_import(runtime, directory)
    assert {k: t.created for k, t in dry.tallies.items()} == {
        k: t.created for k, t in first.tallies.items()}
    assert [r.as_json() for r in dry.rejections] == [r.as_json() for r in first.rejections]
    written = stored(runtime)
    second = run_import(runtime, directory)
    assert stored(runtime) == written
    assert all(t.created == 0 and t.updated == 0 for t in second.tallies.values())
    assert second.tallies["account"].present == 3
    assert second.tallies["ticket"].present == 8
    assert second.tallies["contact"].present == 2
    assert second.tallies["nps"].present == 2
    # A later export with one more month of revenue adds just that.
    with (directory / "revenue.csv").open("a", encoding="utf-8") as handle:
        handle.write("A3,2026-02-01,,250,,EUR\n")
    third = run_import(runtime, directory)
    assert third.tallies["revenue"].updated == 1
    assert stored(runtime) == written + 1


def test_an_interrupted_import_resumes(runtime: Runtime, tmp_path: Path) -> None:
    """The first batches of tickets are in; the rerun adds the rest and counts the others."""
    directory = write_files(tmp_path / "history")
    plan = CsvReader(BERLIN, "EUR").read(directory)
    plan.tickets = plan.tickets[:4]
    HistoryWriter(runtime.desk, currency="EUR", batch_size=3).write(plan)
    resumed = run_import(runtime, directory)
    assert resumed.tallies["ticket"].present == 4
    assert resumed.tallies["ticket"].created == 4


def test_rejections_are_written_as_json_lines(runtime: Runtime, tmp_path: Path) -> None:
    from integrations.importers.report import write_rejections

    summary = run_import(runtime, write_files(tmp_path / "history"))
    report = tmp_path / "rejected.jsonl"
    write_rejections(summary, report)
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert {(x["kind"], x["line"]) for x in lines} == {
        (r.kind, r.line) for r in summary.rejections}
    assert all(set(x) == {"kind", "file", "line", "key", "reason"} for x in lines)


def test_future_times_are_refused(runtime: Runtime, tmp_path: Path) -> None:
    directory = write_files(tmp_path / "history")
    future = (runtime.desk.clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with (directory / "tickets.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"T10,A1,{future},Later,,email,high,,,,,,,,,,\n")
    summary = run_import(runtime, directory)
    (refused,) = [r for r in summary.rejections if r.key == "csv/ticket/T10"]
    assert "in the future" in refused.reason


def test_tickets_are_replayed_in_business_time(runtime: Runtime, tmp_path: Path) -> None:
    from domain.account import Account
    from domain.case import Case
    from domain.interaction import Interaction

    run_import(runtime, write_files(tmp_path / "history"))

    def history(ticket: Ticket) -> list[tuple[str, datetime]]:
        account_id = Account.id_for(f"csv/account/{ticket.account}")
        opening = Interaction.id_for(account_id, ticket.channel, "inbound",
                                     f"csv/ticket/{ticket.id}")
        events = list(runtime.desk.events.get(Case.id_for(opening)))
        assert {e.actor for e in events} == {"integration:import:csv"}  # type: ignore[attr-defined]
        return [(type(e).__name__, e.occurred_at) for e in events]  # type: ignore[attr-defined]

    t2 = TICKETS[1]
    assert history(t2) == [("Opened", t2.opened), ("Escalated", t2.opened),
                           ("Replied", t2.first_response), ("EscalationResolved", t2.resolved),
                           ("Resolved", t2.resolved)]
    t3 = TICKETS[2]  # closed before it was answered
    assert history(t3) == [("Opened", t3.opened), ("Closed", t3.closed)]
    t1 = TICKETS[0]
    assert t1.closed is not None
    assert history(t1)[-1] == ("Rated", t1.closed + timedelta(hours=1))


def test_tickets_are_written_in_the_order_they_were_opened(runtime: Runtime,
                                                           tmp_path: Path) -> None:
    """The files list tickets out of order; the log runs forward in business time, so views
    that close days fold each day about once."""
    assert [t.opened for t in TICKETS] != sorted(t.opened for t in TICKETS)

    run_import(runtime, write_files(tmp_path / "history"))

    opened = [runtime.desk.mapper.to_domain_event(n).occurred_at
              for n in runtime.desk.recorder.select_notifications(
                  start=0, limit=10_000, topics=["carelog:Case.Opened"])]
    assert len(opened) == 8
    assert opened == sorted(opened)
