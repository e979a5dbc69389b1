"""Mail loops (C8): no automatic answer to machines, and a per-sender cap for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.ports import InboundMessage, OutboundMessage
from integrations.clock import FakeClock
from integrations.email.fake import FakeMailSender
from integrations.email.loops import SenderRateLimit, should_auto_answer
from integrations.email.parsing import read_mail
from integrations.email.smtp_sender import SmtpConfig, build_mail
from tests import mail_corpus as corpus

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def inbound(**changes: object) -> InboundMessage:
    fields: dict[str, object] = {
        "channel": "email", "external_id": "m1@acme.example", "conversation": "a@acme.example",
        "sender": "a@acme.example", "sender_name": "A", "text": "hi", "occurred_at": START}
    fields.update(changes)
    return InboundMessage(**fields)  # type: ignore[arg-type]


def test_people_get_answers_machines_and_flagged_mail_do_not():
    assert should_auto_answer(inbound())
    assert not should_auto_answer(inbound(automated=True))
    assert not should_auto_answer(inbound(flagged="claims staff sender"))
    assert not should_auto_answer(inbound(sender="", conversation=""))


def test_the_rate_limit_holds_per_sender_and_slides_with_the_clock():
    clock = FakeClock(START)
    limit = SenderRateLimit(clock, limit=5, window=timedelta(hours=1))
    assert [limit.try_acquire("Loop@Acme.example") for _ in range(7)] == [True] * 5 + [False] * 2
    assert limit.try_acquire("other@acme.example")
    clock.advance(timedelta(minutes=59))
    assert not limit.try_acquire("loop@acme.example")
    clock.advance(timedelta(minutes=1))
    assert limit.try_acquire("loop@acme.example")


def auto_ack(raw: bytes, limit: SenderRateLimit, sender: FakeMailSender) -> None:
    """What an acknowledging reactor does with one inbound mail."""
    message = read_mail(raw, trusted_authserv_id=None, staff_domains=frozenset()).message
    if should_auto_answer(message) and limit.try_acquire(message.sender):
        sender.send(OutboundMessage(channel="email", conversation=message.conversation,
                                    text="We received your mail.", automated=True,
                                    message_id=f"ack-{len(sender.sent)}@carelog.example",
                                    in_reply_to=message.external_id))


def test_c8_auto_responders_get_no_acknowledgement_and_the_loop_stops():
    clock = FakeClock(START)
    limit, sender = SenderRateLimit(clock), FakeMailSender()
    # each mailbox answers every mail it gets: 20 rounds, nothing goes back
    for _ in range(20):
        auto_ack(corpus.auto_reply("Auto-Submitted: auto-replied", "away@acme.example"),
                 limit, sender)
        auto_ack(corpus.auto_reply("X-Autoreply: yes", "ooo@globex.example"), limit, sender)
    assert sender.attempts == []


def test_c8_a_responder_without_any_marker_is_capped_by_the_rate_limit():
    clock = FakeClock(START)
    limit, sender = SenderRateLimit(clock), FakeMailSender()
    for _ in range(50):
        auto_ack(corpus.auto_reply("X-Mailer: Naive Responder", "naive@acme.example"),
                 limit, sender)
        clock.advance(timedelta(seconds=30))
    assert len(sender.sent_to("naive@acme.example")) == 5
    assert all(m.automated for m in sender.sent)


def test_the_fake_sender_records_and_fails_on_demand():
    sender = FakeMailSender()
    message = OutboundMessage(channel="email", conversation="a@acme.example", text="x",
                              message_id="<m1@carelog.example>")
    sender.fail_next(sender.refused(), sender.deferred())
    refused, deferred, delivered = (sender.send(message) for _ in range(3))
    assert (refused.delivered, refused.retryable, refused.error) == (
        False, False, "550 5.1.1 No such user")
    assert (deferred.delivered, deferred.retryable) == (False, True)
    assert (delivered.delivered, delivered.external_id) == (True, "m1@carelog.example")
    assert sender.sent == [message]
    assert sender.attempts == [message] * 3
    telegram = sender.send(OutboundMessage(channel="telegram", conversation="1", text="x",
                                           message_id="1"))
    assert (telegram.delivered, telegram.error) == (False, "not an email message: telegram")


def test_our_own_acknowledgement_read_back_is_automatic():
    """If an ack of ours is bounced or forwarded back to us, it is never answered."""
    ack = OutboundMessage(channel="email", conversation="a@acme.example", text="Received.",
                          message_id="ack-1@carelog.example", automated=True)
    raw = build_mail(ack, SmtpConfig(host="127.0.0.1", from_address="support@carelog.example"),
                     FakeClock(START)).as_bytes()
    message = read_mail(raw, trusted_authserv_id=None, staff_domains=frozenset()).message
    assert message.automated
    assert not should_auto_answer(message)
