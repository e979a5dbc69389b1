"""Projections on real SQLite and PostgreSQL: catch up, follow, rebuild, and agree row for row."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.demo import DemoGenerator
from api.runtime import Runtime
from domain.ports import InboundMessage
from projections.case_queues import CaseFilter, CaseQueuesProjection
from projections.money import ReportingRates
from projections.projection import Projection
from projections.registry import all_projections
from projections.runner import FoldError, ProjectionRunner
from projections.store import ViewStore
from tests.conftest import START
from workers.announcements import AnnouncementReactor
from workers.projectors import ProjectorPool

pytestmark = pytest.mark.integration


def dump(store: ViewStore, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a projection, in key order, as plain tuples."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with store.reader() as tx:
        for table in projection.tables:
            key = ", ".join(table.key)
            rows = tx.fetch_all(f"SELECT * FROM {table.name} ORDER BY {key}")
            tables[table.name] = [tuple(r[c] for c in table.column_names) for r in rows]
    return tables


def seed(runtime: Runtime, accounts: int = 8, months: int = 2, seed: int = 3) -> None:
    DemoGenerator(runtime.desk, accounts=accounts, months=months, seed=seed,
                  until=date(2026, 3, 1)).run()


def test_catch_up_folds_the_whole_log(runtime: Runtime) -> None:
    seed(runtime)
    head = runtime.desk.recorder.max_notification_id()
    for runner in runtime.runners:
        runner.catch_up()
        assert runner.position == head
    assert runtime.store.positions() == {r.name: head for r in runtime.runners}
    assert runtime.services.accounts.count() == 8
    page = runtime.services.cases.page(CaseFilter(), first=200, after=None)
    assert page.rows, "the demo opens cases"


def test_rebuild_from_zero_equals_the_incrementally_kept_view(runtime: Runtime) -> None:
    """Fold the log in many small pages while it grows, then rebuild: the rows are identical."""
    for runner in runtime.runners:
        runner.page_size = 7  # many page boundaries inside aggregates' histories
    generator = DemoGenerator(runtime.desk, accounts=6, months=2, seed=11, until=date(2026, 3, 1))

    def follow() -> None:
        for runner in runtime.runners:
            runner.run_page()

    original = runtime.desk.save

    def save_and_fold(*args: Any, **kwargs: Any) -> Any:
        recordings = original(*args, **kwargs)
        follow()
        return recordings

    runtime.desk.save = save_and_fold  # type: ignore[method-assign]
    try:
        generator.run()
        _alert_and_goal(runtime)
    finally:
        del runtime.desk.save
    for runner in runtime.runners:
        runner.catch_up()
    kept = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    for runner in runtime.runners:
        runner.rebuild()
    rebuilt = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    assert rebuilt == kept
    empty = [table for tables in kept.values() for table, rows in tables.items() if not rows]
    assert not empty


def _alert_and_goal(runtime: Runtime) -> None:
    from decimal import Decimal

    desk = runtime.desk
    account = runtime.services.accounts.page(1, None).rows[0]["id"]
    alert = desk.raise_alert(
        account_id=UUID(account), kind="band_dropped", day=date(2026, 2, 27), score_before=80,
        score_after=60, band_before="green", band_after="yellow", drivers=[], model_version=1,
        actor="system:health-alerts").ids["alertId"]
    desk.acknowledge_alert(alert_id=alert, note="on it", actor="staff:ann")
    goal = desk.set_goal(title="Retain", metric="grr", target=Decimal("0.95"),
                         deadline=date(2026, 12, 31), owner="Ann", actor="staff:ann")
    desk.revise_goal(goal_id=goal.ids["goalId"], target=Decimal("0.97"),
                     deadline=date(2026, 12, 31), actor="staff:ann")
    # Channels: a mail domain, a read marker and a stray message, so every table has rows.
    desk.set_email_domains(account_id=UUID(account), domains=["acme.example"],
                           actor="staff:ann")
    desk.set_email_domains(account_id=UUID(account), domains=["acme.example", "acme.de"],
                           actor="staff:ann")
    desk.mark_room_read(account_id=UUID(account), reader="ann", position=desk.recorder.
                        max_notification_id() or 0, actor="staff:ann")
    vip = desk.open_account(name="Linked AG", tier="vip", manager="Ann", currency="EUR",
                            actor="staff:ann").ids["accountId"]
    code = desk.issue_link_code(account_id=vip, actor="staff:ann").extra["code"]
    desk.redeem_link_code(code=code, channel="telegram", conversation="-1001", title="Linked",
                          actor="integration:telegram")
    desk.hold_stray_message(message=InboundMessage(
        channel="email", external_id="stray-1", conversation="x@nowhere.example",
        sender="x@nowhere.example", sender_name="X", text="Who reads this?",
        occurred_at=desk.clock.now()), reason="no account knows x@nowhere.example",
        actor="integration:email")
    # Announcements: one delivered to the Telegram-linked account, with a case linked to it.
    announcement = desk.publish_announcement(
        kind="incident", title="Slow sync", text="Sync runs late.",
        starts_at=desk.clock.now() - timedelta(hours=1), accounts=[vip],
        actor="staff:ann").ids["announcementId"]
    AnnouncementReactor(desk, runtime.services.announcements,
                        runtime.services.directory).fan_out(announcement)
    case = desk.open_case(account_id=vip, channel="email", subject="Sync late?", text="Why?",
                          actor="staff:ann").ids["caseId"]
    desk.link_case_to_announcement(announcement_id=announcement, case_id=case,
                                   actor="system:announcements")


def test_a_page_is_folded_once_even_with_two_runners(runtime: Runtime) -> None:
    """Two runners of one projection (two processes) share the position: nothing doubles."""
    seed(runtime, accounts=4, months=1)
    first = runtime.runner("case_queues")
    rival = ProjectionRunner(first.projection, runtime.store, first.events, page_size=5)
    first.page_size = 5
    threads = [threading.Thread(target=r.catch_up) for r in (first, rival)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reference = dump(runtime.store, first.projection)
    first.rebuild()
    assert dump(runtime.store, first.projection) == reference


def test_a_changed_projection_version_rebuilds_on_start(runtime: Runtime) -> None:
    seed(runtime, accounts=3, months=1)
    runner = runtime.runner("accounts")
    runner.catch_up()
    before = dump(runtime.store, runner.projection)
    with runtime.store.transaction() as tx:
        tx.set_position("accounts", runner.position, runner.projection.version + 99)
        tx.execute("DELETE FROM accounts")  # a stale view of another shape
    runner.prepare()
    assert runner.position == 0
    runner.catch_up()
    assert dump(runtime.store, runner.projection) == before


def test_views_survive_a_restart_and_resume_from_their_position(
        settings: Any, clock: Any) -> None:
    first = Runtime.open(settings, clock)
    try:
        seed(first, accounts=3, months=1)
        for runner in first.runners:
            runner.catch_up()
        head = first.desk.recorder.max_notification_id()
        account = first.desk.open_account(name="Late Arrival", tier="business",
                                          manager="Ben Okafor", currency="EUR",
                                          actor="staff:ben", occurred_at=START - timedelta(1))
    finally:
        first.close()
    second = Runtime.open(settings, clock)
    try:
        assert all(r.position == head for r in second.runners)
        for runner in second.runners:
            assert runner.catch_up() == 1
        found = second.services.accounts.get_many([str(account.ids["accountId"])])
        assert found[str(account.ids["accountId"])]["name"] == "Late Arrival"
    finally:
        second.close()


def test_projector_pool_follows_new_commands(runtime: Runtime) -> None:
    runtime.pool.start()
    result = runtime.desk.open_account(name="Initech Foods", tier="standard",
                                       manager="Chloe Martin", currency="EUR",
                                       actor="staff:chloe", occurred_at=START)
    runtime.pool.nudge()
    deadline = threading.Event()
    for _ in range(200):
        if runtime.store.positions().get("accounts", 0) >= result.notification_id:
            break
        deadline.wait(0.02)
    assert runtime.store.positions()["accounts"] >= result.notification_id
    assert all(s.last_error is None for s in runtime.pool.status())


class PoisonedCases(Projection):
    """A view with a bug: it cannot fold an escalation."""

    name = "poisoned_cases"
    tables = CaseQueuesProjection.tables

    def __init__(self) -> None:
        self.inner = CaseQueuesProjection()

    @property
    def topics(self) -> frozenset[str]:
        return self.inner.topics

    def apply(self, topic: str, event: Any, rows: Any, position: int) -> None:
        if topic == "carelog:Case.Escalated":
            raise ValueError("cannot fold an escalation")
        self.inner.apply(topic, event, rows, position)


def _poisoned_log(runtime: Runtime) -> tuple[int, int]:
    """A case, then its escalation (the poison), then more: (poison id, head)."""
    desk = runtime.desk
    account_id = desk.open_account(name="Globex", tier="vip", manager="Anna Berg",
                                   currency="EUR", actor="staff:ann",
                                   occurred_at=START - timedelta(days=3)).ids["accountId"]
    case_id = desk.open_case(account_id=account_id, channel="email", subject="Broken",
                             text="It is broken", actor="contact:x",
                             occurred_at=START - timedelta(days=2)).ids["caseId"]
    poison = desk.escalate_case(case_id=case_id, reason="Needs line 2", actor="staff:ann",
                                occurred_at=START - timedelta(days=1))
    desk.assign_case(case_id=case_id, agent="ivy", actor="staff:ann", occurred_at=START)
    return poison.notification_id, int(desk.recorder.max_notification_id() or 0)


def test_a_fold_error_commits_what_precedes_the_culprit_once(runtime: Runtime) -> None:
    poison, head = _poisoned_log(runtime)
    runner = ProjectionRunner(PoisonedCases(), runtime.store, runtime.runners[0].events)
    runner.prepare()
    last = runtime.desk.recorder.select_notifications(start=head, limit=1)
    with pytest.raises(FoldError) as failed:
        runner.apply(last, follows=head - 1)  # the runner fills the gap from the log
    assert failed.value.notification.id == poison
    assert runtime.store.positions()["poisoned_cases"] == poison - 1
    rows = dump(runtime.store, runner.projection)["case_interactions"]
    assert len(rows) == 1, "the opening message is folded once"


def test_the_embedded_pool_dead_letters_a_poison_event_and_stops(runtime: Runtime) -> None:
    poison, _ = _poisoned_log(runtime)
    runner = ProjectionRunner(PoisonedCases(), runtime.store, runtime.runners[0].events)
    pool = ProjectorPool([runner], poll_interval=0.01, max_fold_attempts=3)
    pool.prepare()
    pool.start()
    for _ in range(500):
        if runtime.store.dead_letters():
            break
        threading.Event().wait(0.01)
    pool.stop()
    [letter] = runtime.store.dead_letters()
    assert (letter.name, letter.notification_id, letter.deliveries) == (
        "poisoned_cases", poison, 3)
    assert runtime.store.positions()["poisoned_cases"] == poison - 1
    assert pool.status()[0].running is False


class FixedCases(PoisonedCases):
    """The same view once the bug is fixed."""

    def apply(self, topic: str, event: Any, rows: Any, position: int) -> None:
        self.inner.apply(topic, event, rows, position)


def test_folding_past_a_dead_letter_after_the_fix_clears_it(runtime: Runtime) -> None:
    poison, head = _poisoned_log(runtime)
    broken = ProjectionRunner(PoisonedCases(), runtime.store, runtime.runners[0].events)
    broken.prepare()
    with pytest.raises(FoldError) as failed:
        broken.catch_up()
    runtime.store.record_dead_letter(failed.value.dead_letter(5))
    assert [d.notification_id for d in runtime.store.dead_letters()] == [poison]
    fixed = ProjectionRunner(FixedCases(), runtime.store, runtime.runners[0].events)
    fixed.prepare()  # the process restarted with the fix deployed
    fixed.catch_up()
    assert fixed.position == head
    assert runtime.store.dead_letters() == []


def test_processes_that_only_read_never_empty_a_view(settings: Any, clock: Any) -> None:
    """An API beside worker processes (or the relay) finds a view of another projection version:
    it leaves it to the projectors, which rebuild it; it only creates missing tables."""
    first = Runtime.open(settings, clock)
    try:
        seed(first, accounts=3, months=1)
        for runner in first.runners:
            runner.catch_up()
        with first.store.transaction() as tx:
            tx.set_position("accounts", first.runner("accounts").position, 99)
        before = dump(first.store, first.runner("accounts").projection)
    finally:
        first.close()
    reader = Runtime.open(settings, clock, folds=False)
    try:
        assert dump(reader.store, reader.runner("accounts").projection) == before
        assert reader.services.accounts.count() == 3
    finally:
        reader.close()
    folder = Runtime.open(settings, clock)
    try:
        assert folder.runner("accounts").position == 0, "the projector rebuilds it"
    finally:
        folder.close()


class _LogUpTo:
    """The log cut at a position: what a live view had folded at that moment."""

    def __init__(self, runtime: Runtime, last: int) -> None:
        from projections.runner import ApplicationLog

        self.inner = ApplicationLog(runtime.desk)
        self.last = last

    def notifications(self, after: int, limit: int) -> Any:
        return [n for n in self.inner.notifications(after, limit) if n.id <= self.last]

    def decode(self, notification: Any) -> Any:
        return self.inner.decode(notification)

    def head(self) -> int:
        return self.last


def _history_in_time_order(runtime: Runtime, clock: Any, steps: int = 120) -> None:
    """Accounts, revenue and cases written as time passes, so log order is time order."""
    import random
    from decimal import Decimal

    from domain.values import Money

    rng = random.Random(7)
    accounts: list[Any] = []
    cases: list[Any] = []
    desk = runtime.desk
    clock.at = START - timedelta(days=60)
    article = desk.draft_article(title="Restarting a sync", body="Press Restart.",
                                 language="en", actor="staff:ann").ids["articleId"]
    desk.publish_article(article_id=article, visibility="public", actor="staff:ann")
    desk.publish_announcement(kind="maintenance", title="Upgrade", text="Sunday night.",
                              starts_at=clock.now(), actor="staff:ann")
    for step in range(steps):
        clock.advance(timedelta(hours=rng.randint(1, 12)))
        kind = rng.random()
        if not accounts or kind < 0.1:
            accounts.append(desk.open_account(name=f"Client {step}", tier="vip", manager="Ann",
                                              currency="EUR", actor="staff:ann").ids["accountId"])
        elif kind < 0.35:
            month = clock.now().strftime("%Y-%m")
            desk.record_revenue(account_id=rng.choice(accounts), period=month,
                                mrr=Money(Decimal(rng.randint(1, 90) * 1000), "EUR"),
                                actor="staff:ann")
        elif kind < 0.7 or not cases:
            cases.append(desk.open_case(account_id=rng.choice(accounts), channel="email",
                                        subject="Help", text="It broke", actor="contact:x",
                                        priority=rng.choice(["urgent", "high", "normal"])
                                        ).ids["caseId"])
        elif kind < 0.85:
            desk.reply_to_case(case_id=rng.choice(cases), text="On it", agent="Bo",
                               actor="staff:bo")
        else:
            case = cases.pop(rng.randrange(len(cases)))
            desk.resolve_case(case_id=case, actor="staff:bo")


def test_an_as_of_replay_equals_the_live_view_at_that_moment(runtime: Runtime, clock: Any) -> None:
    from projections.replay import Replays
    from projections.runner import ApplicationLog
    from projections.store import SQLiteViewStore

    _history_in_time_order(runtime, clock)
    log = ApplicationLog(runtime.desk)
    times = [(n.id, log.decode(n).occurred_at) for n in log.notifications(0, 1_000_000)]
    assert [t for _, t in times] == sorted(t for _, t in times)
    as_of = times[len(times) // 2][1]
    cut = max(i for i, t in times if t <= as_of)
    rates = ReportingRates(runtime.settings.currency, runtime.settings.fx_rates)
    replays = Replays(log, lambda: all_projections(rates), page_size=50)
    names = [r.name for r in runtime.runners]

    replayed = replays.views(as_of, names)

    live = SQLiteViewStore.in_memory()
    for projection in all_projections(rates):
        at_that_moment = ProjectionRunner(projection, live, _LogUpTo(runtime, cut), 13)
        at_that_moment.prepare()
        at_that_moment.catch_up()
        expected = dump(live, projection)
        assert any(expected.values()) or projection.name in ("alerts_and_goals",
                                                              "feedback_board", "directory")
        assert dump(replayed, projection) == expected, projection.name
    assert replays.views(as_of, names) is replayed, "a replay is kept for the same moment"
    replays.close()
    live.close()


@pytest.mark.parametrize("backend", ["postgres"])
def test_views_commit_without_waiting_for_the_disk_and_the_log_waits(runtime: Runtime) -> None:
    """A view's rows and position are folded again after a lost commit; the log's are not."""
    with runtime.store.transaction() as tx:
        assert tx.fetch_one("SHOW synchronous_commit") == {"synchronous_commit": "off"}
    with runtime.desk.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None
    assert row["synchronous_commit"] == "on"
