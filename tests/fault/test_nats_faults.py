"""Faults on the NATS side (B1, B3, B5, B8 of the matrix in reliability-security.md):
a nats-server this test started is killed, stopped or restarted; a consumer dies before its
acknowledgement; a poison event. After healing, a checker compares the log, the stream and
the views: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import nats
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.status import gather_status
from domain.values import Money
from integrations.clock import FakeClock
from integrations.nats.subjects import Subjects
from integrations.settings import Settings
from projections.accounts import AccountsProjection
from projections.money import ReportingRates
from projections.projection import handles
from projections.rows import Rows
from projections.runner import ApplicationLog, ProjectionRunner
from tests.conftest import START
from tests.integration.test_projections import dump
from tests.integration.test_stream import log_ids, seed, stream_ids, until, workers
from tests.servers import NatsServer
from workers.relay import RELAY
from workers.stream_projector import ProjectionStoppedError, StreamProjector

pytestmark = pytest.mark.fault


@pytest.fixture
def runtime(backend: str, make_settings: Callable[..., Settings], own_nats: NatsServer,
            clock: FakeClock) -> Any:
    settings = make_settings(backend, nats_url=own_nats.url, nats_prefix="carelog",
                             nats_monitor_url=own_nats.monitor_url, projection_page_size=50)
    rt = Runtime.open(settings, clock)
    yield rt
    rt.close()


class Writer:
    """Commands in a thread until stopped: what clients were told is kept for the checker."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.told: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.write, daemon=True)

    def write(self) -> None:
        desk = self.runtime.desk
        n = 0
        while not self.stop.is_set():
            n += 1
            made = desk.open_account(name=f"Burst {n}", tier="business", manager="Ben Okafor",
                                     currency="EUR", actor="staff:ben",
                                     occurred_at=START - timedelta(days=1))
            self.told.append(made.notification_id)
            revenue = desk.record_revenue(account_id=made.ids["accountId"], period="2026-02",
                                          mrr=Money(Decimal(100 + n), "EUR"), actor="staff:ben",
                                          occurred_at=START - timedelta(hours=1))
            self.told.append(revenue.notification_id)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def check(runtime: Runtime) -> None:
    """Every position the clients were told of is in the stream once, in order; every view
    equals a rebuild from the log."""
    head = runtime.desk.recorder.max_notification_id()
    assert runtime.store.positions()[RELAY] == head
    settings = runtime.settings
    assert asyncio.run(stream_ids(settings.nats_url or "", settings.nats_prefix)) \
        == log_ids(runtime)
    kept = {r.name: dump(runtime.store, r.projection) for r in runtime.runners}
    for runner in runtime.runners:
        runner.rebuild()
    assert {r.name: dump(runtime.store, r.projection) for r in runtime.runners} == kept


def caught_up(runtime: Runtime) -> Callable[[], bool]:
    def check() -> bool:
        head = runtime.desk.recorder.max_notification_id()
        positions = runtime.store.positions()
        names = (RELAY, *(r.name for r in runtime.runners))
        return all(positions.get(n, 0) == head for n in names)
    return check


def test_b1_nats_killed_and_restarted_during_a_relay_burst(runtime: Runtime,
                                                           own_nats: NatsServer) -> None:
    seed(runtime, accounts=6)

    async def scenario() -> list[int]:
        async with workers(runtime):
            with Writer(runtime) as writer:
                await asyncio.sleep(1.0)
                own_nats.kill()
                await asyncio.sleep(1.0)
                own_nats.start()
                await asyncio.sleep(1.0)
                own_nats.stop()  # and a clean restart too
                own_nats.start()
                await asyncio.sleep(0.5)
            await until(caught_up(runtime), 60)
            return writer.told

    told = asyncio.run(scenario())
    assert told, "the writer made commands during the faults"
    assert set(told) <= set(log_ids(runtime))
    check(runtime)


def test_b8_commands_keep_succeeding_while_nats_is_down(runtime: Runtime,
                                                        own_nats: NatsServer) -> None:
    app = create_app(runtime.settings, runtime=runtime)
    with TestClient(app) as client:
        own_nats.stop()
        told = []
        for n in range(20):
            response = client.post("/graphql", json={"query": f"""mutation {{ openAccount(
                input: {{name: "While Down {n}", tier: VIP, manager: "Anna Berg"}})
                {{ notificationId }} }}"""})
            body = response.json()
            assert "errors" not in body, body
            told.append(body["data"]["openAccount"]["notificationId"])
        assert runtime.store.positions().get("accounts", 0) < told[-1]
        own_nats.start()

        async def drained() -> None:
            await until(caught_up(runtime), 60)

        asyncio.run(drained())
    assert set(told) <= set(log_ids(runtime))
    check(runtime)


