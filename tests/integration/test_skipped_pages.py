"""Projectors pass over pages without their topics without a transaction each; the pool stores
those positions together, and never over a position someone else moved (a rebuild)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from uuid import UUID

import pytest

from api.runtime import Runtime
from projections.case_queues import CaseFilter

pytestmark = pytest.mark.integration


def _open_account(runtime: Runtime, name: str) -> str:
    return str(runtime.desk.open_account(name=name, tier="vip", manager="Ann", currency="EUR",
                                         actor="staff:ann").ids["accountId"])


def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within 10 s"
        time.sleep(0.01)


def test_a_view_without_the_topics_moves_on_and_its_position_is_stored(
        runtime: Runtime) -> None:
    knowledge = runtime.runner("knowledge_base")  # no account events among its topics
    accounts = runtime.runner("accounts")
    runtime.pool.start()
    try:
        _open_account(runtime, "Acme")
        runtime.pool.nudge()
        head = runtime.desk.recorder.max_notification_id()
        _until(lambda: runtime.store.positions().get("knowledge_base") == head
               and runtime.store.positions().get("accounts") == head)
        assert knowledge.unsaved() is None
        assert accounts.position == head
        assert runtime.services.accounts.count() == 1
    finally:
        runtime.pool.stop()


def test_waiting_for_a_position_returns_for_views_that_had_nothing_to_fold(
        runtime: Runtime) -> None:
    runtime.pool.start()
    try:
        result = runtime.services.desk.open_account(
            name="Acme", tier="vip", manager="Ann", currency="EUR", actor="staff:ann")
        runtime.services.after_write()
        asyncio.run(runtime.services.wait_for(result.notification_id))
        positions = runtime.store.positions()
        assert all(positions[r.name] >= result.notification_id for r in runtime.runners)
    finally:
        runtime.pool.stop()


def test_a_skipped_position_is_not_stored_over_a_rebuild(runtime: Runtime) -> None:
    knowledge = runtime.runner("knowledge_base")
    knowledge.skip_idle_pages = True
    _open_account(runtime, "Acme")
    assert knowledge.run_page() > 0
    move = knowledge.unsaved()
    assert move is not None
    assert move[1] == 0
    # Meanwhile another process rebuilds the view and has folded further already.
    store = runtime.store
    with store.transaction() as tx:
        tx.lock_position("knowledge_base")
        tx.set_position("knowledge_base", 1, knowledge.projection.version)
    assert store.advance_positions([move]) == set()
    assert runtime.store.positions()["knowledge_base"] == 1
    # From where it was stored, the same move is made.
    with store.transaction() as tx:
        tx.lock_position("knowledge_base")
        tx.set_position("knowledge_base", 0, knowledge.projection.version)
    assert store.advance_positions([move]) == {"knowledge_base"}
    knowledge.saved(move[1], move[2])
    assert knowledge.unsaved() is None


def test_a_relevant_page_after_skipped_ones_stores_everything_once(runtime: Runtime) -> None:
    """Accounts only, then a case: the case view skips the accounts' pages, then folds the case
    in one transaction that also covers what it skipped, and keeps its memory."""
    queues = runtime.runner("case_queues")
    queues.skip_idle_pages = True
    queues.page_size = 1
    account = _open_account(runtime, "Acme")
    skipped = 0
    while (n := queues.run_page()) > 0:
        skipped += n
    assert skipped
    assert queues.unsaved() is not None
    runtime.desk.open_case(account_id=UUID(account), channel="email", subject="Help",
                           text="It is down", actor="client:eva")
    while queues.run_page() > 0:
        pass
    head = runtime.desk.recorder.max_notification_id()
    assert queues.unsaved() is None
    assert runtime.store.positions()["case_queues"] == head
    page = runtime.services.cases.page(CaseFilter(), first=10, after=None)
    assert [r["subject"] for r in page.rows] == ["Help"]


def test_a_view_whose_position_was_moved_elsewhere_folds_from_there_and_catches_up(
        runtime: Runtime) -> None:
    """As when `carelog rebuild` runs in another process: the skipped pages' position cannot
    be stored over the rebuild's, so the view folds from where the store says, up to the head."""
    runtime.pool.start()
    try:
        _open_account(runtime, "Acme")
        _open_account(runtime, "Initech")
        head = runtime.desk.recorder.max_notification_id()
        assert head > 1
        _until(lambda: runtime.store.positions().get("knowledge_base") == head)
        with runtime.store.transaction() as tx:  # the rebuild has come as far as 1
            tx.lock_position("knowledge_base")
            tx.set_position("knowledge_base", 1, runtime.runner("knowledge_base").projection
                            .version)
        _open_account(runtime, "Globex")
        head = runtime.desk.recorder.max_notification_id()
        _until(lambda: runtime.store.positions().get("knowledge_base") == head)
    finally:
        runtime.pool.stop()
