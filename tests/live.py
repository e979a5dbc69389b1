"""A running app on a real socket (in a thread, or `carelog serve` as a process of its own), and
a graphql-transport-ws client for its subscriptions."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets
from litestar import Litestar

from integrations.settings import Settings

CARELOG = str(Path(sys.executable).with_name("carelog"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: Litestar) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


_CLIENT = threading.local()


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment with `settings` as CARELOG_* variables, for a `carelog` child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOG_")}
    env.update(CARELOG_DATA_DIR=str(settings.data_dir),
               CARELOG_PROJECTION_PAGE_SIZE=str(settings.projection_page_size))
    if settings.database_url:
        env["CARELOG_DATABASE_URL"] = settings.database_url
    if settings.nats_url:
        env.update(CARELOG_NATS_URL=settings.nats_url, CARELOG_NATS_PREFIX=settings.nats_prefix)
    return env


@contextmanager
def serving(settings: Settings, *args: str, cwd: Path) -> Iterator[str]:
    """Run `carelog serve` on a free port until the block ends; yields its base URL."""
    port = free_port()
    log = (cwd / "serve.log").open("w")
    process = subprocess.Popen([CARELOG, "serve", "--port", str(port), *args],
                               env=environment(settings), cwd=cwd, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (cwd / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "carelog serve did not come up in 120 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    """POST a GraphQL operation on this thread's kept-alive connection; returns `data`."""
    client = getattr(_CLIENT, "client", None)
    if client is None:
        client = _CLIENT.client = httpx.Client(timeout=30)
    response = client.post(f"{url}/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if body.get("errors"):
        raise AssertionError(body["errors"])
    return dict(body["data"])


class Subscription:
    """One graphql-transport-ws subscription on its own connection."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next `next` payload's data; errors and completion fail loudly."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    raise AssertionError(payload["errors"])
                return dict(payload["data"])
            if message["type"] in ("error", "complete"):
                raise AssertionError(message)


@asynccontextmanager
async def subscribe(url: str, query: str, **variables: Any) -> AsyncIterator[Subscription]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": query, "variables": variables}}))
        yield Subscription(ws)
