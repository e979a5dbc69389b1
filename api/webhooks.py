"""Inbound webhooks: `/webhooks/jira` records Jira's news about feedback issues.

The signature is checked on the raw body before anything is parsed. Every authenticated
delivery is answered 200, duplicates and news about other issues included: any other answer
makes Jira deliver it again for about 30 minutes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

from litestar import Request, post
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST, HTTP_401_UNAUTHORIZED

from api.services import Services
from domain.errors import DomainError, InvalidInputError
from integrations.jira.webhooks import IssueChange, authenticate, parse
from workers.jira_sync import ACTOR

log = logging.getLogger(__name__)


@post("/webhooks/jira", status_code=HTTP_200_OK)
async def jira_webhook(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    services: Services = request.app.state.services
    jira = services.settings.jira
    body = await request.body()
    if not authenticate(jira.webhook_secret, body, request.headers.get("X-Hub-Signature"),
                        request.headers.get("X-Carelog-Webhook-Secret")):
        services.webhook_rejections += 1
        log.warning("refused a Jira webhook without a valid signature (%d so far)",
                    services.webhook_rejections)
        return Response({"status": "refused"}, status_code=HTTP_401_UNAUTHORIZED)
    try:
        changes = parse(body, request.headers.get("X-Atlassian-Webhook-Identifier"),
                        jira.declined_statuses)
    except InvalidInputError as error:
        return Response({"status": "invalid", "error": error.message},
                        status_code=HTTP_400_BAD_REQUEST)
    try:
        recorded = await asyncio.to_thread(_record, services, changes)
    finally:
        services.after_write()
    return Response({"status": "ok", "recorded": recorded}, status_code=HTTP_200_OK)


def _record(services: Services, changes: list[IssueChange]) -> int:
    """Record each change on its feedback; returns how many were news."""
    desk = services.desk
    recorded = 0
    for change in changes:
        feedback_id = change.feedback_id or _by_key(services, change.issue_key)
        if feedback_id is None:
            continue  # an issue that is not feedback of ours
        try:
            if change.kind == "created":
                feedback = desk.feedback(feedback_id)
                result = desk.link_jira_issue(
                    feedback_id=feedback_id, key=change.issue_key, revision=0,
                    announced=feedback.attempted_accounts or 1, actor=ACTOR)
            elif change.kind == "status" and change.status is not None:
                result = desk.record_jira_status(
                    feedback_id=feedback_id, delivery=change.delivery, status=change.status,
                    status_id=change.status_id, name=change.status_name,
                    changed_at=change.changed_at, actor=ACTOR)
            elif change.kind == "comment":
                result = desk.record_jira_comment(
                    feedback_id=feedback_id, delivery=change.delivery,
                    comment_id=change.comment_id, author=change.author, body=change.body,
                    created_at=change.changed_at, actor=ACTOR)
            else:
                continue
        except DomainError as error:  # answered 200 all the same: a retry would not help
            log.warning("Jira webhook about %s not recorded: %s", change.issue_key, error)
            continue
        recorded += 0 if result.duplicate else 1
    return recorded


def _by_key(services: Services, key: str) -> UUID | None:
    found = services.feedback.by_jira_key(key)
    return None if found is None else UUID(found)