def test_b3_a_consumer_that_dies_before_its_ack_gets_the_batch_again(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    head = seed(runtime, accounts=4)
    runner = runtime.runner("case_queues")

    class Crash(BaseException):
        """Not an Exception: nothing in the projector catches it, as with kill -9."""

    async def scenario() -> None:
        nc = await nats.connect(runtime.settings.nats_url or "")
        js = nc.jetstream()
        subjects = Subjects(runtime.settings.nats_prefix)
        async with workers(runtime, projections=False):
            await until(lambda: runtime.store.positions().get(RELAY) == head)
        projector = StreamProjector(runner, nc, subjects, batch=20, ack_wait=1.0,
                                    catch_up_from_log=False)
        original = nats.aio.msg.Msg.ack

        async def die(self: Any) -> None:
            raise Crash

        monkeypatch.setattr(nats.aio.msg.Msg, "ack", die)
        with pytest.raises(Crash):
            await asyncio.wait_for(projector.run(asyncio.Event()), 60)
        committed = runtime.store.positions()["case_queues"]
        assert 0 < committed < head, "the first batch committed, its ack never went out"
        monkeypatch.setattr(nats.aio.msg.Msg, "ack", original)
        await asyncio.sleep(1.5)  # past the ack wait: the batch is due for redelivery
        restarted = StreamProjector(runner, nc, subjects, batch=20, ack_wait=1.0,
                                    catch_up_from_log=False)
        stop = asyncio.Event()
        task = asyncio.create_task(restarted.run(stop))
        await until(lambda: runtime.store.positions()["case_queues"] == head, 30)
        for _ in range(100):  # the unacknowledged batch comes back after ack_wait
            consumer = await js.consumer_info(subjects.stream, subjects.consumer(runner.name))
            deliveries, messages = consumer.delivered.consumer_seq, consumer.delivered.stream_seq
            if deliveries >= messages + 20 and not consumer.num_ack_pending:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await nc.close()
        assert deliveries >= messages + 20, "the unacknowledged batch was delivered again"

    asyncio.run(scenario())
    kept = dump(runtime.store, runner.projection)
    runner.rebuild()
    assert dump(runtime.store, runner.projection) == kept


class PoisonedAccounts(AccountsProjection):
    """The accounts view with a bug: it cannot fold a tier change."""

    name = "poisoned_accounts"

    @handles("carelog:Account.TierChanged")
    def tier_changed(self, e: Any, rows: Rows, position: int) -> None:
        raise ValueError("cannot fold a tier change")


def test_b5_a_poison_event_is_dead_lettered_and_the_projection_stops(
        runtime: Runtime) -> None:
    account = runtime.desk.open_account(name="Poisoned", tier="vip", manager="Anna Berg",
                                        currency="EUR", actor="staff:ann",
                                        occurred_at=START - timedelta(days=2))
    account_id = account.ids["accountId"]
    poison = runtime.desk.change_tier(account_id=account_id, tier="business", actor="staff:ann",
                                      occurred_at=START - timedelta(days=1))
    after = runtime.desk.assign_manager(account_id=account_id, manager="Ben Okafor",
                                        actor="staff:ann", occurred_at=START)
    runner = ProjectionRunner(PoisonedAccounts(ReportingRates("EUR", {})), runtime.store,
                              ApplicationLog(runtime.desk), page_size=10)
    runtime.runners.append(runner)

    async def scenario() -> None:
        nc = await nats.connect(runtime.settings.nats_url or "")
        subjects = Subjects(runtime.settings.nats_prefix)
        async with workers(runtime, projections=False):
            await until(lambda: runtime.store.positions().get(RELAY) == after.notification_id)
        projector = StreamProjector(runner, nc, subjects, batch=10,
                                    max_deliveries=3)
        with pytest.raises(ProjectionStoppedError):
            await asyncio.wait_for(projector.run(asyncio.Event()), 30)
        await nc.close()

    asyncio.run(scenario())
    letters = runtime.store.dead_letters()
    assert [(d.name, d.notification_id, d.deliveries) for d in letters] == [
        ("poisoned_accounts", poison.notification_id, 3)]
    assert "cannot fold a tier change" in letters[0].error
    # Stopped before the poison: nothing after it was folded, nothing skipped.
    assert runtime.store.positions()["poisoned_accounts"] == poison.notification_id - 1
    report = asyncio.run(gather_status(runtime))
    assert report["dead_letters"][0]["notification_id"] == poison.notification_id
    assert report["stream"]["messages"] == after.notification_id
