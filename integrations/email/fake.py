"""`FakeMailSender`: records what would have been mailed, and fails on demand."""

from __future__ import annotations

from collections import deque

from domain.ports import DeliveryReceipt, OutboundMessage


class FakeMailSender:
    """`MessageSender` for "email" in memory; queue receipts in `failures` to fail next sends."""

    channel = "email"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.attempts: list[OutboundMessage] = []
        self.failures: deque[DeliveryReceipt] = deque()

    def fail_next(self, error: str = "451 4.3.0 try again later", *,
                  retryable: bool = True, times: int = 1) -> None:
        for _ in range(times):
            self.failures.append(DeliveryReceipt(delivered=False, error=error,
                                                 retryable=retryable))

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.attempts.append(message)
        if self.failures:
            return self.failures.popleft()
        self.sent.append(message)
        return DeliveryReceipt(delivered=True, external_id=message.message_id.strip("<>"))

    def sent_to(self, address: str) -> list[OutboundMessage]:
        return [m for m in self.sent if m.conversation.lower() == address.lower()]
