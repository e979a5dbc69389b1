"""A loopback HTTP server answering fixed JSON pages, as Zendesk's and Freshdesk's APIs do.

Pages are registered by path and query; each request must carry the expected basic
credentials. `requests` records what was asked, for the tests to check paging.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Pages:
    user: str
    password: str
    answers: dict[str, tuple[Any, dict[str, str]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    base: str = ""

    def add(self, path_and_query: str, body: Any, headers: dict[str, str] | None = None) -> None:
        self.answers[path_and_query] = (body, headers or {})


@contextmanager
def serving(pages: Pages) -> Iterator[str]:
    expected = "Basic " + base64.b64encode(f"{pages.user}:{pages.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            pages.requests.append(self.path)
            if self.headers.get("Authorization") != expected:
                self._answer(401, {"error": "Couldn't authenticate you"}, {})
                return
            found = pages.answers.get(self.path)
            if found is None:
                self._answer(404, {"error": "not found", "path": self.path}, {})
                return
            body, headers = found
            self._answer(200, body, {k: v.replace("{base}", pages.base)
                                     for k, v in headers.items()})

        def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).replace("{base}", pages.base).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    pages.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pages.base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
