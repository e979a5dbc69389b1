"""An event log notification as a JetStream message, and back.

The payload is the stored event's state exactly as the log holds it; headers carry the rest.
`Nats-Msg-Id` is `<epoch>:<notification id>`: the epoch names the database the log lives in, so
a reset database never collides with the ids of the one before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification
from nats.aio.msg import Msg
from nats.js.api import Header

NOTIFICATION_ID = "Carelog-Notification-Id"
ORIGINATOR_ID = "Carelog-Originator-Id"
ORIGINATOR_VERSION = "Carelog-Originator-Version"
TOPIC = "Carelog-Topic"
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


def headers_for(notification: Notification, epoch: str,
                previous: MessageId | None) -> dict[str, str]:
    headers = {
        Header.MSG_ID: str(MessageId(epoch, notification.id)),
        NOTIFICATION_ID: str(notification.id),
        ORIGINATOR_ID: str(notification.originator_id),
        ORIGINATOR_VERSION: str(notification.originator_version),
        TOPIC: notification.topic,
    }
    if previous is not None:
        # The stream accepts the message only right after the one we published before it:
        # the stream stays in log order with no holes, even with two relays or a lost ack.
        headers[EXPECTED_LAST_MSG_ID] = str(previous)
    return headers


def notification_of(msg: Msg) -> Notification:
    headers = msg.headers or {}
    return Notification(
        originator_id=UUID(headers[ORIGINATOR_ID]),
        originator_version=int(headers[ORIGINATOR_VERSION]),
        topic=headers[TOPIC],
        state=msg.data,
        id=int(headers[NOTIFICATION_ID]),
    )
