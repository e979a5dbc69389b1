"""`FakeTelegramSender`: the `MessageSender` contract in memory, for unit tests."""

from __future__ import annotations

from domain.conversation import split_topic
from domain.ports import DeliveryReceipt, OutboundMessage
from integrations.telegram.updates import CHANNEL, message_external_id


class FakeTelegramSender:
    """Records every send; `fail_next(receipt, ...)` makes the next sends answer those receipts.

    Delivered messages are numbered per chat from 1000, as `<chat>:<message_id>`.
    """

    channel = CHANNEL

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        """Messages that were delivered."""
        self.attempts: list[OutboundMessage] = []
        """Every message asked for, delivered or not."""
        self._failures: list[DeliveryReceipt] = []
        self._next_id: dict[str, int] = {}

    def fail_next(self, *receipts: DeliveryReceipt) -> None:
        if any(r.delivered for r in receipts):
            raise ValueError("a failure receipt has delivered=False")
        self._failures.extend(receipts)

    def blocked(self) -> DeliveryReceipt:
        """What Telegram's "bot was blocked by the user" turns into."""
        return DeliveryReceipt(False, error="Telegram sendMessage answered 403: Forbidden: "
                                            "bot was blocked by the user")

    def rate_limited(self, retry_after: int = 5) -> DeliveryReceipt:
        return DeliveryReceipt(False, error=f"Telegram rate limit (429): retry after "
                                            f"{retry_after} s", retryable=True)

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.attempts.append(message)
        if message.channel != CHANNEL:
            return DeliveryReceipt(False, error=f"not a Telegram message: {message.channel}")
        if self._failures:
            return self._failures.pop(0)
        chat, _ = split_topic(CHANNEL, message.conversation)  # a forum's topics share ids
        message_id = self._next_id.get(chat, 1000)
        self._next_id[chat] = message_id + 1
        self.sent.append(message)
        return DeliveryReceipt(True, message_external_id(chat, message_id))
