"""The distributed mode as deployed, end to end: every part its own `carelog` process.

Two API processes (`serve --no-workers`), a relay and two projector processes share one
PostgreSQL database and a three-node NATS cluster (R3 stream), all started here on loopback.
A subscription on one API hears a change made through the other. Then four clients drive a
burst of commands through both APIs while one NATS node is killed (SIGKILL) and restarted:
the one leading the JetStream meta group, moved beforehand to lead the stream too, the worst
single node to lose. After healing, a checker compares what the clients were told with the
log, the log with the stream, and each view with a rebuild: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import nats
import psycopg
import pytest
from nats.aio.client import Client

from api.runtime import Runtime
from integrations.nats.envelope import MessageId
from integrations.nats.subjects import Subjects
from integrations.settings import Settings
from tests.integration.test_projections import dump
from tests.integration.test_stream import log_ids
from tests.live import free_port, subscribe
from tests.servers import NatsCluster

pytestmark = pytest.mark.fault

CARELOG = str(Path(sys.executable).with_name("carelog"))
CLIENTS = 4
ROUNDS = 11  # 7 commands a round: 4 clients x 11 rounds x 7 = 308 commands
KILL_AFTER = 80  # commands answered before the node is killed
HOLD_AT = 230  # commands answered while it is down; the rest wait for its restart
DOWN_FOR = 3.0  # seconds the killed node stays down

OPEN_ACCOUNT = """mutation($name: String!) { openAccount(input: {name: $name, tier: VIP,
    manager: "Anna Berg"}) { accountId notificationId duplicate } }"""
OPEN_CASE = """mutation($account: UUID!, $subject: String!, $mid: String!) {
    openCase(input: {accountId: $account, channel: EMAIL, subject: $subject,
                     text: "Our nightly export stopped.", priority: HIGH,
                     externalMessageId: $mid}) {
      caseId interactionId notificationId duplicate } }"""
REPLY = """mutation($case: UUID!, $text: String!) { replyToCase(caseId: $case, text: $text) {
    interactionId notificationId duplicate } }"""
ASSIGN = """mutation($case: UUID!, $agent: String!) { assignCase(caseId: $case, agent: $agent) {
    notificationId duplicate } }"""
REVENUE = """mutation($account: UUID!, $mrr: Decimal!) { recordRevenue(accountId: $account,
    period: "2026-10", mrr: $mrr, currency: "EUR") { notificationId duplicate } }"""
CONTACT = """mutation($account: UUID!, $name: String!, $email: String!) {
    addContact(accountId: $account, name: $name, email: $email) {
      contactId notificationId duplicate } }"""
CASE = """query($id: UUID!, $wait: Int) { case(id: $id, waitFor: $wait) { id assignee } }"""
CASE_UPDATED = """subscription($id: UUID!) { caseUpdated(caseId: $id) {
    id assignee status replyCount version notificationId } }"""


# --- processes this test owns ---------------------------------------------------------------

class Fleet:
    """The `carelog` processes of this test: each logs to its own file; only these are
    ever signalled, by the Popen handle kept here."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[bytes]] = {}

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, name: str, *args: str, timeout: float = 120) -> str:
        """A command to completion; its output, or a failure showing it."""
        done = subprocess.run([CARELOG, *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        (self.workdir / f"{name}.log").write_text(done.stdout + done.stderr)
        assert done.returncode == 0, f"carelog {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.logs[name] = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen([CARELOG, *args], cwd=self.workdir, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def alive(self, name: str) -> None:
        code = self.processes[name].poll()
        assert code is None, f"{name} exited with {code}:\n{self.log(name)[-3000:]}"

    def wait_for(self, name: str, ready: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.alive(name)
            assert time.monotonic() < deadline, f"{name} not ready:\n{self.log(name)[-3000:]}"
            time.sleep(0.1)

    def wait_healthy(self, name: str, url: str) -> None:
        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        self.wait_for(name, healthy)

    def wait_running(self, name: str) -> None:
        self.wait_for(name, lambda: "running" in self.log(name))

    def stop(self, name: str, timeout: float = 20) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit code."""
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.logs.pop(name).close()
        return int(process.returncode)

    def stop_all(self) -> None:
        for name in list(self.processes):
            with contextlib.suppress(Exception):
                self.stop(name)


def stop_cluster(cluster: NatsCluster) -> None:
    for node in cluster.nodes:
        try:
            node.stop()
        except Exception:
            node.kill()


# --- what the clients were told -------------------------------------------------------------

@dataclass
class Told:
    kind: str
    api: str
    data: dict[str, Any]

    @property
    def notification_id(self) -> int:
        return int(self.data["notificationId"])


@dataclass
class Outcomes:
    """Every command's outcome: ok (with what it returned), refused with a GraphQL error, or
    unknown (no answer). Shared by the client threads."""

    told: list[Told] = field(default_factory=list)
    refused: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    healed: threading.Event = field(default_factory=threading.Event)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.told) + len(self.refused) + len(self.unknown)

    def of(self, kind: str) -> list[Told]:
        return [t for t in self.told if t.kind == kind]


def command(http: httpx.Client, outcomes: Outcomes, api: str, kind: str, query: str,
            **variables: Any) -> dict[str, Any] | None:
    """Run one mutation and record what the client was told; its result, or None.

    Past HOLD_AT commands it waits for the killed node's restart, so that some commands
    run before the kill, some while the node is down and some after it is back."""
    if outcomes.count >= HOLD_AT:
        assert outcomes.healed.wait(60), "the killed node was not restarted"
    try:
        response = http.post(f"{api}/graphql", json={"query": query, "variables": variables})
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        with outcomes.lock:
            outcomes.unknown.append((kind, api, f"{type(error).__name__}: {error}"))
        return None
    if body.get("errors"):
        with outcomes.lock:
            outcomes.refused.append((kind, api, body["errors"]))
        return None
    data = dict(body["data"][kind])
    with outcomes.lock:
        outcomes.told.append(Told(kind, api, data))
    return data


def client(index: int, apis: list[str], run: str, outcomes: Outcomes) -> None:
    """One client: each round opens an account and two cases, replies, assigns, records
    revenue and adds a contact, alternating between the two APIs command by command."""
    with httpx.Client(timeout=30) as http:
        for n in range(ROUNDS):
            def api(k: int, n: int = n) -> str:
                return apis[(index + n + k) % 2]
            tag = f"{run}-{index}-{n}"
            account = command(http, outcomes, api(0), "openAccount", OPEN_ACCOUNT,
                              name=f"Burst {tag}")
            if account is None:
                continue
            account_id = account["accountId"]
            first = command(http, outcomes, api(1), "openCase", OPEN_CASE, account=account_id,
                            subject=f"Export {tag} a", mid=f"<{tag}-a@burst.test>")
            second = command(http, outcomes, api(0), "openCase", OPEN_CASE, account=account_id,
                             subject=f"Export {tag} b", mid=f"<{tag}-b@burst.test>")
            if first is not None:
                command(http, outcomes, api(0), "replyToCase", REPLY, case=first["caseId"],
                        text=f"Looking into {tag}.")
            if second is not None:
                command(http, outcomes, api(1), "assignCase", ASSIGN, case=second["caseId"],
                        agent=f"agent-{index}")
            command(http, outcomes, api(1), "recordRevenue", REVENUE, account=account_id,
                    mrr=f"{1000 + n}.50")
            command(http, outcomes, api(0), "addContact", CONTACT, account=account_id,
                    name=f"Contact {tag}", email=f"c{tag}@burst.test")


async def _leaders(nc: Client, cluster: NatsCluster, stream: str) -> tuple[str, str]:
    """The names of the nodes leading the JetStream meta group and the stream."""
    info = await nc.jetstream().stream_info(stream)
    assert info.cluster is not None
    with urllib.request.urlopen(f"{cluster.nodes[0].monitor_url}/jsz", timeout=5) as response:
        meta = json.load(response)["meta_cluster"]["leader"]
    return str(meta), str(info.cluster.leader)


def align_leaders(cluster: NatsCluster, stream: str, attempts: int = 8) -> tuple[str, str]:
    """Move the stream's leadership until the meta leader also leads the stream, so that
    killing that one node takes the JetStream API and the stream's leader away at once
    (the worst single node to lose). Best effort: the leaders after trying."""
    async def align() -> tuple[str, str]:
        nc = await nats.connect(servers=[n.url for n in cluster.nodes])
        try:
            meta, leader = await _leaders(nc, cluster, stream)
            for _ in range(attempts):
                if leader == meta:
                    break
                with contextlib.suppress(Exception):
                    await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"",
                                     timeout=5)
                for _ in range(100):
                    await asyncio.sleep(0.1)
                    with contextlib.suppress(Exception):
                        meta, now = await _leaders(nc, cluster, stream)
                        if now and now != leader:
                            leader = now
                            break
            return meta, leader
        finally:
            await nc.close()

    return asyncio.run(align())


def relay_position(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT notification_id FROM projection_positions "
                           "WHERE name = 'relay'").fetchone()
    return int(row[0]) if row else 0


def burst(apis: list[str], cluster: NatsCluster, stream: str,
          database_url: str) -> tuple[Outcomes, str]:
    """The clients' commands, with the JetStream meta leader (if possible also the stream's
    leader) killed and restarted in the middle."""
    meta, leading_stream = align_leaders(cluster, stream)
    outcomes = Outcomes()
    run = uuid.uuid4().hex[:8]
    threads = [threading.Thread(target=client, args=(i, apis, run, outcomes), daemon=True)
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    while outcomes.count < KILL_AFTER:
        assert any(t.is_alive() for t in threads), "the burst ended before the kill"
        time.sleep(0.01)
    victim = next(n for n in cluster.nodes if n.name == meta)
    victim.kill()
    killed_at, relay_at_kill = outcomes.count, relay_position(database_url)
    time.sleep(DOWN_FOR)
    restarted_at, relay_at_restart = outcomes.count, relay_position(database_url)
    victim.start()
    outcomes.healed.set()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a client hung"
    assert KILL_AFTER <= killed_at < restarted_at < outcomes.count, \
        "commands ran before the kill, while the node was down and after its restart"
    note = (f"killed {victim.name} (meta leader; stream leader {leading_stream}) after "
            f"{killed_at} commands, restarted after {restarted_at} of {outcomes.count}; "
            f"relay at {relay_at_kill} then {relay_at_restart}")
    return outcomes, note


# --- checks ---------------------------------------------------------------------------------

def status(fleet: Fleet) -> dict[str, Any]:
    done = subprocess.run([CARELOG, "status", "--json"], cwd=fleet.workdir, env=fleet.env,
                          capture_output=True, text=True, timeout=60, check=False)
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        return {"error": done.stderr[-2000:]}


def wait_caught_up(fleet: Fleet, timeout: float = 90) -> dict[str, Any]:
    """`carelog status --json` until every worker is at lag 0 with the stream reachable."""
    deadline = time.monotonic() + timeout
    while True:
        report = status(fleet)
        workers = report.get("workers") or []
        if (workers and all(w["lag_events"] == 0 for w in workers)
                and "stream_error" not in report and "error" not in report):
            return report
        for name in ("relay", "accounts", "case_queues"):
            fleet.alive(name)
        assert time.monotonic() < deadline, f"workers did not catch up: {report}"
        time.sleep(0.5)


async def stream_ids(cluster: NatsCluster, stream: str) -> list[int]:
    """Every notification id in the stream, in stream order (one epoch throughout)."""
    nc = await nats.connect(servers=[n.url for n in cluster.nodes])
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert info.state.messages == info.state.last_seq - info.state.first_seq + 1, \
            "the stream has holes"
        ids, epochs = [], set()
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            message_id = MessageId.parse((msg.headers or {})["Nats-Msg-Id"])
            ids.append(message_id.notification_id)
            epochs.add(message_id.epoch)
        assert len(epochs) == 1, f"the stream mixes epochs {epochs}"
        return ids
    finally:
        await nc.close()


def views(runtime: Runtime) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    return {r.name: dump(runtime.store, r.projection) for r in runtime.runners}


@contextlib.contextmanager
def reader(settings: Settings) -> Iterator[Runtime]:
    """A runtime in this process that only reads: the log and the view tables."""
    runtime = Runtime.open(settings, folds=False)
    try:
        yield runtime
    finally:
        runtime.close()


def check(fleet: Fleet, cluster: NatsCluster, settings: Settings, report: dict[str, Any],
          outcomes: Outcomes, known: dict[str, set[str]]) -> str:
    """What the clients were told against the log, the log against the stream, each view
    against the log and against a rebuild; a summary. `known`: the accounts and cases made
    outside the burst."""
    # What the clients were told.
    assert outcomes.unknown == [], "every command got an answer"
    codes = Counter(e.get("extensions", {}).get("code") for _, _, errors in outcomes.refused
                    for e in errors)
    assert None not in codes, outcomes.refused
    assert "INTERNAL" not in codes, outcomes.refused
    told_ids = [t.notification_id for t in outcomes.told]
    assert len(told_ids) == CLIENTS * ROUNDS * 7 - len(outcomes.refused)
    assert len(set(told_ids)) == len(told_ids), "no two commands were told one position"
    assert not any(t.data["duplicate"] for t in outcomes.told)

    with reader(settings) as runtime:
        log = log_ids(runtime)
        assert report["head"] == log[-1]
        assert len(set(log)) == len(log)
        missing = set(told_ids) - set(log)
        assert not missing, f"told but not in the log: {sorted(missing)}"

        # The stream is the log: every notification once, in log order.
        in_stream = asyncio.run(stream_ids(cluster, Subjects(settings.nats_prefix).stream))
        doubled = [i for i, n in Counter(in_stream).items() if n > 1]
        assert not doubled, f"in the stream more than once: {doubled}"
        assert not set(log) - set(in_stream), \
            f"not in the stream: {sorted(set(log) - set(in_stream))}"
        assert in_stream == sorted(in_stream), "the stream is in increasing order"
        assert in_stream == log, "the stream holds the log in order"

        # Each case and account the clients opened is in its view exactly once, and the
        # views hold no other.
        kept = views(runtime)
        cases = Counter(row[0] for row in kept["case_queues"]["cases"])
        accounts = Counter(row[0] for row in kept["accounts"]["accounts"])
        interactions = Counter(row[0] for row in kept["case_queues"]["case_interactions"])
        for kind, view, key in (("openCase", cases, "caseId"),
                                ("openAccount", accounts, "accountId"),
                                ("openCase", interactions, "interactionId"),
                                ("replyToCase", interactions, "interactionId")):
            for told in outcomes.of(kind):
                assert view[told.data[key]] == 1, f"{kind} {told.data} in its view"
        assert set(cases) == known["cases"] | {
            t.data["caseId"] for t in outcomes.of("openCase")}, "no case unaccounted for"
        assert set(accounts) == known["accounts"] | {
            t.data["accountId"] for t in outcomes.of("openAccount")}

        # Each view equals a rebuild from the log (the projectors stopped first).
        for name in ("accounts", "case_queues"):
            assert fleet.stop(name) == 0, fleet.log(name)[-3000:]
        kept = views(runtime)
        fleet.run("rebuild", "rebuild")
        rebuilt = views(runtime)
        for name, tables in kept.items():
            for table, rows in tables.items():
                assert rebuilt[name][table] == rows, f"{table} differs from a rebuild"
    return (f"{len(told_ids)} ok, {len(outcomes.refused)} refused ({dict(codes)}); "
            f"log head {log[-1]}, stream {len(in_stream)} messages")


# --- the test -------------------------------------------------------------------------------

def test_two_apis_and_three_workers_survive_a_nats_node_killed_mid_burst(
        new_postgres_database: Callable[[], str], tmp_path: Path) -> None:
    started = time.monotonic()
    (tmp_path / "nats").mkdir()
    cluster = NatsCluster.of(tmp_path / "nats")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = Settings(database_url=new_postgres_database(), data_dir=tmp_path / "var",
                        nats_url=cluster.url, nats_prefix=prefix, nats_replicas=3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOG_")}
    env.update(CARELOG_DATABASE_URL=settings.database_url or "",
               CARELOG_DATA_DIR=str(settings.data_dir), CARELOG_NATS_URL=cluster.url,
               CARELOG_NATS_PREFIX=prefix, CARELOG_NATS_REPLICAS="3",
               CARELOG_DB_POOL_SIZE="4")
    stream = Subjects(prefix).stream
    fleet = Fleet(tmp_path, env)
    ports = [free_port(), free_port()]
    apis = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        cluster.start()
        fleet.run("demo", "demo", "--accounts", "5", "--months", "1", "--seed", "5")
        with reader(settings) as runtime:
            demo = views(runtime)
        demo_cases = {row[0] for row in demo["case_queues"]["cases"]}
        demo_accounts = {row[0] for row in demo["accounts"]["accounts"]}
        assert demo_cases
        assert demo_accounts
        for i, port in enumerate(ports):
            fleet.start(f"api{i + 1}", "serve", "--no-workers", "--port", str(port))
        fleet.start("relay", "worker", "relay")
        fleet.start("accounts", "worker", "projections", "accounts")
        fleet.start("case_queues", "worker", "projections", "case_queues", "account_health",
                    "alerts_and_goals", "support_metrics", "feedback_board", "directory",
                    "rooms", "knowledge_base", "announcements")
        for i, api in enumerate(apis):
            fleet.wait_healthy(f"api{i + 1}", api)
        for name in ("relay", "accounts", "case_queues"):
            fleet.wait_running(name)
        ready = time.monotonic()

        async def scenario() -> tuple[Outcomes, str, str, str]:
            def gql(url: str, query: str, **variables: Any) -> dict[str, Any]:
                response = httpx.post(f"{url}/graphql",
                                      json={"query": query, "variables": variables},
                                      timeout=30)
                body = response.json()
                assert not body.get("errors"), body["errors"]
                return dict(body["data"])

            async def call(url: str, query: str, **variables: Any) -> dict[str, Any]:
                return await asyncio.to_thread(gql, url, query, **variables)

            account = (await call(apis[0], OPEN_ACCOUNT, name="Watched"))["openAccount"]
            opened = (await call(apis[0], OPEN_CASE, account=account["accountId"],
                                 subject="Watched case", mid="<watched@sub.test>"))["openCase"]
            case_id = opened["caseId"]
            seen = await call(apis[1], CASE, id=case_id, wait=opened["notificationId"])
            assert seen["case"]["id"] == case_id, "API #2 reads the case API #1 opened"

            async with subscribe(apis[1], CASE_UPDATED, id=case_id) as subscription:
                async def assigned(agent: str, timeout: float) -> dict[str, Any]:
                    deadline = asyncio.get_running_loop().time() + timeout
                    while True:
                        left = deadline - asyncio.get_running_loop().time()
                        assert left > 0, f"the subscriber on API #2 never heard {agent}"
                        for name in fleet.processes:  # a worker that died fails at once
                            fleet.alive(name)
                        try:
                            case = (await subscription.next(min(left, 1.0)))["caseUpdated"]
                        except TimeoutError:
                            continue
                        if case["assignee"] == agent:
                            return dict(case)

                current = (await subscription.next(30))["caseUpdated"]
                assert current["id"] == case_id
                assert current["assignee"] is None, "the first message is the current state"
                change = (await call(apis[0], ASSIGN, case=case_id,
                                     agent="agent-before"))["assignCase"]
                heard = await assigned("agent-before", 30)
                assert heard["notificationId"] >= change["notificationId"]

                outcomes, note = await asyncio.to_thread(burst, apis, cluster, stream,
                                                      settings.database_url or "")

                # After healing, a change through API #1 still reaches API #2's subscriber.
                await call(apis[0], ASSIGN, case=case_id, agent="agent-after")
                await assigned("agent-after", 60)
            return outcomes, note, account["accountId"], case_id

        outcomes, note, watched_account, watched = asyncio.run(scenario())
        known = {"accounts": demo_accounts | {watched_account}, "cases": demo_cases | {watched}}
        burst_done = time.monotonic()
        report = wait_caught_up(fleet)
        assert report["dead_letters"] == []
        caught_up = time.monotonic()

        summary = check(fleet, cluster, settings, report, outcomes, known)
        # A clean stop: uvicorn re-raises the SIGTERM it handled once it has shut down.
        for name, clean in (("api1", -signal.SIGTERM), ("api2", -signal.SIGTERM), ("relay", 0)):
            fleet.alive(name)
            code = fleet.stop(name)
            assert code == clean, f"{name} exited with {code}:\n{fleet.log(name)[-3000:]}"
        print(f"\n{note}; {summary}; start {ready - started:.1f}s, "
              f"burst {burst_done - ready:.1f}s, catch-up {caught_up - burst_done:.1f}s, "
              f"total {time.monotonic() - started:.1f}s")
    finally:
        fleet.stop_all()
        stop_cluster(cluster)
