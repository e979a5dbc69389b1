"""Jira webhook authentication and parsing, on payloads shaped like Atlassian's examples."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.errors import InvalidInputError
from integrations.jira.webhooks import authenticate, feedback_status, parse
from integrations.settings import Secret

FEEDBACK = UUID("7b0c5b8e-4a57-4b8c-9a43-1f2e3d4c5b6a")
SECRET = Secret("it-is-a-secret")


def sign(body: bytes, secret: str = SECRET.value) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def issue(status: tuple[str, str, int] = ("10001", "indeterminate", 4),
          labels: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "summary": "Export to Excel",
        "status": {"id": status[0], "name": "Umsetzung",  # a renamed, translated status
                   "statusCategory": {"id": status[2], "key": status[1]}}}
    if labels:
        fields["labels"] = ["carelog-feedback", f"carelog-feedback-{FEEDBACK}"]
    return {"id": "10001", "key": "FEED-1", "self": "https://x/rest/api/2/issue/10001",
            "fields": fields}


def updated(to: str = "10001", category: tuple[str, int] = ("indeterminate", 4)) -> bytes:
    return json.dumps({
        "timestamp": 1772442000000, "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic", "user": {"displayName": "Pat"},
        "issue": issue((to, *category)),
        "changelog": {"id": "10100", "items": [
            {"field": "resolution", "fieldtype": "jira", "from": None, "to": "10000"},
            {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "10000",
             "fromString": "To Do", "to": to, "toString": "Umsetzung"}]},
    }).encode()


def test_a_correct_signature_over_the_raw_body_authenticates():
    body = updated()
    assert authenticate(SECRET, body, sign(body), None)


@pytest.mark.parametrize("signature", [
    None, "", "sha256=", "sha1=abc", sign(b"{}"), sign(updated(), "another-secret")])
def test_wrong_or_missing_signatures_are_refused(signature: str | None):
    assert not authenticate(SECRET, updated(), signature, None)


def test_a_body_changed_by_one_byte_is_refused():
    body = updated()
    assert not authenticate(SECRET, body.replace(b"10001", b"10002", 1), sign(body), None)


def test_the_shared_secret_header_authenticates_senders_that_cannot_sign():
    assert authenticate(SECRET, b"{}", None, SECRET.value)
    assert not authenticate(SECRET, b"{}", None, "guess")


def test_nothing_authenticates_when_no_secret_is_configured():
    body = updated()
    assert not authenticate(None, body, sign(body), SECRET.value)


def test_a_status_change_is_read_by_category_never_by_name():
    (change,) = parse(updated(), "delivery-1", frozenset())

    assert (change.kind, change.status, change.status_id) == ("status", "in_progress", "10001")
    assert change.feedback_id == FEEDBACK
    assert change.issue_key == "FEED-1"
    assert change.delivery == "delivery-1"
    assert change.changed_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("category", "status_id", "expected"), [
    ("new", "1", "open"), ("indeterminate", "3", "in_progress"), ("done", "10002", "shipped"),
    ("done", "10003", "declined"), (2, "1", "open"), ("4", "3", "in_progress"),
    (3, "10003", "declined"), ("undefined", "1", None)])
def test_statuses_map_by_category_key_or_id(category: str | int, status_id: str,
                                             expected: str | None):
    assert feedback_status(category, status_id, frozenset({"10003"})) == expected


def test_updates_without_a_status_change_say_nothing():
    body = json.loads(updated())
    body["changelog"]["items"] = [{"field": "summary", "from": "a", "to": "b"}]
    assert parse(json.dumps(body).encode(), "d", frozenset()) == []


def test_a_comment_carries_its_id_author_and_time_without_labels():
    body = json.dumps({
        "timestamp": 1772442000000, "webhookEvent": "comment_created",
        "comment": {"id": "20001", "body": "Planned for Q3", "created":
                    "2026-03-02T09:05:00.000+0000", "author": {"displayName": "Pat Product"}},
        "issue": issue(labels=False)}).encode()

    (change,) = parse(body, None, frozenset())

    assert (change.kind, change.comment_id, change.author, change.body) == (
        "comment", "20001", "Pat Product", "Planned for Q3")
    assert change.feedback_id is None  # found by key on the board instead
    assert change.changed_at == datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert change.delivery == hashlib.sha256(body).hexdigest()


def test_carelogs_own_comments_are_not_news():
    body = json.dumps({"timestamp": 1772442000000, "webhookEvent": "comment_created",
                       "comment": {"id": "1", "body": "x [carelog-sync abc accounts=2]"},
                       "issue": issue()}).encode()
    assert parse(body, "d", frozenset()) == []


def test_a_created_issue_is_reported_for_reconciliation():
    body = json.dumps({"timestamp": 1772442000000, "webhookEvent": "jira:issue_created",
                       "issue": issue()}).encode()
    (change,) = parse(body, "d", frozenset())
    assert (change.kind, change.feedback_id) == ("created", FEEDBACK)


def test_a_body_that_is_not_json_is_invalid():
    with pytest.raises(InvalidInputError):
        parse(b"<xml/>", "d", frozenset())
