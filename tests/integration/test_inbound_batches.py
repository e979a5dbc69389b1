"""Group commit of inbound messages on both backends: `CareDesk.receive_messages` decides a
batch against one in-memory copy of each aggregate and saves it in one transaction, and keeps
every guarantee of one message at a time; `GroupCommit` gathers concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.group_commit import GroupCommit
from domain.application import Arrival, CareDesk, CommandResult, RefusedChannelError
from domain.errors import NotFoundError
from domain.ports import InboundMessage
from integrations.clock import FakeClock
from integrations.persistence import open_desk
from integrations.settings import Settings

STAFF = "staff:ann"
TELEGRAM = "integration:telegram"


@pytest.fixture
def desk(backend: str, make_settings: Callable[..., Settings],
         clock: FakeClock) -> Iterator[CareDesk]:
    app = open_desk(make_settings(backend), clock)
    assert app.read_histories is not None  # batches read their aggregates in one query
    yield app
    app.close()


def _account(desk: CareDesk, tier: str = "vip") -> UUID:
    return desk.open_account(name=f"Client {uuid4().hex[:6]}", tier=tier, manager="Ann",
                             currency="EUR", actor=STAFF).ids["accountId"]


def _linked(desk: CareDesk, account_id: UUID, chat: str) -> None:
    code = desk.issue_link_code(account_id=account_id, actor=STAFF).extra["code"]
    desk.redeem_link_code(code=code, channel="telegram", conversation=chat, title=chat,
                          actor=TELEGRAM)


def _said(account_id: UUID, chat: str, external_id: str, clock: FakeClock,
          channel: str = "telegram") -> Arrival:
    return Arrival(InboundMessage(channel=channel, external_id=external_id, conversation=chat,
                                  sender="42", sender_name="Eva Client",
                                  text=f"message {external_id}", occurred_at=clock.now()),
                   account_id, TELEGRAM)


def _recorded(desk: CareDesk) -> list[Any]:
    """The inbound Interaction.Recorded events in log order."""
    found = []
    for n in desk.recorder.select_notifications(start=None, limit=100_000):
        if n.topic == "carelog:Interaction.Recorded":
            event = desk.mapper.to_domain_event(n)
            if event.direction == "inbound":
                found.append(event)
    return found


def _results(outcomes: list[CommandResult | Exception]) -> list[CommandResult]:
    assert all(isinstance(o, CommandResult) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, CommandResult)]


def test_a_batch_is_one_transaction_and_each_message_gets_its_own_answer(
        desk: CareDesk, clock: FakeClock) -> None:
    one, two = _account(desk), _account(desk)
    _linked(desk, one, "-1001")
    _linked(desk, two, "-1002")
    head = desk.recorder.max_notification_id() or 0
    results = _results(desk.receive_messages([
        _said(one, "-1001", "-1001:1", clock), _said(two, "-1002", "-1002:1", clock),
        _said(one, "-1001", "-1001:2", clock)]))
    last = desk.recorder.max_notification_id()
    assert [r.duplicate for r in results] == [False, False, False]
    assert {r.notification_id for r in results} == {last}
    # Two messages in one chat: the second joins the case the first opened, in one batch.
    assert results[0].ids["caseId"] == results[2].ids["caseId"] != results[1].ids["caseId"]
    # Per chat: interaction, case opened, chat follows the case; the third message adds one.
    assert last == head + 7
    assert [e.external_id for e in _recorded(desk)] == ["-1001:1", "-1002:1", "-1001:2"]
    chat = desk.conversation("telegram", "-1001")
    assert chat is not None
    assert chat.current_case_id == results[0].ids["caseId"]


def test_a_redelivery_is_a_duplicate_within_a_batch_and_from_the_log(
        desk: CareDesk, clock: FakeClock) -> None:
    account = _account(desk)
    _linked(desk, account, "-1001")
    first, again = _results(desk.receive_messages([_said(account, "-1001", "m1", clock),
                                                   _said(account, "-1001", "m1", clock)]))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.ids == first.ids
    old, new = _results(desk.receive_messages([_said(account, "-1001", "m1", clock),
                                               _said(account, "-1001", "m2", clock)]))
    assert old.duplicate
    assert old.ids == first.ids
    assert not new.duplicate
    assert new.ids["caseId"] == first.ids["caseId"]
    assert [e.external_id for e in _recorded(desk)] == ["m1", "m2"]


def test_two_messages_to_a_resolved_case_reopen_it_once_and_both_join_it(
        desk: CareDesk, clock: FakeClock) -> None:
    account = _account(desk)
    _linked(desk, account, "-1001")
    case_id = desk.receive_message(message=_said(account, "-1001", "m1", clock).message,
                                   account_id=account, actor=TELEGRAM).ids["caseId"]
    desk.resolve_case(case_id=case_id, actor=STAFF)
    a, b = _results(desk.receive_messages([_said(account, "-1001", "m2", clock),
                                           _said(account, "-1001", "m3", clock)]))
    assert a.ids["caseId"] == b.ids["caseId"] == case_id
    case = desk.case(case_id)
    assert case.status == "open"
    reopened = [n for n in desk.recorder.select_notifications(start=None, limit=10_000)
                if n.topic == "carelog:Case.Reopened"]
    assert len(reopened) == 1
    assert [e.external_id for e in _recorded(desk)] == ["m1", "m2", "m3"]


def test_a_batch_reads_what_any_writer_recorded_since_the_last_batch(
        settings: Settings, clock: FakeClock) -> None:
    desk, other = open_desk(settings, clock), open_desk(settings, clock)
    try:
        account = _account(desk)
        _linked(desk, account, "-1001")
        _linked(desk, account, "-1002")
        one, two = (r.ids["caseId"] for r in _results(desk.receive_messages([
            _said(account, "-1001", "m1", clock), _said(account, "-1002", "m2", clock)])))
        assert len(desk.batch_reads) == 5  # the two chats, the account and the two cases
        other.resolve_case(case_id=one, actor=STAFF)  # another process, meanwhile
        other.close_case(case_id=two, actor=STAFF)
        again, anew = _results(desk.receive_messages([
            _said(account, "-1001", "m3", clock), _said(account, "-1002", "m4", clock)]))
        assert again.ids["caseId"] == one
        assert desk.case(one).status == "open"  # reopened: the batch saw it resolved
        assert anew.ids["caseId"] not in (one, two)  # a closed case is never joined
        assert desk.case(two).status == "closed"
    finally:
        other.close()
        desk.close()


def test_a_batch_after_the_first_reads_its_chats_accounts_and_cases_in_one_query(
        desk: CareDesk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    account = _account(desk)
    _linked(desk, account, "-1001")
    _linked(desk, account, "-1002")
    first = [_said(account, "-1001", "m1", clock), _said(account, "-1002", "m2", clock)]
    cases = {r.ids["caseId"] for r in _results(desk.receive_messages(first))}
    read = desk.read_histories
    assert read is not None
    queries: list[list[UUID]] = []

    def counted(after: Any) -> Any:
        queries.append(list(after))
        return read(after)

    monkeypatch.setattr(desk, "read_histories", counted)
    again = [_said(account, "-1001", "m3", clock), _said(account, "-1002", "m4", clock)]
    known = desk.conversations(("telegram", a.message.conversation) for a in again)
    assert {account, *cases} <= set(known)
    assert {r.ids["caseId"] for r in _results(desk.receive_messages(again, known=known))} == cases
    assert len(queries) == 1


def test_a_concurrent_writer_makes_the_batch_land_one_by_one(
        desk: CareDesk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    account = _account(desk)
    _linked(desk, account, "-1001")
    _linked(desk, account, "-1002")
    case_id = desk.receive_message(message=_said(account, "-1001", "m1", clock).message,
                                   account_id=account, actor=TELEGRAM).ids["caseId"]
    desk.resolve_case(case_id=case_id, actor=STAFF)
    save_events = desk.save_events
    saves: list[str] = []

    def writer_gets_in_first(events: Any) -> Any:
        # Before each of the batch's two attempts, someone else changes the case it reopens.
        if len(events) > 3:
            saves.append("batch")
            if len(saves) <= 2:
                desk.assign_case(case_id=case_id, agent=f"agent{len(saves)}", actor=STAFF)
        return save_events(events)

    monkeypatch.setattr(desk, "save_events", writer_gets_in_first)
    results = _results(desk.receive_messages([
        _said(account, "-1001", "m2", clock), _said(account, "-1002", "m3", clock),
        _said(account, "-1001", "m4", clock)]))
    monkeypatch.undo()
    assert saves == ["batch", "batch"]  # optimistic, then asking the store; then one by one
    assert [r.duplicate for r in results] == [False, False, False]
    assert results[0].ids["caseId"] == results[2].ids["caseId"] == case_id
    assert [e.external_id for e in _recorded(desk)] == ["m1", "m2", "m3", "m4"]
    case = desk.case(case_id)
    assert case.status == "open"
    assert case.assignee == "agent2"


def test_a_failing_message_fails_only_itself_and_a_refusal_still_records(
        desk: CareDesk, clock: FakeClock) -> None:
    vip, standard = _account(desk), _account(desk, tier="standard")
    _linked(desk, vip, "-1001")
    outcomes = desk.receive_messages([
        _said(vip, "-1001", "m1", clock),
        _said(uuid4(), "-1009", "m2", clock),  # no such account
        _said(standard, "-1003", "m3", clock),  # Telegram is not in the standard plan
        _said(vip, "-1001", "m4", clock)])
    assert isinstance(outcomes[0], CommandResult)
    assert isinstance(outcomes[1], NotFoundError)
    assert isinstance(outcomes[2], RefusedChannelError)
    assert "email" in outcomes[2].allowed
    assert isinstance(outcomes[3], CommandResult)
    assert outcomes[3].ids["caseId"] == outcomes[0].ids["caseId"]
    assert outcomes[2].result.notification_id == outcomes[0].notification_id
    assert [e.external_id for e in _recorded(desk)] == ["m1", "m3", "m4"]
    # What the batch decided before the failure was decided again from the store, not twice.
    chat = desk.conversation("telegram", "-1001")
    assert chat is not None
    assert chat.current_case_id == outcomes[0].ids["caseId"]


def test_concurrent_callers_are_gathered_into_batches_and_get_their_own_outcomes() -> None:
    entered, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def run(batch: list[int]) -> list[int | Exception]:
        batches.append(list(batch))
        if len(batches) == 1:
            entered.set()
            release.wait(5)
        return [ValueError(n) if n < 0 else n * 10 for n in batch]

    group: GroupCommit[int, int] = GroupCommit(run)  # type: ignore[arg-type]
    answers: dict[int, Any] = {}

    def call(n: int) -> None:
        try:
            answers[n] = group.submit(n)
        except ValueError as error:
            answers[n] = error

    first = threading.Thread(target=call, args=(1,))
    first.start()
    assert entered.wait(5)
    others = [threading.Thread(target=call, args=(n,)) for n in (2, -3, 4)]
    for t in others:
        t.start()
    while len(group._queue) < 3:  # all three wait for the first batch
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert batches[0] == [1]
    assert sorted(batches[1]) == [-3, 2, 4]
    assert answers[1] == 10
    assert answers[2] == 20
    assert answers[4] == 40
    assert isinstance(answers[-3], ValueError)
    assert (group.batches, group.requests) == (2, 4)


def test_many_callers_each_get_their_own_outcome_and_none_is_left_waiting() -> None:
    def run(batch: list[int]) -> list[int | Exception]:
        threading.Event().wait(0.001)  # a commit's round trip: others queue meanwhile
        return [ValueError(n) if n % 7 == 0 else n * 10 for n in batch]

    group: GroupCommit[int, int] = GroupCommit(run, max_batch=8)  # type: ignore[arg-type]
    answers: dict[int, int | str] = {}

    def call(first: int) -> None:
        for n in range(first, first + 20):
            try:
                answers[n] = group.submit(n)
            except ValueError:
                answers[n] = "error"

    callers = [threading.Thread(target=call, args=(t * 100,)) for t in range(1, 31)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(30)
    assert not any(t.is_alive() for t in callers)
    assert answers == {n: "error" if n % 7 == 0 else n * 10
                       for t in range(1, 31) for n in range(t * 100, t * 100 + 20)}
    assert group.requests == 600
    assert group.batches < 600  # gathered, at most 8 at a time
    assert not group._queue
