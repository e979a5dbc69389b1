"""`carelog import csv DIR`: accounts, revenue, contacts, tickets, messages and NPS as CSV.

The column sets are in `COLUMNS` (the command's --help and the README print them). Header
names are matched without regard to case, blanks or dashes; unknown columns are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path

from integrations.importers import cells
from integrations.importers.cells import BadCell
from integrations.importers.records import (
    ImportedAccount,
    ImportedContact,
    ImportedMessage,
    ImportedNps,
    ImportedTicket,
    ImportPlan,
    Origin,
    RevenueSpan,
)
from integrations.importers.vocabulary import CHANNELS, DIRECTIONS, PRIORITIES, ROLES, TIERS

# file -> (required columns, optional columns); `a|b` means either spelling.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "accounts.csv": (("id", "name"), ("plan|tier", "seats", "signup_date", "manager",
                                     "currency", "churned", "churn_date", "churn_reason")),
    "revenue.csv": (("account", "start", "mrr|arr"), ("end", "currency")),
    "contacts.csv": (("account", "email"), ("name", "phone", "role", "added")),
    "tickets.csv": (("id", "account", "opened"), (
        "subject", "text", "channel", "priority", "topic", "requester", "agent",
        "first_response", "escalated", "resolved", "closed", "satisfaction",
        "satisfaction_comment", "rated")),
    "messages.csv": (("ticket", "sent", "direction", "text"), ("id", "author")),
    "nps.csv": (("account", "email", "score", "answered"), ("survey", "comment")),
}

_KINDS = {"accounts.csv": "account", "revenue.csv": "revenue", "contacts.csv": "contact",
          "tickets.csv": "ticket", "messages.csv": "message", "nps.csv": "nps"}

Row = dict[str, str]


def _header(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _rows(path: Path) -> Iterator[tuple[int, Row]]:
    """Each row with the line it starts on (the header is line 1)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [_header(h) for h in next(reader, [])]
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                yield start, dict(zip(header, values, strict=False))
            start = reader.line_num + 1


def _get(row: Row, names: str) -> str | None:
    for name in names.split("|"):
        value = cells.text(row.get(name))
        if value is not None:
            return value
    return None


def _need(row: Row, names: str) -> str:
    value = _get(row, names)
    if value is None:
        raise BadCell(f"{names.replace('|', ' or ')} is missing")
    return value


def _find(directory: Path, name: str) -> Path | None:
    for candidate in directory.iterdir():
        if candidate.name.lower() == name:
            return candidate
    return None


