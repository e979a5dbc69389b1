"""`FakeMailSender`: the `MessageSender` contract for email in memory, for unit tests."""

from __future__ import annotations

from domain.ports import DeliveryReceipt, OutboundMessage

CHANNEL = "email"


class FakeMailSender:
    """Records every send; `fail_next(receipt, ...)` makes the next sends answer those receipts.

    A delivered mail's receipt carries its Message-ID (without angle brackets), as `SmtpSender`.
    """

    channel = CHANNEL

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        """Mails that were delivered."""
        self.attempts: list[OutboundMessage] = []
        """Every mail asked for, delivered or not."""
        self._failures: list[DeliveryReceipt] = []

    def fail_next(self, *receipts: DeliveryReceipt) -> None:
        if any(r.delivered for r in receipts):
            raise ValueError("a failure receipt has delivered=False")
        self._failures.extend(receipts)

    @staticmethod
    def deferred() -> DeliveryReceipt:
        """What an SMTP server's 451 turns into."""
        return DeliveryReceipt(False, error="451 4.3.0 Try again later", retryable=True)

    @staticmethod
    def refused() -> DeliveryReceipt:
        """What an SMTP server's 550 (no such mailbox) turns into."""
        return DeliveryReceipt(False, error="550 5.1.1 No such user")

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.attempts.append(message)
        if message.channel != CHANNEL:
            return DeliveryReceipt(False, error=f"not an email message: {message.channel}")
        if self._failures:
            return self._failures.pop(0)
        self.sent.append(message)
        return DeliveryReceipt(True, message.message_id.strip().strip("<>"))

    def sent_to(self, address: str) -> list[OutboundMessage]:
        return [m for m in self.sent if m.conversation.lower() == address.lower()]
