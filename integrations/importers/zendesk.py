"""`carelog import zendesk`: organizations, users, tickets with their metrics and ratings.

Reads exported JSON files (any `*.json` in a directory whose top-level object holds
`organizations`, `users`, `tickets`, `metric_sets`, `ticket_metrics` or `satisfaction_ratings`
lists: the pages of the incremental ticket export with `include=metric_sets` qualify as they
are), or the same from the API with an email and API token.

Times: the first response is `created_at` plus the ticket metrics' calendar
`reply_time_in_minutes`; the resolution is the first resolution
(`first_resolution_time_in_minutes`, else `solved_at`); a ticket whose status is `closed` was
closed at its last update. Ratings: good is 5, bad is 1 (offered and unoffered are none).
A tag `escalated` marks an escalation at the opening.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from integrations.importers.cells import BadCell, choice
from integrations.importers.cells import api_time as _time
from integrations.importers.records import (
    ImportedAccount,
    ImportedContact,
    ImportedTicket,
    ImportPlan,
    Origin,
)
from integrations.importers.sources import Api, Records, check_directory, load_json
from integrations.importers.vocabulary import (
    PRIORITIES,
    TIERS,
    ZENDESK_CHANNELS,
    ZENDESK_SCORES,
)

KINDS = ("organizations", "users", "tickets", "metric_sets", "ticket_metrics",
         "satisfaction_ratings")


def read_directory(directory: Path) -> Records:
    records = Records()
    for path in check_directory(directory):
        body = load_json(path)
        if isinstance(body, dict):
            for kind in KINDS:
                if isinstance(body.get(kind), list):
                    records.add(kind, path.name, body[kind])
    return records


def fetch(base_url: str, email: str, token: str) -> Records:
    """Everything from the API: the cursor-based incremental ticket export (with metric sets)
    from the beginning, then organizations, users and satisfaction ratings, page by page."""
    api = Api(base_url, (f"{email}/token", token))
    records = Records()
    try:
        def next_page(response: Any, body: Any) -> str | None:
            if body.get("end_of_stream") is True:
                return None
            following = body.get("after_url") or body.get("next_page") or (
                body.get("links") or {}).get("next")
            if following and (body.get("meta") or {}).get("has_more") is False:
                return None
            return str(following) if following else None

        endpoints = [("/api/v2/incremental/tickets/cursor.json?start_time=0"
                      "&include=metric_sets", ("tickets", "metric_sets")),
                     ("/api/v2/organizations.json", ("organizations",)),
                     ("/api/v2/users.json", ("users",)),
                     ("/api/v2/satisfaction_ratings.json", ("satisfaction_ratings",))]
        for url, kinds in endpoints:
            for page, body in enumerate(api.pages(url, next_page), 1):
                for kind in kinds:
                    if isinstance(body, dict) and isinstance(body.get(kind), list):
                        records.add(kind, f"{url.split('?')[0]}#page{page}", body[kind])
    finally:
        api.close()
    return records


def _minutes(metrics: dict[str, Any], name: str) -> float | None:
    value = (metrics.get(name) or {}).get("calendar")
    return None if value is None else float(value)


class ZendeskReader:
    """Turns Zendesk records into the neutral `ImportPlan`."""

    def plan(self, records: Records) -> ImportPlan:
        plan = ImportPlan("zendesk", files_read=list(records.files))
        users = {item["id"]: item for _, _, item in records.of("users") if "id" in item}
        metrics = {item.get("ticket_id"): item for kind in ("metric_sets", "ticket_metrics")
                   for _, _, item in records.of(kind)}
        ratings = {item.get("ticket_id"): item for _, _, item in
                   records.of("satisfaction_ratings")}
        for where, position, org in records.of("organizations"):
            origin = Origin(where, position)
            try:
                plan.accounts.append(self._account(org, origin))
            except (BadCell, KeyError) as error:
                plan.reject("account", origin, f"zendesk/organization/{org.get('id')}",
                            str(error))
        for where, position, user in records.of("users"):
            if user.get("role", "end-user") != "end-user" or user.get("organization_id") is None:
                continue
            origin = Origin(where, position)
            if not user.get("email"):
                plan.reject("contact", origin, f"zendesk/user/{user.get('id')}",
                            "the user has no email address")
                continue
            plan.contacts.append(ImportedContact(
                key=f"zendesk/user/{user['id']}",
                account_key=f"zendesk/organization/{user['organization_id']}",
                name=str(user.get("name") or user["email"]), email=str(user["email"]).lower(),
                origin=origin, phone=user.get("phone") or None,
                added_at=_time(user.get("created_at"), "created_at")))
        seen: dict[Any, ImportedTicket] = {}
        for where, position, ticket in records.of("tickets"):
            origin = Origin(where, position)
            key = f"zendesk/ticket/{ticket.get('id')}"
            try:
                item = self._ticket(ticket, origin, users, metrics.get(ticket.get("id")) or {},
                                    ratings.get(ticket.get("id")))
            except (BadCell, KeyError) as error:
                plan.reject("ticket", origin, key, str(error))
                continue
            if item is not None:
                seen[ticket.get("id")] = item  # the export repeats updated tickets: last wins
        plan.tickets.extend(seen.values())
        return plan

    @staticmethod
    def _account(org: dict[str, Any], origin: Origin) -> ImportedAccount:
        fields = org.get("organization_fields") or {}
        tier = choice(str(fields.get("tier") or fields.get("plan") or "") or None, "tier",
                      TIERS) or "standard"
        return ImportedAccount(
            key=f"zendesk/organization/{org['id']}", name=str(org.get("name") or org["id"]),
            tier=tier, manager=str(fields.get("manager") or "Unassigned"), origin=origin,
            signed_up_at=_time(org.get("created_at"), "created_at"))

    @staticmethod
    def _ticket(ticket: dict[str, Any], origin: Origin, users: dict[Any, dict[str, Any]],
                metrics: dict[str, Any], rating: dict[str, Any] | None) -> ImportedTicket | None:
        if ticket.get("status") == "deleted":
            return None
        requester = users.get(ticket.get("requester_id")) or {}
        org = ticket.get("organization_id") or requester.get("organization_id")
        if org is None:
            raise BadCell("the ticket has no organization (nor has its requester)")
        opened = _time(ticket.get("created_at"), "created_at")
        if opened is None:
            raise BadCell("created_at is missing")
        reply = _minutes(metrics, "reply_time_in_minutes")
        first_resolution = _minutes(metrics, "first_resolution_time_in_minutes")
        resolved = (opened + timedelta(minutes=first_resolution) if first_resolution is not None
                    else _time(metrics.get("solved_at"), "solved_at"))
        closed = (_time(ticket.get("updated_at"), "updated_at")
                  if ticket.get("status") == "closed" else None)
        score_source = rating or ticket.get("satisfaction_rating") or {}
        csat = ZENDESK_SCORES.get(str(score_source.get("score") or ""))
        assignee = users.get(ticket.get("assignee_id")) or {}
        channel = ZENDESK_CHANNELS.get(str((ticket.get("via") or {}).get("channel")), "api")
        tags = [str(t) for t in ticket.get("tags") or []]
        subject = str(ticket.get("subject") or ticket.get("raw_subject") or
                      f"Ticket {ticket['id']}")
        return ImportedTicket(
            key=f"zendesk/ticket/{ticket['id']}", account_key=f"zendesk/organization/{org}",
            opened_at=opened, subject=subject,
            text=str(ticket.get("description") or subject), channel=channel,
            priority=choice(ticket.get("priority"), "priority", PRIORITIES) or "normal",
            origin=origin, topic=next((t for t in tags if t != "escalated"), None),
            requester_email=requester.get("email"), agent=assignee.get("name"),
            first_response_at=opened + timedelta(minutes=reply) if reply is not None else None,
            escalated_at=opened if "escalated" in tags else None, resolved_at=resolved,
            closed_at=closed, csat=csat,
            csat_comment=score_source.get("comment") if csat is not None else None,
            rated_at=_time(score_source.get("updated_at") or score_source.get("created_at"),
                           "rating time") if rating else None)
