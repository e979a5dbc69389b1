"""A Jira stub on loopback speaking the REST v2 subset the `jira` package uses, with faults.

Endpoints: serverInfo, field, issue create/get/update, search (JQL `labels = "..."`; as
Server/Data Center `search`, or as Cloud `search/jql` with `deployment="Cloud"`), transitions,
comments. Faults on demand: drop the connection after creating an issue (or
before), answer 503 or 429 with Retry-After for a while, lag the search index by seconds.
`issues_with_label` is the checker: how many issues carry a feedback's label.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

API = "/rest/api/2/"
STATUSES = {
    "10000": ("To Do", "new", 2),
    "10001": ("In Progress", "indeterminate", 4),
    "10002": ("Done", "done", 3),
    "10003": ("Won't Do", "done", 3),
}
TRANSITIONS = {"11": "10000", "21": "10001", "31": "10002", "41": "10003"}


def status_json(status_id: str) -> dict[str, Any]:
    name, key, category_id = STATUSES[status_id]
    return {"id": status_id, "name": name, "statusCategory": {
        "id": category_id, "key": key, "name": name, "colorName": "blue-gray"}}


@dataclass
class Faults:
    drop_after_create: int = 0
    """This many creates make the issue, then close the connection without an answer."""
    drop_before_create: int = 0
    """This many creates close the connection without making anything."""
    unavailable_until: float = 0.0
    """Until this time.monotonic(), every request is answered `unavailable_status`."""
    unavailable_status: int = 503
    retry_after: int | None = None
    search_lag: float = 0.0
    """Seconds before a new issue shows up in search results (Jira Cloud's search lags)."""
    create_delay: float = 0.0
    """Seconds a create takes before the issue exists (the client may be gone by then)."""


@dataclass
class StubIssue:
    id: str
    key: str
    fields: dict[str, Any]
    created: float
    comments: list[dict[str, Any]] = field(default_factory=list)


class JiraStub:
    def __init__(self, project: str = "FEED", token: str = "stub-token",
                 deployment: str = "Server") -> None:
        self.project = project
        self.deployment = deployment
        self.token = token
        self.faults = Faults()
        self.issues: dict[str, StubIssue] = {}
        self.create_started = threading.Event()
        """Set when a create request has arrived (before any `create_delay`)."""
        self.requests: list[tuple[float, str, str, int]] = []
        """(monotonic time, method, path, status answered) of every request."""
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def accepted_authorizations(self) -> set[str]:
        """A personal access token as bearer, or `cloud-bot` and the token as basic auth."""
        basic = base64.b64encode(f"cloud-bot:{self.token}".encode()).decode()
        return {f"Bearer {self.token}", f"Basic {basic}"}

    # The checker ---------------------------------------------------------------------------

    def issues_with_label(self, label: str) -> list[StubIssue]:
        with self.lock:
            return [i for i in self.issues.values() if label in i.fields.get("labels", [])]

    def creates(self) -> int:
        return sum(1 for _, m, p, _ in self.requests if m == "POST" and p == f"{API}issue")

    def requests_between(self, start: float, end: float) -> int:
        return sum(1 for t, *_ in self.requests if start <= t < end)

    # Acting as the product team in Jira ------------------------------------------------------

    def transition(self, key: str, status_id: str) -> dict[str, Any]:
        """Move the issue and return the `jira:issue_updated` webhook Jira would send."""
        with self.lock:
            issue = self._find(key)
            assert issue is not None, key
            before = issue.fields["status"]
            issue.fields["status"] = status_json(status_id)
            issue.fields["updated"] = _now_iso()
            return {
                "timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic",
                "user": {"displayName": "Pat Product", "accountId": "pm-1"},
                "issue": self._json(issue),
                "changelog": {"id": str(int(time.time() * 1000)), "items": [{
                    "field": "status", "fieldtype": "jira", "fieldId": "status",
                    "from": before["id"], "fromString": before["name"],
                    "to": status_id, "toString": STATUSES[status_id][0]}]},
            }

    def comment_as_product(self, key: str, body: str) -> dict[str, Any]:
        """Comment on the issue and return the `comment_created` webhook Jira would send."""
        with self.lock:
            issue = self._find(key)
            assert issue is not None, key
            comment = self._add_comment(issue, body, "Pat Product")
            # Comment webhooks carry an abridged issue: no labels.
            abridged = {"id": issue.id, "key": issue.key, "self": issue.fields["self"],
                        "fields": {"summary": issue.fields["summary"],
                                   "status": issue.fields["status"]}}
            return {"timestamp": int(time.time() * 1000), "webhookEvent": "comment_created",
                    "comment": comment, "issue": abridged}

    # The server ------------------------------------------------------------------------------

    def start(self) -> str:
        stub = self

        class Handler(_Handler):
            jira = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # Internals (callers hold the lock) -------------------------------------------------------

    def _find(self, key_or_id: str) -> StubIssue | None:
        return self.issues.get(key_or_id) or next(
            (i for i in self.issues.values() if i.id == key_or_id), None)

    def _json(self, issue: StubIssue) -> dict[str, Any]:
        return {"id": issue.id, "key": issue.key, "self": issue.fields["self"],
                "fields": {k: v for k, v in issue.fields.items() if k != "self"}}

    def _create(self, body: dict[str, Any]) -> StubIssue:
        fields = body["fields"]
        number = len(self.issues) + 1
        issue_id = str(10000 + number)
        key = f"{fields['project']['key']}-{number}"
        issue = StubIssue(issue_id, key, {
            "self": f"{self.url}{API}issue/{issue_id}", "summary": fields["summary"],
            "description": fields.get("description", ""), "labels": fields.get("labels", []),
            "project": fields["project"], "issuetype": fields["issuetype"],
            "status": status_json("10000"), "created": _now_iso(), "updated": _now_iso(),
        }, time.monotonic())
        self.issues[key] = issue
        return issue

    def _add_comment(self, issue: StubIssue, body: str, author: str) -> dict[str, Any]:
        comment_id = str(20000 + sum(len(i.comments) for i in self.issues.values()) + 1)
        comment = {"id": comment_id, "self": f"{issue.fields['self']}/comment/{comment_id}",
                   "body": body, "author": {"displayName": author, "name": author},
                   "created": _now_iso(), "updated": _now_iso()}
        issue.comments.append(comment)
        return comment

    def _search(self, jql: str) -> list[dict[str, Any]]:
        wanted = re.findall(r'labels\s*=\s*"?([\w.-]+)"?', jql)
        visible_before = time.monotonic() - self.faults.search_lag
        found = [i for i in self.issues.values() if i.created <= visible_before
                 and all(w in i.fields.get("labels", []) for w in wanted)]
        return [self._json(i) for i in sorted(found, key=lambda i: i.created)]


class _Handler(BaseHTTPRequestHandler):
    jira: JiraStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None
                ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client is gone (killed mid-request): the work is done anyway
            self.close_connection = True
        self._record(status)

    def _record(self, status: int) -> None:
        stub = self.jira
        with stub.lock:
            stub.requests.append((time.monotonic(), self.command,
                                  urlparse(self.path).path, status))

    def _drop(self) -> None:
        self._record(0)
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self, method: str) -> None:
        stub, faults = self.jira, self.jira.faults
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        url = urlparse(self.path)
        path = url.path.removeprefix(API).rstrip("/")
        if self.headers.get("Authorization") not in stub.accepted_authorizations():
            self._answer(401, {"errorMessages": ["You are not authenticated."]})
            return
        if time.monotonic() < faults.unavailable_until:
            headers = {} if faults.retry_after is None else {
                "Retry-After": str(faults.retry_after)}
            self._answer(faults.unavailable_status, {"errorMessages": ["Try again later"]},
                         headers)
            return
        if (method, path) == ("POST", "issue"):
            stub.create_started.set()
            time.sleep(faults.create_delay)  # outside the lock: searches go on meanwhile
        with stub.lock:
            self._route(method, path, parse_qs(url.query), body)

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               body: dict[str, Any]) -> None:
        stub, faults = self.jira, self.jira.faults
        parts = path.split("/")
        if (method, path) == ("GET", "serverInfo"):
            self._answer(200, {"baseUrl": stub.url, "version": "9.12.0",
                               "versionNumbers": [9, 12, 0], "deploymentType": stub.deployment,
                               "buildNumber": 9120000, "serverTitle": "Jira stub"})
        elif (method, path) == ("GET", "field"):
            self._answer(200, [{"id": f, "name": f.title(), "custom": False,
                                "clauseNames": [f]} for f in ("labels", "status", "summary")])
        elif (method, path) == ("POST", "issue"):
            if faults.drop_before_create > 0:
                faults.drop_before_create -= 1
                self._drop()
                return
            issue = stub._create(body)
            if faults.drop_after_create > 0:
                faults.drop_after_create -= 1
                self._drop()
                return
            self._answer(201, {"id": issue.id, "key": issue.key, "self": issue.fields["self"]})
        elif method == "GET" and path == "search" and stub.deployment != "Cloud":
            issues = stub._search(query.get("jql", [""])[0])
            self._answer(200, {"startAt": 0, "maxResults": 50, "total": len(issues),
                               "issues": issues})
        elif method == "GET" and path == "search/jql" and stub.deployment == "Cloud":
            self._answer(200, {"issues": stub._search(query.get("jql", [""])[0]),
                               "isLast": True})
        elif parts[0] == "issue" and len(parts) >= 2:
            self._issue(method, parts, body)
        else:
            self._answer(404, {"errorMessages": [f"no stub for {method} {path}"]})

    def _issue(self, method: str, parts: list[str], body: dict[str, Any]) -> None:
        stub = self.jira
        issue = stub._find(parts[1])
        if issue is None:
            self._answer(404, {"errorMessages": ["Issue does not exist or you do not have "
                                                 "permission to see it."]})
            return
        rest = parts[2:]
        if method == "GET" and not rest:
            self._answer(200, stub._json(issue))
        elif method == "PUT" and not rest:
            issue.fields.update({k: v for k, v in body.get("fields", {}).items()
                                 if k in ("summary", "description", "labels")})
            issue.fields["updated"] = _now_iso()
            self._answer(204)
        elif rest == ["comment"] and method == "GET":
            self._answer(200, {"startAt": 0, "maxResults": 1048576,
                               "total": len(issue.comments), "comments": issue.comments})
        elif rest == ["comment"] and method == "POST":
            self._answer(201, stub._add_comment(issue, body["body"], "carelog-bot"))
        elif rest == ["transitions"] and method == "GET":
            self._answer(200, {"transitions": [
                {"id": t, "name": STATUSES[s][0], "to": status_json(s)}
                for t, s in TRANSITIONS.items()]})
        elif rest == ["transitions"] and method == "POST":
            issue.fields["status"] = status_json(TRANSITIONS[str(body["transition"]["id"])])
            self._answer(204)
        else:
            self._answer(404, {"errorMessages": ["no such issue resource"]})


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@contextmanager
def jira_stub(project: str = "FEED", deployment: str = "Server") -> Iterator[JiraStub]:
    stub = JiraStub(project, deployment=deployment)
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
