"""Read model `rooms`: one chat room per account, every message of every channel in it.

Telegram, mail, web chat, portal, phone logs, web forms and staff posts all land in the room of
the account they belong to, ordered by when they were said (the channel's own time, then log
position), with author, channel and case. A room knows how long the client has been waiting
for us (since the first client message after our last one) and each staff member's unread
count (client messages after their read marker). Feedback outcomes appear as notes for the
account manager to pass on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid5

from domain.errors import InvalidInputError
from projections.accounts import AccountsProjection
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Table, stamp
from projections.store import ViewStore

ROOMS = Table(
    "rooms",
    columns=(
        Column("account_id"), Column("message_count", "int"),
        Column("last_activity_at", "timestamp"), Column("last_message"),
        Column("last_position", "int"), Column("waiting_since", "timestamp"),
    ),
    key=("account_id",),
    indexes=(("waiting_since",), ("last_activity_at",)),
)
MESSAGES = Table(
    "room_messages",
    columns=(
        Column("id"), Column("account_id"), Column("position", "int"),
        Column("occurred_at", "timestamp"), Column("kind"), Column("case_id"),
        Column("channel"), Column("direction"), Column("author"), Column("contact_id"),
        Column("text"), Column("subject"), Column("edited", "bool"),
        Column("attachments"), Column("automated", "bool"), Column("flagged"),
        Column("channel_allowed", "bool"), Column("delivery"), Column("delivery_error"),
        Column("external_id"),
    ),
    key=("id",),
    indexes=(("account_id", "occurred_at", "position"), ("account_id", "position"),
             ("case_id", "channel")),
)
READS = Table(
    "room_reads",
    columns=(Column("account_id"), Column("reader"), Column("position", "int")),
    key=("account_id", "reader"),
)

STRAYS = Table(
    "stray_messages",
    columns=(
        Column("id"), Column("channel"), Column("sender"), Column("sender_name"),
        Column("subject"), Column("text"), Column("occurred_at", "timestamp"),
        Column("reason"), Column("status"), Column("account_id"), Column("position", "int"),
    ),
    key=("id",),
    indexes=(("status", "occurred_at"),),
)

_PREVIEW = 200


class RoomsProjection(Projection):
    name = "rooms"
    version = 3
    tables = (ROOMS, MESSAGES, READS, STRAYS)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic == "carelog:Interaction.Recorded":
            yield ROOMS, (str(event.account_id),)
        elif topic.startswith("carelog:Interaction."):
            yield MESSAGES, (str(event.originator_id),)
        elif topic.startswith("carelog:StrayMessage.") and not topic.endswith(".Held"):
            yield STRAYS, (str(event.originator_id),)

    def _room(self, rows: Rows, account_id: str) -> dict[str, Any]:
        return rows.get(ROOMS, account_id) or {
            "account_id": account_id, "message_count": 0, "last_activity_at": None,
            "last_message": None, "last_position": 0, "waiting_since": None}

    def _add(self, rows: Rows, message: dict[str, Any], position: int) -> None:
        room = self._room(rows, message["account_id"])
        at = message["occurred_at"]
        room["last_position"] = position
        rows.put(MESSAGES, {**message, "position": position})
        if message["kind"] == "note":
            # A note is for staff only: the room's summary, which clients read too, shows
            # client-visible messages alone (staff count notes as unread all the same).
            rows.put(ROOMS, room)
            return
        room["message_count"] += 1
        if room["last_activity_at"] is None or at >= room["last_activity_at"]:
            room["last_activity_at"] = at
            room["last_message"] = message["text"][:_PREVIEW]
        if message["kind"] == "message" and not message["automated"]:
            if message["direction"] == "inbound":
                room["waiting_since"] = room["waiting_since"] or at
            else:
                room["waiting_since"] = None
        rows.put(ROOMS, room)

    @handles("carelog:Interaction.Recorded")
    def recorded(self, e: Any, rows: Rows, position: int) -> None:
        attachments = getattr(e, "attachments", None)
        self._add(rows, {
            "id": str(e.originator_id), "account_id": str(e.account_id),
            "occurred_at": e.occurred_at, "kind": "message",
            "case_id": str(e.case_id) if e.case_id else None, "channel": e.channel,
            "direction": e.direction, "author": e.sender,
            "contact_id": str(e.contact_id) if e.contact_id else None, "text": e.text,
            "subject": getattr(e, "subject", None), "edited": False,
            "attachments": json.dumps(attachments) if attachments else None,
            "automated": bool(getattr(e, "automated", False)),
            "flagged": getattr(e, "flagged", None), "channel_allowed": e.channel_allowed,
            "delivery": "pending" if e.direction == "outbound" and e.channel in _SENT else None,
            "delivery_error": None, "external_id": e.external_id or None,
        }, position)

    @handles("carelog:Feedback.OutcomeMessagePrepared")
    def outcome_prepared(self, e: Any, rows: Rows, position: int) -> None:
        self._add(rows, {
            "id": str(uuid5(e.originator_id, f"outcome/{e.account_id}/{e.outcome}")),
            "account_id": str(e.account_id), "occurred_at": e.occurred_at, "kind": "note",
            "case_id": None, "channel": "room", "direction": "note", "author": e.actor,
            "contact_id": None, "text": e.message, "subject": f"Feedback {e.outcome}",
            "edited": False, "attachments": None, "automated": False, "flagged": None,
            "channel_allowed": True, "delivery": None, "delivery_error": None,
            "external_id": None,
        }, position)

    def _message(self, rows: Rows, e: Any) -> dict[str, Any] | None:
        return rows.get(MESSAGES, str(e.originator_id))

    @handles("carelog:Interaction.Edited")
    def edited(self, e: Any, rows: Rows, position: int) -> None:
        message = self._message(rows, e)
        if message is not None:
            rows.put(MESSAGES, {**message, "text": e.text, "edited": True})

    @handles("carelog:Interaction.DeliveryAttempted")
    def attempted(self, e: Any, rows: Rows, position: int) -> None:
        self._delivery(rows, e, "sending", None)

    @handles("carelog:Interaction.Delivered")
    def delivered(self, e: Any, rows: Rows, position: int) -> None:
        message = self._message(rows, e)
        if message is not None:  # the channel's id for what we sent (a mail's Message-ID)
            rows.put(MESSAGES, {**message, "delivery": "delivered", "delivery_error": None,
                                "external_id": e.external_id or message["external_id"]})

    @handles("carelog:Interaction.DeliveryFailed")
    def failed(self, e: Any, rows: Rows, position: int) -> None:
        self._delivery(rows, e, "retrying" if e.retryable else "failed", e.error)

    def _delivery(self, rows: Rows, e: Any, state: str, error: str | None) -> None:
        message = self._message(rows, e)
        if message is not None:
            rows.put(MESSAGES, {**message, "delivery": state, "delivery_error": error})

    @handles("carelog:ReadMarker.Marked")
    def marked(self, e: Any, rows: Rows, position: int) -> None:
        rows.put(READS, {"account_id": str(e.account_id), "reader": e.reader,
                         "position": e.position})

    @handles("carelog:StrayMessage.Held")
    def stray_held(self, e: Any, rows: Rows, position: int) -> None:
        m = e.message
        rows.put(STRAYS, {
            "id": str(e.originator_id), "channel": m["channel"], "sender": m["sender"],
            "sender_name": m["sender_name"], "subject": m["subject"], "text": m["text"],
            "occurred_at": e.occurred_at, "reason": e.reason, "status": "held",
            "account_id": None, "position": position})

    @handles("carelog:StrayMessage.Routed", "carelog:StrayMessage.Dismissed")
    def stray_settled(self, e: Any, rows: Rows, position: int) -> None:
        row = rows.get(STRAYS, str(e.originator_id))
        if row is not None:
            routed = hasattr(e, "account_id")
            rows.put(STRAYS, {**row, "status": "routed" if routed else "dismissed",
                              "account_id": str(e.account_id) if routed else None,
                              "position": position})


# Outbound messages on these channels are sent by the delivery worker; the rest (phone logs,
# web chat and portal answers read in the browser) need no sending.
_SENT = frozenset({"telegram", "email", "room"})

_ROOM_TYPES = {c.name: c.type for c in ROOMS.columns}
_MESSAGE_TYPES = {c.name: c.type for c in MESSAGES.columns}
_STRAY_TYPES = {c.name: c.type for c in STRAYS.columns}
_UNREAD = ("(SELECT COUNT(*) FROM room_messages m WHERE m.account_id = r.account_id "
           "AND m.direction IN ('inbound', 'note') AND m.position > COALESCE("
           "(SELECT position FROM room_reads x WHERE x.account_id = r.account_id "
           "AND x.reader = ?), 0))")
_ROOM_ORDERS = {
    # Longest-waiting first (rooms nobody waits in last, most recent activity first).
    "WAITING": ("CASE WHEN r.waiting_since IS NULL THEN 1 ELSE 0 END, r.waiting_since, "
                "r.last_activity_at DESC, r.account_id"),
    "ACTIVITY": "r.last_activity_at DESC, r.account_id",
}


@dataclass(frozen=True, slots=True)
class RoomFilter:
    manager: str | None = None
    waiting_only: bool = False
    account_ids: tuple[str, ...] | None = None
    """Only these rooms (a client viewer's own); None for all."""


class RoomsView:
    projection = RoomsProjection.name
    projections = (RoomsProjection.name, AccountsProjection.name)

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def rooms(self, reader: str, where: RoomFilter, first: int, after: str | None,
              order: str = "WAITING") -> Page:
        """Rooms with the reader's unread count; offset paging over a small, ranked list."""
        check_first(first)
        if order not in _ROOM_ORDERS:
            raise InvalidInputError(f"unknown room order {order!r}")
        offset = int(decode_cursor(after, order, 1)[0]) if after else 0
        clauses, params = ["1 = 1"], [reader]
        if where.manager:
            clauses.append("a.manager = ?")
            params.append(where.manager)
        if where.waiting_only:
            clauses.append("r.waiting_since IS NOT NULL")
        if where.account_ids is not None:
            if not where.account_ids:
                return Page([], False)
            clauses.append(f"r.account_id IN ({', '.join('?' * len(where.account_ids))})")
            params.extend(where.account_ids)
        sql = (f"SELECT r.*, {_UNREAD} AS unread FROM rooms r "
               "JOIN accounts a ON a.id = r.account_id "
               f"WHERE {' AND '.join(clauses)} ORDER BY {_ROOM_ORDERS[order]} "
               "LIMIT ? OFFSET ?")
        with self.store.reader() as tx:
            found = [tx.decode(r, _ROOM_TYPES)
                     for r in tx.fetch_all(sql, [*params, first + 1, offset])]
        for i, row in enumerate(found):
            row["cursor"] = encode_cursor(order, [offset + i + 1])
        return Page(found[:first], len(found) > first)

    def room(self, account_id: str, reader: str) -> dict[str, Any] | None:
        sql = f"SELECT r.*, {_UNREAD} AS unread FROM rooms r WHERE r.account_id = ?"
        with self.store.reader() as tx:
            found = tx.fetch_one(sql, [reader, account_id])
            return tx.decode(found, _ROOM_TYPES) if found else None

    def messages(self, account_id: str, last: int, before: str | None,
                 notes: bool = True) -> Page:
        """The `last` messages said before the cursor (the newest without one), oldest first;
        without staff `notes` when a client reads."""
        check_first(last)
        clauses: list[str] = ["account_id = ?"] if notes else ["account_id = ?",
                                                               "kind = 'message'"]
        params: list[Any] = [account_id]
        if before:
            at, position = decode_cursor(before, "ROOM", 2)
            clauses.append("(occurred_at < ? OR (occurred_at = ? AND position < ?))")
            when = stamp(_as_time(at), self.store.dialect)
            params.extend([when, when, int(position)])
        sql = (f"SELECT * FROM room_messages WHERE {' AND '.join(clauses)} "
               "ORDER BY occurred_at DESC, position DESC LIMIT ?")
        with self.store.reader() as tx:
            found = [tx.decode(r, _MESSAGE_TYPES)
                     for r in tx.fetch_all(sql, [*params, last + 1])]
        page = found[:last]
        for row in page:
            row["cursor"] = encode_cursor("ROOM", [row["occurred_at"].isoformat(),
                                                   row["position"]])
            row["attachments"] = json.loads(row["attachments"]) if row["attachments"] else []
        page.reverse()
        return Page(page, len(found) > last)

    def messages_after(self, account_id: str, position: int, limit: int = 500,
                       notes: bool = True) -> list[dict[str, Any]]:
        """Messages folded after log position `position`, in log order (for live listeners);
        without staff `notes` when a client listens."""
        only = "" if notes else "AND kind = 'message' "
        sql = ("SELECT * FROM room_messages WHERE account_id = ? AND position > ? "
               f"{only}ORDER BY position LIMIT ?")
        with self.store.reader() as tx:
            found = [tx.decode(r, _MESSAGE_TYPES)
                     for r in tx.fetch_all(sql, [account_id, position, limit])]
        for row in found:
            row["attachments"] = json.loads(row["attachments"]) if row["attachments"] else []
        return found

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        sql = f"SELECT * FROM room_messages WHERE id IN ({', '.join('?' * len(ids))})"
        with self.store.reader() as tx:
            found = [tx.decode(r, _MESSAGE_TYPES) for r in tx.fetch_all(sql, ids)]
        for row in found:
            row["attachments"] = json.loads(row["attachments"]) if row["attachments"] else []
        return {r["id"]: r for r in found}

    def thread(self, case_id: str, channel: str) -> list[dict[str, Any]]:
        """A case's messages on one channel with their channel ids, in the order said."""
        sql = ("SELECT id, direction, external_id, automated FROM room_messages "
               "WHERE case_id = ? AND channel = ? AND external_id IS NOT NULL "
               "ORDER BY occurred_at, position")
        with self.store.reader() as tx:
            return [tx.decode(r, _MESSAGE_TYPES) for r in tx.fetch_all(sql, [case_id, channel])]

    def strays(self, status: str, first: int) -> list[dict[str, Any]]:
        """Stray messages in this status (held, routed, dismissed), oldest first."""
        check_first(first)
        with self.store.reader() as tx:
            return [tx.decode(r, _STRAY_TYPES) for r in tx.fetch_all(
                "SELECT * FROM stray_messages WHERE status = ? ORDER BY occurred_at, id "
                "LIMIT ?", [status, first])]

    def undelivered(self, limit: int = 100) -> list[dict[str, Any]]:
        """Our messages still to send (pending or to retry) or whose send has no outcome on
        record (`sending`: in flight, or cut short by a crash), oldest first."""
        sql = ("SELECT * FROM room_messages WHERE delivery IN ('pending', 'retrying', 'sending') "
               "ORDER BY position LIMIT ?")
        with self.store.reader() as tx:
            return [tx.decode(r, _MESSAGE_TYPES) for r in tx.fetch_all(sql, [limit])]


def _as_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError("the cursor is not one this API handed out") from None


