"""Inbound messages end to end on PostgreSQL: Telegram webhook over HTTP -> events in the log ->
rows in the `rooms` view, beside raw one-row PostgreSQL commits measured in the same run.

The server is the real app under uvicorn (in a thread of this process) with Telegram in webhook
mode; the load comes from `tests.bench.http_load` in a process of its own, K kept-alive
connections posting updates from groups linked to several accounts (`/link CODE` first).
A figure ends when the `rooms` view holds every message: each update is answered `routed`
once, the view holds each message once, and a redelivered sample answers `duplicate`.

Sizes (environment variables, optional):
  CARELOG_BENCH_INBOUND_CLIENTS    concurrent HTTP connections (40, Telegram's default for a
                                   webhook), and as many raw writer connections
  CARELOG_BENCH_INBOUND_MESSAGES   messages in the end-to-end figure (5,000)
  CARELOG_BENCH_RAW_COMMITS        one-row commits in each raw figure (5,000)
  CARELOG_BENCH_STORM              messages in the incident storm (50,000)
  CARELOG_BENCH_BATCHES            batches of 20 in the figure of the batch path alone (250)

The batch path alone (`CareDesk.conversations` then `receive_messages`, what a batch leader
does, without HTTP or projectors) shows what the serial part of group commit costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import psycopg
import pytest

from api.app import create_app
from api.runtime import Runtime
from domain.application import Arrival
from domain.ports import InboundMessage
from integrations.clock import SystemClock
from integrations.persistence import open_desk
from integrations.settings import Secret, Settings, TelegramSettings
from integrations.telegram.webhook import SECRET_HEADER
from tests.bench.conftest import figure, size
from tests.live import live_server
from tests.telegram_server import bot_api_stub

pytestmark = pytest.mark.bench

CLIENTS = size("INBOUND_CLIENTS", 40)
MESSAGES = size("INBOUND_MESSAGES", 5_000)
RAW_COMMITS = size("RAW_COMMITS", 5_000)
STORM = size("STORM", 50_000)
BATCHES = size("BATCHES", 250)
ACCOUNTS = 10
GROUPS_PER_ACCOUNT = 3
SECRET = "inbound-bench-secret"
ROOT = Path(__file__).resolve().parents[2]
_IN_VIEW = ("SELECT count(*), count(DISTINCT external_id) FROM room_messages "
            "WHERE channel = 'telegram' AND direction = 'inbound'")


@dataclass
class Server:
    url: str
    database_url: str
    chats: list[int]
    tmp: Path
    runtime: Runtime
    next_update: int = 1_000_000

    def bodies(self, count: int, label: str) -> list[bytes]:
        """`count` fresh updates, spread round-robin over the linked groups."""
        now = int(time.time())
        made = []
        for i in range(count):
            self.next_update += 1
            chat = self.chats[i % len(self.chats)]
            made.append(json.dumps({"update_id": self.next_update, "message": {
                "message_id": self.next_update, "date": now, "text": f"{label} {i}: it is down",
                "chat": {"id": chat, "type": "supergroup", "title": f"group {chat}"},
                "from": {"id": 7000 + i % 50, "is_bot": False, "first_name": "Client"}}},
                separators=(",", ":")).encode())
        return made

    def in_view(self) -> tuple[int, int]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(_IN_VIEW).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def post(self, bodies: list[bytes], connections: int) -> dict[str, Any]:
        """Send every body once over `connections` kept-alive connections (another process)."""
        path = self.tmp / f"bodies-{uuid4().hex[:8]}.jsonl"
        path.write_bytes(b"\n".join(bodies))
        address = urlsplit(self.url)
        spec = {"host": address.hostname, "port": address.port, "path": "/webhooks/telegram",
                "headers": {SECRET_HEADER: SECRET}, "connections": connections,
                "bodies": str(path)}
        done = subprocess.run([sys.executable, "-m", "tests.bench.http_load"], cwd=ROOT,
                              input=json.dumps(spec), capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return dict(json.loads(done.stdout))


def _graphql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


def _link_groups(url: str) -> list[int]:
    """Open VIP accounts and link GROUPS_PER_ACCOUNT Telegram groups to each with /link."""
    chats = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for a in range(ACCOUNTS):
            account = _graphql(client, """mutation($name: String!) { openAccount(input: {
                name: $name, tier: VIP, manager: "Anna Berg", currency: "EUR"}) {
                accountId } }""", name=f"Bench Client {a}")["openAccount"]["accountId"]
            for g in range(GROUPS_PER_ACCOUNT):
                code = _graphql(client, "mutation($id: UUID!) { issueLinkCode(accountId: $id) "
                                "{ code } }", id=account)["issueLinkCode"]["code"]
                chat = -100_000_000 - a * 100 - g
                answer = client.post("/webhooks/telegram", headers={SECRET_HEADER: SECRET},
                                     json={"update_id": a * 100 + g + 1, "message": {
                                         "message_id": 1, "date": int(time.time()),
                                         "text": f"/link {code}",
                                         "chat": {"id": chat, "type": "supergroup",
                                                  "title": f"group {chat}"},
                                         "from": {"id": 4242, "is_bot": False,
                                                  "first_name": "Eva"}}})
                assert answer.json()["status"] == "linked", answer.text
                chats.append(chat)
    return chats


@pytest.fixture
def server(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Server]:
    with bot_api_stub() as stub:
        settings = make_settings("postgres", telegram=TelegramSettings(
            token=Secret(stub.token), api_url=stub.url, webhook_secret=Secret(SECRET),
            timeout=2.0))
        assert settings.database_url is not None
        runtime = Runtime.open(settings, SystemClock())
        try:
            with live_server(create_app(settings, runtime=runtime)) as url:
                yield Server(url, settings.database_url, _link_groups(url), tmp_path, runtime)
        finally:
            runtime.close()


def _raw_commits(database_url: str, writers: int, commits: int) -> float:
    """One-row INSERT + COMMIT per transaction (autocommit: one round trip), `writers`
    connections at once; returns commits per second."""
    state = os.urandom(300)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_commits")
        conn.execute("CREATE TABLE bench_raw_commits (id bigserial PRIMARY KEY, "
                     "originator_id uuid NOT NULL, originator_version int NOT NULL, "
                     "topic text NOT NULL, state bytea NOT NULL, "
                     "UNIQUE (originator_id, originator_version))")
    connections = [psycopg.connect(database_url, autocommit=True) for _ in range(writers)]
    barrier = threading.Barrier(writers + 1)

    def write(conn: psycopg.Connection[Any], n: int) -> None:
        barrier.wait()
        for _ in range(n):
            conn.execute("INSERT INTO bench_raw_commits (originator_id, originator_version, "
                         "topic, state) VALUES (%s, 1, 'carelog:Bench.Raw', %s)",
                         (uuid4(), state), prepare=True)

    threads = [threading.Thread(target=write, args=(c, commits // writers))
               for c in connections]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    for c in connections:
        c.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM bench_raw_commits").fetchone()
        conn.execute("DROP TABLE bench_raw_commits")
    assert row is not None
    assert row[0] == commits // writers * writers
    return commits // writers * writers / seconds


@dataclass
class Run:
    sent: int
    send_seconds: float
    end_to_end_seconds: float
    in_view: int
    cpu_seconds: float
    """CPU time of this process (the server; the load comes from another) meanwhile: less
    sensitive than the rates to what else the machine runs."""


def _drive(server: Server, count: int, label: str, timeout: float) -> Run:
    """Post `count` new updates; wait until the rooms view holds them all; check each once."""
    before, _ = server.in_view()
    bodies = server.bodies(count, label)
    started, cpu = time.perf_counter(), time.process_time()
    sent = server.post(bodies, CLIENTS)
    assert sent["failures"] == [], sent["failures"]
    assert sent["statuses"] == {"200": count}, sent
    assert sent["answers"] == {"routed": count}, sent["answers"]
    deadline = time.monotonic() + timeout
    while (held := server.in_view())[0] < before + count:
        assert time.monotonic() < deadline, f"rooms view holds {held[0] - before} of {count}"
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    rows, distinct = server.in_view()
    assert rows == before + count, (rows, before + count)
    assert distinct == rows
    return Run(count, float(sent["seconds"]), seconds, rows - before, time.process_time() - cpu)


@pytest.mark.timeout(1800)
def test_inbound_messages_end_to_end(server: Server) -> None:
    backend = "postgres"
    single = _raw_commits(server.database_url, 1, RAW_COMMITS)
    concurrent = _raw_commits(server.database_url, CLIENTS, RAW_COMMITS)
    run = _drive(server, MESSAGES, "message", timeout=600)
    rate = run.sent / run.end_to_end_seconds
    assert server.runtime.telegram is not None
    receiving = server.runtime.telegram.updates.inbox.delivering
    figure(backend, "raw one-row commits: 1 connection", single, "commits/s")
    figure(backend, f"raw one-row commits: {CLIENTS} connections", concurrent, "commits/s")
    figure(backend, f"inbound: {run.sent} Telegram updates, {CLIENTS} HTTP clients, sent in",
           run.send_seconds, "s")
    figure(backend, "inbound: webhook -> log -> rooms view, end to end", rate, "messages/s")
    figure(backend, f"inbound: end to end / raw commits at {CLIENTS} connections",
           rate / concurrent, "")
    figure(backend, "inbound: messages per transaction (group commit, mean)",
           receiving.requests / max(receiving.batches, 1), "")
    figure(backend, "inbound: server CPU time per message (all its threads)",
           run.cpu_seconds / run.sent * 1000, "ms")

    # Redelivered updates are answered as duplicates and change nothing.
    rows, _ = server.in_view()
    sample = _rebuild(server, server.next_update - MESSAGES + 1, min(200, MESSAGES))
    again = server.post(sample, CLIENTS)
    assert again["answers"] == {"duplicate": len(sample)}, again["answers"]
    assert server.in_view() == (rows, rows)

    storm = _drive(server, STORM, "incident", timeout=1200)
    figure(backend, f"storm: {storm.sent} updates sent in", storm.send_seconds, "s")
    figure(backend, "storm: until the rooms view holds every message",
           storm.end_to_end_seconds, "s")
    figure(backend, "storm: rate end to end", storm.sent / storm.end_to_end_seconds,
           "messages/s")
    figure(backend, "storm: messages lost", storm.sent - storm.in_view, "")


def _rebuild(server: Server, first: int, count: int) -> list[bytes]:
    """The bodies of updates `first`... as sent before (same ids, chats and texts)."""
    saved = server.next_update
    server.next_update = first - 1
    try:
        return server.bodies(count, "message")
    finally:
        server.next_update = saved


def test_the_batch_path_alone(make_settings: Callable[..., Settings]) -> None:
    desk = open_desk(make_settings("postgres"), SystemClock())
    try:
        chats: list[tuple[str, Any]] = []
        for a in range(ACCOUNTS):
            account = desk.open_account(name=f"Bench Client {a}", tier="vip", manager="Anna",
                                        currency="EUR", actor="staff:bench").ids["accountId"]
            for g in range(GROUPS_PER_ACCOUNT):
                code = desk.issue_link_code(account_id=account, actor="staff:bench").extra["code"]
                chat = str(-100_000_000 - a * 100 - g)
                desk.redeem_link_code(code=code, channel="telegram", conversation=chat,
                                      title=chat, actor="integration:telegram")
                chats.append((chat, account))
        sent = iter(range(1, 10**9))

        def batch() -> list[Arrival]:
            made = []
            for _ in range(20):
                n = next(sent)
                chat, account = chats[n % len(chats)]
                made.append(Arrival(InboundMessage(
                    channel="telegram", external_id=f"{chat}:{n}", conversation=chat,
                    sender="7000", sender_name="Client", text=f"message {n}: it is down",
                    occurred_at=desk.clock.now()), account, "integration:telegram"))
            return made

        def deliver(arrivals: list[Arrival]) -> None:
            known = desk.conversations(("telegram", a.message.conversation) for a in arrivals)
            outcomes = desk.receive_messages(arrivals, known=known)
            assert not any(isinstance(o, Exception) for o in outcomes), outcomes

        for _ in range(10):  # warm: every chat has its case
            deliver(batch())
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(BATCHES):
            deliver(batch())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        desk.close()
    figure("postgres", f"inbound: {BATCHES} batches of 20 alone (what a leader does)",
           BATCHES * 20 / seconds, "messages/s")
    figure("postgres", "inbound: the same, CPU time per message", cpu / (BATCHES * 20) * 1000,
           "ms")