class CsvReader:
    """Reads the CSV files of one directory into an `ImportPlan`."""

    def __init__(self, local: tzinfo = UTC, currency: str = "EUR") -> None:
        self.local = local
        self.currency = currency

    def read(self, directory: Path) -> ImportPlan:
        plan = ImportPlan("csv")
        readers: dict[str, Callable[[ImportPlan, Origin, Row], None]] = {
            "accounts.csv": self._account, "revenue.csv": self._revenue,
            "contacts.csv": self._contact, "tickets.csv": self._ticket,
            "messages.csv": self._message, "nps.csv": self._nps,
        }
        self._accounts: dict[str, ImportedAccount] = {}
        self._tickets: dict[str, ImportedTicket] = {}
        for name, read_row in readers.items():
            path = _find(directory, name)
            if path is None:
                continue
            plan.files_read.append(path.name)
            kind = _KINDS[name]
            for line, row in _rows(path):
                origin = Origin(path.name, line)
                try:
                    read_row(plan, origin, row)
                except BadCell as error:
                    plan.reject(kind, origin, _get(row, "id|account|ticket") or "", str(error))
        for ticket in plan.tickets:
            ticket.messages.sort(key=lambda m: m.sent_at)
        return plan

    def _when(self, row: Row, column: str) -> datetime | None:
        return cells.moment(_get(row, column), column, self.local)

    def _when_needed(self, row: Row, column: str) -> datetime:
        value = self._when(row, column)
        if value is None:
            raise BadCell(f"{column} is missing")
        return value

    def _account(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        ref = _need(row, "id")
        churned = cells.boolean(row.get("churned"), "churned")
        churned_at = self._when(row, "churn_date")
        if churned and churned_at is None:
            raise BadCell("churned is TRUE but churn_date is missing")
        if churned is False and churned_at is not None:
            raise BadCell("churned is FALSE but churn_date is given")
        seats = cells.integer(row.get("seats"), "seats")
        if seats is not None and seats < 1:
            raise BadCell("seats must be at least 1")
        account = ImportedAccount(
            key=f"csv/account/{ref}", name=_need(row, "name"),
            tier=cells.choice(_get(row, "plan|tier"), "plan", TIERS) or "standard",
            manager=_get(row, "manager") or "Unassigned", origin=origin,
            signed_up_at=self._when(row, "signup_date"),
            currency=(_get(row, "currency") or "").upper() or None, seats=seats,
            churned_at=churned_at, churn_reason=_get(row, "churn_reason") or "churned (imported)")
        if account.key in self._accounts:
            raise BadCell(f"account {ref} appears twice")
        self._accounts[account.key] = account
        plan.accounts.append(account)

    def _known_account(self, row: Row) -> ImportedAccount | None:
        return self._accounts.get(f"csv/account/{_need(row, 'account')}")

    def _revenue(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        account = self._known_account(row)
        if account is None:
            raise BadCell(f"account {_get(row, 'account')} is not in accounts.csv")
        start = self._when_needed(row, "start")
        end = self._when(row, "end")
        if end is not None and end < start:
            raise BadCell("end is before start")
        mrr = cells.money(row.get("mrr"), "mrr")
        arr = cells.money(row.get("arr"), "arr")
        if (mrr is None) == (arr is None):
            raise BadCell("give either mrr or arr")
        monthly = mrr if mrr is not None else (arr or Decimal(0)) / 12
        currency = (_get(row, "currency") or account.currency or self.currency).upper()
        account.revenue.append(RevenueSpan(start, end, monthly, currency, origin))

    def _contact(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        email = _need(row, "email").lower()
        account_ref = _need(row, "account")
        plan.contacts.append(ImportedContact(
            key=f"csv/contact/{account_ref}/{email}", account_key=f"csv/account/{account_ref}",
            name=_get(row, "name") or email.split("@")[0], email=email, origin=origin,
            phone=_get(row, "phone"), role=cells.choice(row.get("role"), "role", ROLES) or "user",
            added_at=self._when(row, "added")))

    def _ticket(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        ref = _need(row, "id")
        opened = self._when_needed(row, "opened")
        escalated_raw = _get(row, "escalated")
        escalated_at: datetime | None = None
        if escalated_raw is not None:
            try:
                escalated_at = opened if cells.boolean(escalated_raw, "escalated") else None
            except BadCell:
                escalated_at = self._when(row, "escalated")
        csat = cells.integer(row.get("satisfaction"), "satisfaction")
        if csat is not None and not 1 <= csat <= 5:
            raise BadCell(f"satisfaction must be 1 to 5, not {csat}")
        subject = _get(row, "subject") or f"Ticket {ref}"
        ticket = ImportedTicket(
            key=f"csv/ticket/{ref}", account_key=f"csv/account/{_need(row, 'account')}",
            opened_at=opened, subject=subject, text=_get(row, "text") or subject,
            channel=cells.choice(row.get("channel"), "channel", CHANNELS) or "email",
            priority=cells.choice(row.get("priority"), "priority", PRIORITIES) or "normal",
            origin=origin, topic=_get(row, "topic"), requester_email=_get(row, "requester"),
            agent=_get(row, "agent"), first_response_at=self._when(row, "first_response"),
            escalated_at=escalated_at, resolved_at=self._when(row, "resolved"),
            closed_at=self._when(row, "closed"), csat=csat,
            csat_comment=_get(row, "satisfaction_comment"), rated_at=self._when(row, "rated"))
        if ticket.key in self._tickets:
            raise BadCell(f"ticket {ref} appears twice")
        self._tickets[ticket.key] = ticket
        plan.tickets.append(ticket)

    def _message(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        ticket_ref = _need(row, "ticket")
        ticket = self._tickets.get(f"csv/ticket/{ticket_ref}")
        if ticket is None:
            raise BadCell(f"ticket {ticket_ref} is not in tickets.csv")
        sent = self._when_needed(row, "sent")
        direction = cells.choice(row.get("direction"), "direction", DIRECTIONS)
        ident = _get(row, "id") or f"line-{origin.line}"
        ticket.messages.append(ImportedMessage(
            key=f"csv/message/{ticket_ref}/{ident}", sent_at=sent,
            inbound=direction == "inbound", author=_get(row, "author") or "",
            text=_need(row, "text"), origin=origin))

    def _nps(self, plan: ImportPlan, origin: Origin, row: Row) -> None:
        score = cells.integer(row.get("score"), "score")
        if score is None or not 0 <= score <= 10:
            raise BadCell(f"score must be 0 to 10, not {score}")
        answered = self._when_needed(row, "answered")
        account_ref, email = _need(row, "account"), _need(row, "email").lower()
        survey = _get(row, "survey") or answered.strftime("%Y-%m")
        plan.nps.append(ImportedNps(
            key=f"csv/nps/{account_ref}/{email}/{survey}", account_key=f"csv/account/{account_ref}",
            email=email, score=score, answered_at=answered, origin=origin, survey=survey,
            comment=_get(row, "comment")))


def describe_columns() -> str:
    """The column sets, as printed by --help and the README."""
    lines = []
    for name, (required, optional) in COLUMNS.items():
        lines.append(f"{name}: {', '.join(required)} [{', '.join(optional)}]")
    return "\n".join(lines)
