"""An event log notification as a JetStream message, and back.

The payload is one line naming the notification (`<id> <originator id> <version> <topic>`),
then the stored event's state exactly as the log holds it. Headers carry only what the server
acts on, because nats-py parses headers slowly (tens of microseconds a message): `Nats-Msg-Id`
is `<epoch>:<notification id>`, the epoch naming the database the log lives in, so a reset
database never collides with the ids of the one before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification
from nats.aio.msg import Msg
from nats.js.api import Header

EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"


def log_epoch(first: Notification) -> str:
    """A short name for a database, from the first event it ever recorded."""
    digest = hashlib.sha256(
        f"{first.originator_id}:{first.originator_version}:{first.topic}:".encode()
        + first.state)
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class MessageId:
    epoch: str
    notification_id: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.notification_id}"

    @classmethod
    def parse(cls, text: str) -> MessageId:
        epoch, _, nid = text.partition(":")
        return cls(epoch, int(nid))


def payload_of(notification: Notification) -> bytes:
    head = (f"{notification.id} {notification.originator_id} "
            f"{notification.originator_version} {notification.topic}\n")
    return head.encode() + notification.state


def headers_for(notification: Notification, epoch: str,
                previous: MessageId | None) -> dict[str, str]:
    headers: dict[str, str] = {Header.MSG_ID: str(MessageId(epoch, notification.id))}
    if previous is not None:
        # The stream accepts the message only right after the one we published before it:
        # the stream stays in log order with no holes, even with two relays or a lost ack.
        headers[EXPECTED_LAST_MSG_ID] = str(previous)
    return headers


def notification_of(msg: Msg) -> Notification:
    head, _, state = msg.data.partition(b"\n")
    nid, originator_id, version, topic = head.decode().split(" ", 3)
    return Notification(originator_id=UUID(originator_id), originator_version=int(version),
                        topic=topic, state=state, id=int(nid))
