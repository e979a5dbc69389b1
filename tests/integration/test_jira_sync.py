"""The Jira reactor against the Jira stub, on SQLite and PostgreSQL: exactly one issue per
feedback item, whatever Jira does (matrix C3 and C4 of shared/reference/reliability-security.md).

The checker is `JiraStub.issues_with_label`: the issues on the server carrying a feedback's
label. Every test ends by asserting it is exactly one for every item.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from api.runtime import Runtime
from domain.feedback import feedback_label
from domain.values import Money
from integrations.clock import FakeClock
from integrations.jira.adapter import JiraTicketTracker
from integrations.jira.mapping import draft
from integrations.settings import JiraSettings, Secret, Settings
from projections.accounts import AccountsView
from projections.feedback_board import FeedbackBoardView
from tests.jira_server import JiraStub, jira_stub
from workers.jira_sync import JiraReactor

pytestmark = pytest.mark.integration

STAFF = "staff:ann"
RECONCILE = 30.0


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> Iterator[JiraStub]:
    """The Jira stub, as Server/Data Center unless a test asks for "Cloud" (`search/jql`)."""
    with jira_stub(deployment=getattr(request, "param", "Server")) as server:
        yield server


@pytest.fixture
def settings(backend: str, make_settings: Callable[..., Settings], stub: JiraStub) -> Settings:
    return make_settings(backend, jira=JiraSettings(
        url=stub.url, token=Secret(stub.token), timeout=2.0, reconcile_seconds=RECONCILE))


def new_reactor(runtime: Runtime) -> JiraReactor:
    """A reactor as `carelog serve` builds one, with short backoffs for the test's sake."""
    return JiraReactor(runtime.desk, FeedbackBoardView(runtime.store),
                       AccountsView(runtime.store, 10), JiraTicketTracker(runtime.settings.jira),
                       reconcile_seconds=RECONCILE, currency="EUR", min_backoff=0.05,
                       max_backoff=0.5)


