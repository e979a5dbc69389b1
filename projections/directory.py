"""Read model `directory`: who a client is, by the address a channel shows.

Mail from `eva@acme.example` reaches Acme because Eva is one of its contacts, or failing that
because `acme.example` is one of its mail domains; a call from +49 30 1234 reaches the contact
with that number. Serves the channel routes (`DirectoryView.find`), and names the chats bound
to an account's room (`DirectoryView.bound_chats`), where room posts are sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table
from projections.store import ViewStore

ADDRESSES = Table(
    "directory_addresses",
    columns=(Column("kind"), Column("address"), Column("account_id"), Column("contact_id"),
             Column("position", "int")),
    key=("kind", "address", "account_id"),
    indexes=(("account_id",),),
)
CONTACTS = Table(
    "directory_contacts",
    columns=(Column("contact_id"), Column("account_id"), Column("email"), Column("phone")),
    key=("contact_id",),
)
DOMAINS = Table(
    "directory_domains",
    columns=(Column("account_id"), Column("domains")),  # comma-separated, as last set
    key=("account_id",),
)

CHATS = Table(
    "directory_chats",
    columns=(Column("conversation_id"), Column("account_id"), Column("channel"),
             Column("conversation"), Column("position", "int")),
    key=("conversation_id",),
    indexes=(("account_id",),),
)


def phone_key(number: str) -> str:
    """Digits only, with the leading + kept: how a number is compared, however written."""
    number = number.strip()
    digits = re.sub(r"\D", "", number)
    return ("+" if number.startswith(("+", "00")) else "") + digits.removeprefix(
        "00" if number.startswith("00") else "")


class DirectoryProjection(Projection):
    name = "directory"
    version = 2
    tables = (ADDRESSES, CONTACTS, DOMAINS, CHATS)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic == "carelog:Account.ContactLeft":
            yield CONTACTS, (str(event.contact_id),)
        elif topic == "carelog:Account.EmailDomainsSet":
            yield DOMAINS, (str(event.originator_id),)
        elif topic == "carelog:Conversation.Unbound":
            yield CHATS, (str(event.originator_id),)

    @handles("carelog:Conversation.Bound")
    def chat_bound(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(CHATS, {"conversation_id": str(e.originator_id),
                         "account_id": str(e.account_id), "channel": e.channel,
                         "conversation": e.conversation, "position": position})

    @handles("carelog:Conversation.Unbound")
    def chat_unbound(self, e: Any, rows: Rows, position: int) -> None:
        rows.delete(CHATS, str(e.originator_id))

    @handles("carelog:Account.ContactAdded")
    def contact_added(self, e: Any, rows: Rows, position: int) -> None:
        account, contact = str(e.originator_id), str(e.contact_id)
        rows.put(CONTACTS, {"contact_id": contact, "account_id": account, "email": e.email,
                            "phone": phone_key(e.phone) if e.phone else None})
        rows.put(ADDRESSES, {"kind": "email", "address": e.email, "account_id": account,
                             "contact_id": contact, "position": position})
        if e.phone:
            rows.put(ADDRESSES, {"kind": "phone", "address": phone_key(e.phone),
                                 "account_id": account, "contact_id": contact,
                                 "position": position})

    @handles("carelog:Account.ContactLeft")
    def contact_left(self, e: Any, rows: Rows, position: int) -> None:
        contact = rows.get(CONTACTS, str(e.contact_id))
        if contact is None:
            return
        rows.delete(ADDRESSES, "email", contact["email"], contact["account_id"])
        if contact["phone"]:
            rows.delete(ADDRESSES, "phone", contact["phone"], contact["account_id"])
        rows.delete(CONTACTS, str(e.contact_id))

    @handles("carelog:Account.EmailDomainsSet")
    def domains_set(self, e: Any, rows: Rows, position: int) -> None:
        account = str(e.originator_id)
        before = rows.get(DOMAINS, account)
        for domain in (before["domains"].split(",") if before and before["domains"] else []):
            rows.delete(ADDRESSES, "domain", domain, account)
        for domain in e.domains:
            rows.put(ADDRESSES, {"kind": "domain", "address": domain, "account_id": account,
                                 "contact_id": None, "position": position})
        rows.put(DOMAINS, {"account_id": account, "domains": ",".join(e.domains)})


@dataclass(frozen=True, slots=True)
class Match:
    account_id: UUID
    contact_id: UUID | None


class DirectoryView:
    projection = DirectoryProjection.name
    projections = (DirectoryProjection.name,)

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def _lookup(self, kind: str, address: str) -> list[Match]:
        with self.store.reader() as tx:
            found = tx.fetch_all(
                "SELECT account_id, contact_id FROM directory_addresses "
                "WHERE kind = ? AND address = ? ORDER BY position", [kind, address])
        return [Match(UUID(r["account_id"]), UUID(r["contact_id"]) if r["contact_id"] else None)
                for r in found]

    def find_email(self, address: str) -> list[Match]:
        """The contacts with this address; else the accounts owning its domain."""
        address = address.strip().lower()
        found = self._lookup("email", address)
        if found:
            return found
        return self._lookup("domain", address.rpartition("@")[2])

    def find_phone(self, number: str) -> list[Match]:
        return self._lookup("phone", phone_key(number))

    def bound_chats(self, account_id: str, channel: str) -> list[str]:
        """The chats on `channel` bound to the account's room, in the order they were bound."""
        with self.store.reader() as tx:
            found = tx.fetch_all(
                "SELECT conversation FROM directory_chats WHERE account_id = ? AND channel = ? "
                "ORDER BY position", [account_id, channel])
        return [str(r["conversation"]) for r in found]
