"""`carelog import freshdesk`: companies, contacts, tickets with stats, conversations, ratings.

Reads exported JSON files named by kind (`companies*.json`, `contacts*.json`, `agents*.json`,
`tickets*.json`, `conversations*.json`, `satisfaction_ratings*.json`), each a list as the API
answers it (conversations: a list of conversation objects with their `ticket_id`, or an object
of lists by ticket id), or fetches the same from the API v2 with an API key.

Times come from the ticket `stats` (`include=stats`): `first_responded_at`, `resolved_at`,
`closed_at`. With conversations, the public outgoing ones are the replies (the first is the
first response) and private notes are left out. Priorities 1-4 are low, normal (medium),
high, urgent. Ratings (103 extremely happy ... -103 extremely unhappy) become CSAT 1-5:
103 is 5, 102 and 101 are 4, 100 is 3, -101 and -102 are 2, -103 is 1. `is_escalated` marks
an escalation at the opening.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integrations.importers.cells import BadCell, choice
from integrations.importers.cells import api_time as _time
from integrations.importers.records import (
    ImportedAccount,
    ImportedContact,
    ImportedMessage,
    ImportedTicket,
    ImportPlan,
    Origin,
)
from integrations.importers.sources import Api, Records, check_directory, load_json
from integrations.importers.vocabulary import (
    FRESHDESK_CHANNELS,
    FRESHDESK_PRIORITIES,
    FRESHDESK_SCORES,
    TIERS,
)

KINDS = ("companies", "contacts", "agents", "tickets", "conversations", "satisfaction_ratings")
PER_PAGE = 100


def read_directory(directory: Path) -> Records:
    records = Records()
    for path in check_directory(directory):
        kind = next((k for k in KINDS if path.stem.lower().startswith(k)), None)
        if kind is None:
            continue
        body = load_json(path)
        if kind == "conversations" and isinstance(body, dict):
            for ticket_id, items in body.items():
                records.add(kind, path.name, [{**c, "ticket_id": c.get("ticket_id", ticket_id)}
                                              for c in items if isinstance(c, dict)])
        elif isinstance(body, list):
            records.add(kind, path.name, body)
    return records


def fetch(base_url: str, token: str) -> Records:
    """Everything from the API v2, page by page (100 a page, following the `next` link)."""
    api = Api(base_url, (token, "X"))
    records = Records()

    def next_page(response: Any, body: Any) -> str | None:
        link = response.links.get("next", {}).get("url")
        return str(link) if link and isinstance(body, list) and body else None

    try:
        endpoints = [
            ("companies", f"/api/v2/companies?per_page={PER_PAGE}"),
            ("contacts", f"/api/v2/contacts?per_page={PER_PAGE}"),
            ("agents", f"/api/v2/agents?per_page={PER_PAGE}"),
            ("tickets", f"/api/v2/tickets?include=stats&updated_since=1970-01-01T00:00:00Z"
                        f"&order_by=created_at&order_type=asc&per_page={PER_PAGE}"),
            ("satisfaction_ratings", f"/api/v2/surveys/satisfaction_ratings"
                                     f"?created_since=1970-01-01T00:00:00Z&per_page={PER_PAGE}"),
        ]
        for kind, url in endpoints:
            for page, body in enumerate(api.pages(url, next_page), 1):
                if isinstance(body, list):
                    records.add(kind, f"{url.split('?')[0]}#page{page}", body)
        for _, _, ticket in list(records.of("tickets")):
            url = f"/api/v2/tickets/{ticket.get('id')}/conversations?per_page={PER_PAGE}"
            for body in api.pages(url, next_page):
                if isinstance(body, list):
                    records.add("conversations", url.split("?")[0],
                                [{**c, "ticket_id": c.get("ticket_id", ticket.get("id"))}
                                 for c in body if isinstance(c, dict)])
    finally:
        api.close()
    return records


class FreshdeskReader:
    """Turns Freshdesk records into the neutral `ImportPlan`."""

    def plan(self, records: Records) -> ImportPlan:
        plan = ImportPlan("freshdesk", files_read=list(records.files))
        contacts = {c["id"]: c for _, _, c in records.of("contacts") if "id" in c}
        agents = {a["id"]: a for _, _, a in records.of("agents") if "id" in a}
        ratings = {r.get("ticket_id"): r for _, _, r in records.of("satisfaction_ratings")}
        conversations: dict[Any, list[tuple[Origin, dict[str, Any]]]] = {}
        for where, position, item in records.of("conversations"):
            conversations.setdefault(item.get("ticket_id"), []).append(
                (Origin(where, position), item))
        for where, position, company in records.of("companies"):
            origin = Origin(where, position)
            try:
                tier = choice(company.get("account_tier"), "account_tier", TIERS) or "standard"
                plan.accounts.append(ImportedAccount(
                    key=f"freshdesk/company/{company['id']}",
                    name=str(company.get("name") or company["id"]), tier=tier,
                    manager="Unassigned", origin=origin,
                    signed_up_at=_time(company.get("created_at"), "created_at")))
            except (BadCell, KeyError) as error:
                plan.reject("account", origin, f"freshdesk/company/{company.get('id')}",
                            str(error))
        for where, position, contact in records.of("contacts"):
            origin = Origin(where, position)
            if contact.get("company_id") is None:
                continue
            if not contact.get("email"):
                plan.reject("contact", origin, f"freshdesk/contact/{contact.get('id')}",
                            "the contact has no email address")
                continue
            plan.contacts.append(ImportedContact(
                key=f"freshdesk/contact/{contact['id']}",
                account_key=f"freshdesk/company/{contact['company_id']}",
                name=str(contact.get("name") or contact["email"]),
                email=str(contact["email"]).lower(), origin=origin,
                phone=contact.get("phone") or contact.get("mobile") or None,
                added_at=_time(contact.get("created_at"), "created_at")))
        for where, position, ticket in records.of("tickets"):
            origin = Origin(where, position)
            key = f"freshdesk/ticket/{ticket.get('id')}"
            try:
                plan.tickets.append(self._ticket(ticket, origin, contacts, agents,
                                                 ratings.get(ticket.get("id")),
                                                 conversations.get(ticket.get("id"), [])))
            except (BadCell, KeyError) as error:
                plan.reject("ticket", origin, key, str(error))
        return plan

    @staticmethod
    def _ticket(ticket: dict[str, Any], origin: Origin, contacts: dict[Any, dict[str, Any]],
                agents: dict[Any, dict[str, Any]], rating: dict[str, Any] | None,
                conversation: list[tuple[Origin, dict[str, Any]]]) -> ImportedTicket:
        requester = contacts.get(ticket.get("requester_id")) or {}
        company = ticket.get("company_id") or requester.get("company_id")
        if company is None:
            raise BadCell("the ticket has no company (nor has its requester)")
        opened = _time(ticket.get("created_at"), "created_at")
        if opened is None:
            raise BadCell("created_at is missing")
        stats = ticket.get("stats") or {}
        priority = FRESHDESK_PRIORITIES.get(ticket.get("priority") or 2)
        if priority is None:
            raise BadCell(f"priority {ticket.get('priority')!r} is not 1 to 4")
        csat = None
        if rating is not None:
            answer = (rating.get("ratings") or {}).get("default_question")
            csat = FRESHDESK_SCORES.get(int(answer)) if answer is not None else None
            if answer is not None and csat is None:
                raise BadCell(f"rating {answer!r} is not a Freshdesk rating")
        agent = agents.get(ticket.get("responder_id")) or {}
        agent_name = (agent.get("contact") or {}).get("name") or agent.get("name")
        messages = []
        for where, item in conversation:
            if item.get("private"):
                continue
            sent = _time(item.get("created_at"), "conversation created_at")
            if sent is None:
                continue
            incoming = bool(item.get("incoming"))
            author = (requester.get("email") if incoming else agent_name) or ""
            messages.append(ImportedMessage(
                key=f"freshdesk/conversation/{item.get('id')}", sent_at=sent, inbound=incoming,
                author=str(author), text=str(item.get("body_text") or item.get("body") or
                                             "(empty message)"), origin=where))
        messages.sort(key=lambda m: m.sent_at)
        subject = str(ticket.get("subject") or f"Ticket {ticket['id']}")
        return ImportedTicket(
            key=f"freshdesk/ticket/{ticket['id']}", account_key=f"freshdesk/company/{company}",
            opened_at=opened, subject=subject,
            text=str(ticket.get("description_text") or ticket.get("description") or subject),
            channel=FRESHDESK_CHANNELS.get(ticket.get("source") or 1, "api"), priority=priority,
            origin=origin, topic=ticket.get("type") or None,
            requester_email=requester.get("email"), agent=agent_name,
            first_response_at=_time(stats.get("first_responded_at"), "first_responded_at"),
            escalated_at=opened if ticket.get("is_escalated") else None,
            resolved_at=_time(stats.get("resolved_at"), "resolved_at"),
            closed_at=_time(stats.get("closed_at"), "closed_at"), csat=csat,
            csat_comment=(rating or {}).get("feedback") or None,
            rated_at=_time((rating or {}).get("created_at"), "rating created_at"),
            messages=messages)