def settle(runtime: Runtime, reactor: JiraReactor, done: Callable[[], bool],
           timeout: float = 30.0) -> None:
    """Fold the views and run reactor passes until `done()` (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        for runner in runtime.runners:
            runner.catch_up()
        if done():
            return
        assert time.monotonic() < deadline, f"not settled in {timeout}s: {reactor.pending()}"
        reactor.run_once()
        time.sleep(0.05)


def account(runtime: Runtime, name: str, mrr: str) -> UUID:
    desk = runtime.desk
    account_id = desk.open_account(name=name, tier="business", manager="Ann Manager",
                                   currency="EUR", actor=STAFF).ids["accountId"]
    desk.record_revenue(account_id=account_id, period="2026-02", mrr=Money(Decimal(mrr), "EUR"),
                        actor=STAFF)
    return account_id


def submit(runtime: Runtime, account_id: UUID, title: str = "Export to Excel") -> UUID:
    return runtime.desk.submit_feedback(
        account_id=account_id, product_area="Reporting", title=title,
        text="Monthly reports as .xlsx", actor=STAFF).ids["feedbackId"]


def linked(runtime: Runtime, *ids: UUID) -> Callable[[], bool]:
    return lambda: all(runtime.desk.feedback(i).jira_key is not None for i in ids)


def synced(runtime: Runtime, *ids: UUID) -> Callable[[], bool]:
    return lambda: all(not runtime.desk.feedback(i).needs_sync for i in ids)


def assert_one_issue_each(stub: JiraStub, runtime: Runtime, *ids: UUID) -> None:
    for feedback_id in ids:
        issues = stub.issues_with_label(feedback_label(feedback_id))
        assert len(issues) == 1, f"{feedback_id}: {[i.key for i in issues]}"
        assert runtime.desk.feedback(feedback_id).jira_key == issues[0].key


def test_an_item_gets_one_issue_updated_and_commented_as_accounts_join(
        runtime: Runtime, stub: JiraStub):
    reactor = new_reactor(runtime)
    acme = account(runtime, "Acme GmbH", "10000.00")
    feedback_id = submit(runtime, acme)
    settle(runtime, reactor, synced(runtime, feedback_id))
    (issue,) = stub.issues_with_label(feedback_label(feedback_id))
    assert issue.fields["summary"] == "Export to Excel"
    assert "Acme GmbH: ARR 120,000.00 EUR" in issue.fields["description"]
    assert "area-reporting" in issue.fields["labels"]

    initech = account(runtime, "Initech", "500.00")
    runtime.desk.support_feedback(feedback_id=feedback_id, account_id=initech, actor=STAFF)
    settle(runtime, reactor, synced(runtime, feedback_id))
    runtime.desk.resync_feedback(feedback_id=feedback_id, actor=STAFF)
    settle(runtime, reactor, synced(runtime, feedback_id))

    assert "Initech: ARR 6,000.00 EUR" in issue.fields["description"]
    assert "2 account(s), ARR 126,000.00 EUR" in issue.fields["description"]
    (comment,) = issue.comments  # one comment for the join, none for the re-sync
    assert comment["body"].startswith("Initech also asked for this.")
    assert stub.creates() == 1
    assert_one_issue_each(stub, runtime, feedback_id)


def test_a_merged_items_issue_points_to_the_one_it_was_merged_into(
        runtime: Runtime, stub: JiraStub):
    reactor = new_reactor(runtime)
    keep = submit(runtime, account(runtime, "Acme GmbH", "100.00"), "Excel export")
    duplicate = submit(runtime, account(runtime, "Initech", "200.00"), "XLSX download")
    settle(runtime, reactor, synced(runtime, keep, duplicate))

    runtime.desk.merge_feedback(feedback_id=duplicate, into_id=keep, actor=STAFF)
    settle(runtime, reactor, synced(runtime, keep, duplicate))
    settle(runtime, reactor, synced(runtime, keep, duplicate))  # nothing more to do

    (kept,) = stub.issues_with_label(feedback_label(keep))
    (merged,) = stub.issues_with_label(feedback_label(duplicate))
    assert [c["body"].split("\n")[0] for c in merged.comments] == [
        f"Merged in Carelog into {kept.key}: follow that issue."]
    assert [c["body"].split(".")[0] for c in kept.comments] == ["Initech also asked for this"]
    assert "Initech: ARR 2,400.00 EUR" in kept.fields["description"]


@pytest.mark.parametrize("stub", ["Server", "Cloud"], indirect=True)
def test_c3_a_lost_answer_to_a_create_with_lagging_search_makes_no_second_issue(
        runtime: Runtime, stub: JiraStub):
    """Jira creates the issue and the answer is lost; its search shows it only 10 s later."""
    reactor = new_reactor(runtime)
    feedback_id = submit(runtime, account(runtime, "Acme GmbH", "100.00"))
    stub.faults.drop_after_create = 1
    stub.faults.search_lag = 10.0

    settle(runtime, reactor, linked(runtime, feedback_id))

    assert stub.creates() == 1  # reconciled by search, never posted again
    assert reactor.stats.linked_by_search == 1
    settle(runtime, reactor, synced(runtime, feedback_id))
    assert_one_issue_each(stub, runtime, feedback_id)


def test_c3_a_create_lost_before_jira_made_anything_is_posted_again_after_the_window(
        runtime: Runtime, stub: JiraStub, clock: FakeClock):
    reactor = new_reactor(runtime)
    feedback_id = submit(runtime, account(runtime, "Acme GmbH", "100.00"))
    stub.faults.drop_before_create = 1
    for _ in range(5):
        for runner in runtime.runners:
            runner.catch_up()
        reactor.run_once()
        time.sleep(0.1)
    assert stub.creates() == 1
    assert not stub.issues_with_label(feedback_label(feedback_id))  # only searches meanwhile

    clock.advance(timedelta(seconds=RECONCILE))
    settle(runtime, reactor, linked(runtime, feedback_id))

    assert stub.creates() == 2
    assert_one_issue_each(stub, runtime, feedback_id)


def test_c3_a_crash_after_the_create_is_reconciled_by_the_next_reactor(
        runtime: Runtime, stub: JiraStub):
    """The process died after Jira made the issue, before the key was recorded."""
    feedback_id = submit(runtime, account(runtime, "Acme GmbH", "100.00"))
    stub.faults.search_lag = 2.0
    feedback = runtime.desk.feedback(feedback_id)
    runtime.desk.attempt_jira_create(feedback_id=feedback_id,
                                     expected_version=feedback.version, actor="integration:jira")
    JiraTicketTracker(runtime.settings.jira).create(draft(feedback, []))  # then: crash

    settle(runtime, new_reactor(runtime), linked(runtime, feedback_id))

    assert stub.creates() == 1
    assert_one_issue_each(stub, runtime, feedback_id)


def test_a_key_that_could_not_be_recorded_is_read_back_without_waiting_for_search(
        runtime: Runtime, stub: JiraStub, monkeypatch: pytest.MonkeyPatch):
    """Jira answered the create, then the event store failed: the next pass GETs the key."""
    reactor = new_reactor(runtime)
    feedback_id = submit(runtime, account(runtime, "Acme GmbH", "100.00"))
    stub.faults.search_lag = 60.0
    record = runtime.desk.link_jira_issue

    def outage(**kwargs: object) -> None:
        monkeypatch.setattr(runtime.desk, "link_jira_issue", record)
        raise ConnectionError("the database went away")

    monkeypatch.setattr(runtime.desk, "link_jira_issue", outage)
    for runner in runtime.runners:
        runner.catch_up()
    with pytest.raises(ConnectionError):
        reactor.run_once()
    started = time.monotonic()
    settle(runtime, reactor, linked(runtime, feedback_id), timeout=10)

    assert time.monotonic() - started < 10  # long before the search would have shown it
    assert stub.creates() == 1
    assert_one_issue_each(stub, runtime, feedback_id)


def test_c4_unavailable_then_rate_limited_jira_gets_one_issue_after_recovery(
        runtime: Runtime, stub: JiraStub):
    reactor = new_reactor(runtime)
    feedback_id = submit(runtime, account(runtime, "Acme GmbH", "100.00"))
    stub.faults.unavailable_until = time.monotonic() + 1.0
    stub.faults.unavailable_status = 503
    for runner in runtime.runners:
        runner.catch_up()
    reactor.run_once()
    board = runtime.services.feedback.get_many([str(feedback_id)])[str(feedback_id)]
    assert board["jira_key"] is None  # pending, and agents see why:
    assert reactor.pending()[str(feedback_id)] is not None

    # Rate-limited next: the reactor must not call Jira before Retry-After has passed.
    time.sleep(1.0)
    stub.faults.unavailable_status, stub.faults.retry_after = 429, 2
    stub.faults.unavailable_until = time.monotonic() + 1.0
    reactor.paused_until = 0.0
    for state in reactor._backoff.values():
        state.due = 0.0
    reactor.run_once()
    settle(runtime, reactor, linked(runtime, feedback_id))

    # Retry-After counts from Jira's answer: measured from the stub's own record of its 429
    # (not from when run_once returned, which a loaded machine delays), with 0.1 s of slack.
    answered_429 = max(t for t, _, _, status in stub.requests if status == 429)
    assert stub.requests_between(answered_429 + 0.001, answered_429 + 1.9) == 0
    assert_one_issue_each(stub, runtime, feedback_id)


def test_checker_many_items_two_reactors_and_every_fault_still_one_issue_each(
        runtime: Runtime, stub: JiraStub):
    accounts = [account(runtime, f"Client {n}", f"{100 * (n + 1)}.00") for n in range(4)]
    ids = [submit(runtime, accounts[n % 4], f"Request {n}") for n in range(8)]
    stub.faults.drop_after_create = 3
    stub.faults.search_lag = 1.5
    stub.faults.unavailable_until = time.monotonic() + 0.5
    reactors = [new_reactor(runtime), new_reactor(runtime)]
    stop = threading.Event()

    def run(reactor: JiraReactor) -> None:
        while not stop.is_set():
            reactor.run_once()
            time.sleep(0.05)

    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in reactors]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 45
        while not synced(runtime, *ids)():
            assert time.monotonic() < deadline, [r.pending() for r in reactors]
            for runner in runtime.runners:
                runner.catch_up()
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    assert_one_issue_each(stub, runtime, *ids)
    assert len(stub.issues) == len(ids)
