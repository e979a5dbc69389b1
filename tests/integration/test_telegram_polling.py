"""The long-polling worker against a real local Bot API server: every update handled once, in
order, the offset moved only past handled ones, errors survived (C6 over getUpdates)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.settings import Secret
from integrations.telegram.bot_api import BotApi
from integrations.telegram.updates import (
    BotIdentity,
    Ignored,
    ParsedUpdate,
    TelegramMessage,
)
from tests.telegram_server import TOKEN, BotApiStub, bot_api_stub
from workers.telegram_polling import TelegramPoller

pytestmark = pytest.mark.integration

BOT = BotIdentity(7000000001, "CarelogBot")
GROUP = {"id": -1001234567890, "title": "Acme", "type": "supergroup"}
ANNA = {"id": 111222333, "is_bot": False, "first_name": "Anna"}


def text_update(update_id: int, message_id: int, date: int = 1764601200) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": message_id, "date": date, "chat": GROUP, "from": ANNA,
        "text": f"message {message_id}"}}


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with bot_api_stub(max_poll=0.3) as server:
        yield server


@pytest.fixture
def api(stub: BotApiStub) -> Iterator[BotApi]:
    with BotApi(Secret(TOKEN), base_url=stub.url, timeout=2.0) as client:
        yield client


class Recorder:
    def __init__(self) -> None:
        self.updates: list[ParsedUpdate] = []
        self.fail_on: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, update: ParsedUpdate) -> None:
        with self.lock:
            if update.update_id in self.fail_on:
                self.fail_on.discard(update.update_id)
                raise RuntimeError(f"the router failed on {update.update_id}")
            self.updates.append(update)

    def ids(self) -> list[int]:
        with self.lock:
            return [u.update_id for u in self.updates]


@pytest.fixture
def running(api: BotApi) -> Iterator[Callable[[Recorder], TelegramPoller]]:
    pollers: list[TelegramPoller] = []

    def start(recorder: Recorder) -> TelegramPoller:
        poller = TelegramPoller(api, recorder, BOT, poll_timeout=1, min_backoff=0.05,
                                max_backoff=0.2)
        poller.start()
        pollers.append(poller)
        return poller

    yield start
    for poller in pollers:
        poller.stop()


def test_updates_are_handled_in_order_and_confirmed(
        stub: BotApiStub, running: Callable[[Recorder], TelegramPoller]) -> None:
    recorder = Recorder()
    poller = running(recorder)
    stub.queue(text_update(10, 500), text_update(11, 501))
    wait_for(lambda: recorder.ids() == [10, 11])
    assert poller.offset.next == 12
    wait_for(lambda: any(c.params.get("offset") == 12 for c in stub.calls_to("getUpdates")))
    assert stub.pending == []  # confirmed by the next call: Telegram forgets them


def test_c6_duplicates_and_reordering_are_read_once_with_message_order(
        stub: BotApiStub, running: Callable[[Recorder], TelegramPoller]) -> None:
    recorder = Recorder()
    running(recorder)
    # Delivered 10, 10, 12, 11, then an id chosen at random after a quiet week.
    stub.queue(text_update(10, 500), text_update(10, 500), text_update(12, 502, 1764601202),
               text_update(11, 501, 1764601201))
    wait_for(lambda: 12 in recorder.ids())
    stub.queue(text_update(987654, 503, 1764601203))
    wait_for(lambda: 987654 in recorder.ids())
    assert recorder.ids() == [10, 11, 12, 987654]  # each once; 10 was not handed over twice
    messages = [u for u in recorder.updates if isinstance(u, TelegramMessage)]
    assert [m.message.text for m in sorted(messages, key=lambda m: m.order_key)] == [
        "message 500", "message 501", "message 502", "message 503"]


def test_a_failing_handler_rereads_the_update_instead_of_losing_it(
        stub: BotApiStub, running: Callable[[Recorder], TelegramPoller]) -> None:
    recorder = Recorder()
    recorder.fail_on = {11}
    poller = running(recorder)
    stub.queue(text_update(10, 500), text_update(11, 501), text_update(12, 502))
    wait_for(lambda: recorder.ids() == [10, 11, 12])
    assert poller.errors == 1
    offsets = [c.params.get("offset") for c in stub.calls_to("getUpdates")]
    assert 11 in offsets  # asked again from the failed update on


def test_unreadable_and_unhandled_updates_do_not_block_the_rest(
        stub: BotApiStub, running: Callable[[Recorder], TelegramPoller]) -> None:
    recorder = Recorder()
    poller = running(recorder)
    stub.queue({"update_id": 10, "message": {"message_id": 1}},  # no chat, no date
               {"update_id": 11, "my_chat_member": {"chat": GROUP}},
               text_update(12, 502))
    wait_for(lambda: 12 in recorder.ids())
    assert recorder.ids() == [11, 12]
    assert isinstance(recorder.updates[0], Ignored)
    assert poller.offset.next == 13


def test_an_outage_is_survived_and_the_poller_stops_cleanly(
        api: BotApi, stub: BotApiStub) -> None:
    recorder = Recorder()
    poller = TelegramPoller(api, recorder, BOT, poll_timeout=1, min_backoff=0.05,
                            max_backoff=0.2)
    stub.webhook = {"url": "https://elsewhere"}  # getUpdates answers 409 meanwhile
    poller.start()
    wait_for(lambda: poller.errors >= 2)
    assert poller.last_error is not None
    assert "409" in poller.last_error
    stub.webhook = None
    stub.queue(text_update(10, 500))
    wait_for(lambda: recorder.ids() == [10])
    wait_for(lambda: poller.last_error is None)
    started = time.monotonic()
    assert poller.stop(timeout=5.0)
    assert not poller.running
    assert time.monotonic() - started < 3.0
