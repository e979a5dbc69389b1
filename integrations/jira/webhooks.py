"""Jira webhooks: authenticate the raw body, then read what changed on a feedback issue.

Authentication happens before any parsing: an `X-Hub-Signature: sha256=<hex>` HMAC of the raw
body with the shared secret (admin webhooks with a secret), or, for senders that cannot sign
(a Jira Automation web request), the secret itself in the `X-Carelog-Webhook-Secret` header.
Never in the URL: access logs would keep it. Statuses are mapped by their category (key or
id) and id, never by display name: names are translated and renamed by Jira admins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.errors import InvalidInputError
from domain.feedback import FeedbackStatus
from integrations.jira.mapping import MARKER_PREFIX
from integrations.settings import Secret

_LABEL = "carelog-feedback-"
_CATEGORY_KEYS = {"new": FeedbackStatus.OPEN, "indeterminate": FeedbackStatus.IN_PROGRESS,
                  "done": FeedbackStatus.SHIPPED}
_CATEGORY_IDS = {"2": "new", "4": "indeterminate", "3": "done"}


def authenticate(secret: Secret | None, body: bytes, signature: str | None,
                 shared_secret: str | None) -> bool:
    """Whether the delivery comes from our Jira; with no secret configured, nothing does."""
    if secret is None:
        return False
    key = secret.value.encode()
    if signature is not None:
        algorithm, _, digest = signature.partition("=")
        if algorithm.strip().lower() != "sha256":
            return False
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, digest.strip().lower())
    if shared_secret is not None:
        return hmac.compare_digest(key, shared_secret.encode())
    return False


@dataclass(frozen=True, slots=True)
class IssueChange:
    """One thing a delivery says about an issue."""

    kind: str
    """`created`, `status` or `comment`."""
    delivery: str
    issue_key: str
    feedback_id: UUID | None
    """From the issue's feedback label; None when the payload omits labels."""
    changed_at: datetime
    status: str | None = None
    status_id: str = ""
    status_name: str = ""
    comment_id: str = ""
    author: str = ""
    body: str = ""


def feedback_status(category: str | int | None, status_id: str,
                    declined: frozenset[str]) -> str | None:
    """The feedback status for a Jira status, by category key or id; None when unknown."""
    key = _CATEGORY_IDS.get(str(category), str(category))
    mapped = _CATEGORY_KEYS.get(key)
    if mapped is FeedbackStatus.SHIPPED and status_id in declined:
        return FeedbackStatus.DECLINED.value
    return None if mapped is None else mapped.value


def parse(body: bytes, delivery: str | None, declined: frozenset[str]) -> list[IssueChange]:
    """The changes in one authenticated delivery (none for events about other things).

    `delivery` is the `X-Atlassian-Webhook-Identifier`, stable across Jira's retries; without
    it the body's digest stands in.
    """
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInputError("the webhook body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("issue"), dict):
        return []
    delivery = delivery or hashlib.sha256(body).hexdigest()
    issue: dict[str, Any] = data["issue"]
    fields: dict[str, Any] = issue.get("fields") or {}
    event = str(data.get("webhookEvent", ""))
    at = _millis(data.get("timestamp"))
    key = str(issue.get("key", ""))
    if not key:
        return []
    base = IssueChange(kind="", delivery=delivery, issue_key=key,
                       feedback_id=_feedback_id(fields.get("labels")), changed_at=at)
    changes: list[IssueChange] = []
    if event == "jira:issue_created":
        changes.append(replace(base, kind="created"))
    items = (data.get("changelog") or {}).get("items") or []
    status_items = [i for i in items if isinstance(i, dict)
                    and (i.get("fieldId") or i.get("field")) == "status"]
    if event == "jira:issue_updated" and status_items:
        status = fields.get("status") or {}
        category = status.get("statusCategory") or {}
        status_id = str(status_items[-1].get("to") or status.get("id") or "")
        mapped = feedback_status(category.get("key") or category.get("id"), status_id, declined)
        if mapped is not None:
            changes.append(replace(base, kind="status", status=mapped, status_id=status_id,
                                   status_name=str(status.get("name", ""))))
    comment = data.get("comment")
    if (event == "comment_created" and isinstance(comment, dict)
            and MARKER_PREFIX not in str(comment.get("body", ""))):  # not our own comments
        author = comment.get("author") or {}
        changes.append(replace(
            base, kind="comment", comment_id=str(comment.get("id", "")),
            author=str(author.get("displayName") or author.get("name") or "Jira"),
            body=str(comment.get("body", "")), changed_at=_iso(comment.get("created"), at)))
    return changes


def _feedback_id(labels: Any) -> UUID | None:
    for label in labels or ():
        if isinstance(label, str) and label.startswith(_LABEL):
            try:
                return UUID(label[len(_LABEL):])
            except ValueError:
                continue
    return None


def _millis(raw: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError("the webhook has no valid timestamp") from None


def _iso(raw: Any, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(raw)) if raw else default
    except ValueError:
        return default
