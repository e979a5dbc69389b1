"""`TicketTracker` on Jira through the `jira` package: REST API v2, token or PAT auth.

The package's own retries are off (`max_retries=0`): on 429, 503 and lost connections they
sleep 20 s, then 40 s, then 60 s inside the call. The Jira reactor retries instead, with
backoff and Jira's Retry-After, and knows which failures may have created an issue after all.
On Jira Cloud, `search_issues` goes to `search/jql` (the old `search` answers 410 there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError
from urllib3.exceptions import NewConnectionError

from domain.ports import (
    IssueDraft,
    TrackedIssue,
    TrackerOutcomeUnknownError,
    TrackerUnavailableError,
)
from integrations.settings import JiraSettings

T = TypeVar("T")
_REFUSED = frozenset({400, 401, 403, 404, 409, 429, 503})
"""Answers that mean "nothing was done"; other failures leave the outcome unknown."""


class JiraTicketTracker:
    def __init__(self, settings: JiraSettings) -> None:
        if settings.url is None:
            raise ValueError("JiraTicketTracker needs CARELOG_JIRA_URL")
        self.settings = settings
        self._jira: JIRA | None = None

    def _client(self) -> JIRA:
        # Built on first use: the constructor asks the server for its version.
        if self._jira is None:
            s = self.settings
            token = s.token.value if s.token else None
            auth: dict[str, Any] = {}
            if s.user and token:
                auth["basic_auth"] = (s.user, token)
            elif token:
                auth["token_auth"] = token
            self._jira = _call(lambda: JIRA(server=s.url, timeout=s.timeout, max_retries=0,
                                            **auth))
        return self._jira

    def find(self, label: str) -> list[TrackedIssue]:
        jql = f'labels = "{label}" ORDER BY created ASC'
        found: dict[str, Any] = _call(lambda: self._client().search_issues(
            jql, maxResults=20, fields="labels,status", json_result=True))
        return [_tracked(raw) for raw in found.get("issues", [])]

    def get(self, key: str) -> TrackedIssue | None:
        try:
            issue = _call(lambda: self._client().issue(key, fields="labels,status"))
        except TrackerUnavailableError as error:
            if error.status == 404:
                return None
            raise
        return _tracked(issue.raw)

    def create(self, draft: IssueDraft) -> str:
        s = self.settings
        fields = {"project": {"key": s.project}, "issuetype": {"name": s.issue_type},
                  **_fields(draft)}
        issue = _call(lambda: self._client().create_issue(fields=fields, prefetch=False))
        return str(issue.key)

    def update(self, key: str, draft: IssueDraft) -> None:
        client = self._client()
        _call(lambda: client.issue(key, fields="labels").update(fields=_fields(draft)))

    def comment_once(self, key: str, marker: str, body: str) -> bool:
        client = self._client()
        comments = _call(lambda: client.comments(key))
        if any(marker in str(getattr(c, "body", "")) for c in comments):
            return False
        _call(lambda: client.add_comment(key, f"{body}\n\n{marker}"))
        return True


def _fields(draft: IssueDraft) -> dict[str, Any]:
    return {"summary": draft.summary, "description": draft.description,
            "labels": list(draft.labels)}


def _tracked(raw: dict[str, Any]) -> TrackedIssue:
    fields = raw.get("fields") or {}
    status = fields.get("status") or {}
    category = status.get("statusCategory") or {}
    return TrackedIssue(key=str(raw["key"]), labels=tuple(fields.get("labels") or ()),
                        status_id=str(status.get("id", "")),
                        status_category=str(category.get("key", "")))


def _call(fn: Callable[[], T]) -> T:
    """Run one call of the `jira` package, its failures as the port's two kinds of error."""
    try:
        return fn()
    except JIRAError as error:
        status = error.status_code
        if status in _REFUSED:
            response = getattr(error, "response", None)
            retry_after = _retry_after(response.headers.get("Retry-After")
                                       if response is not None else None)
            raise TrackerUnavailableError(f"Jira answered {status}: {error.text}", retry_after,
                                          status) from None
        raise TrackerOutcomeUnknownError(f"Jira answered {status}: {error.text}") from None
    except requests.ConnectionError as error:
        if _never_connected(error):
            raise TrackerUnavailableError(f"Jira is unreachable: {error}") from None
        raise TrackerOutcomeUnknownError(f"no answer from Jira: {error}") from None
    except requests.Timeout as error:
        raise TrackerOutcomeUnknownError(f"no answer from Jira in time: {error}") from None


def _never_connected(error: requests.ConnectionError) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def _retry_after(raw: str | None) -> float | None:
    try:
        return max(float(raw), 0.0) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
