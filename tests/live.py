"""A running app on a real socket, and a graphql-transport-ws client for its subscriptions."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
import websockets
from litestar import Litestar


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
