"""The outbound delivery reactor's decisions, with the in-memory Telegram sender: where each
message goes, intent before the send and outcome after, retries, and no blind resend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import CareDesk
from domain.interaction import Interaction
from domain.ports import DeliveryReceipt, InboundMessage
from integrations.clock import FakeClock
from integrations.telegram.fake import FakeTelegramSender
from projections.directory import CHATS, DirectoryProjection
from projections.rooms import MESSAGES, RoomsProjection
from tests.unit.helpers import STAFF, topics
from tests.unit.test_projection_folds import fold
from workers.outbound_delivery import NO_CHAT, OUTCOME_UNKNOWN, OutboundDelivery

GROUP = "-100123"


class FoldedRooms:
    """`RoomsView.undelivered` over the rooms projection folded in memory."""

    def __init__(self, desk: CareDesk) -> None:
        self.desk = desk

    def undelivered(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = fold(self.desk, RoomsProjection()).all(MESSAGES)
        due = [r for r in rows if r["delivery"] in ("pending", "retrying", "sending")]
        return sorted(due, key=lambda r: r["position"])[:limit]

    def delivery(self, interaction_id: UUID) -> tuple[str, str | None]:
        rows = {r["id"]: r for r in fold(self.desk, RoomsProjection()).all(MESSAGES)}
        row = rows[str(interaction_id)]
        return row["delivery"], row["delivery_error"]


class FoldedDirectory:
    def __init__(self, desk: CareDesk) -> None:
        self.desk = desk

    def bound_chats(self, account_id: str, channel: str) -> list[str]:
        rows = fold(self.desk, DirectoryProjection()).all(CHATS)
        return [r["conversation"] for r in sorted(rows, key=lambda r: r["position"])
                if r["account_id"] == account_id and r["channel"] == channel]


@pytest.fixture
def sender() -> FakeTelegramSender:
    return FakeTelegramSender()


@pytest.fixture
def rooms(desk: CareDesk) -> FoldedRooms:
    return FoldedRooms(desk)


@pytest.fixture
def reactor(desk: CareDesk, rooms: FoldedRooms, sender: FakeTelegramSender) -> OutboundDelivery:
    return OutboundDelivery(desk, rooms, FoldedDirectory(desk),  # type: ignore[arg-type]
                            {"telegram": sender}, max_attempts=3, min_backoff=0.0)


def link(desk: CareDesk, account_id: UUID, chat: str = GROUP) -> None:
    code = desk.issue_link_code(account_id=account_id, actor=STAFF).extra["code"]
    desk.redeem_link_code(code=code, channel="telegram", conversation=chat, title="Big Client",
                          actor="telegram")


def telegram_case(desk: CareDesk, account_id: UUID, clock: FakeClock) -> UUID:
    link(desk, account_id)
    opened = desk.receive_message(message=InboundMessage(
        channel="telegram", external_id=f"{GROUP}:1", conversation=GROUP, sender="42",
        sender_name="Eva", text="Export is broken", occurred_at=clock.now()),
        account_id=account_id, actor="telegram")
    clock.advance(timedelta(minutes=5))
    return UUID(str(opened.ids["caseId"]))


def reply(desk: CareDesk, case_id: UUID, text: str = "We are on it") -> UUID:
    return UUID(str(desk.reply_to_case(case_id=case_id, text=text, agent="Ann",
                                       actor=STAFF).ids["interactionId"]))


def test_a_case_reply_goes_to_the_chat_the_case_started_in(desk, vip_account_id, clock,
                                                           reactor, sender, rooms):
    message_id = reply(desk, telegram_case(desk, vip_account_id, clock))

    assert reactor.round() == 1

    assert [(m.conversation, m.text, m.message_id) for m in sender.sent] == [
        (GROUP, "We are on it", str(message_id))]
    assert topics(desk)[-2:] == ["carelog:Interaction.DeliveryAttempted",
                                 "carelog:Interaction.Delivered"]
    assert rooms.delivery(message_id) == ("delivered", None)
    assert reactor.round() == 0  # nothing left to send
    assert len(sender.attempts) == 1


def test_a_room_post_goes_to_every_chat_bound_to_the_room(desk, vip_account_id, reactor,
                                                          sender, rooms, open_account):
    link(desk, vip_account_id)
    link(desk, vip_account_id, "-100777")
    other = open_account(name="Other AG", tier="vip")
    link(desk, other, "-100888")
    post = desk.post_to_room(account_id=vip_account_id, text="Maintenance tonight",
                             author="Ann", actor=STAFF).ids["interactionId"]
    lonely = desk.post_to_room(account_id=open_account(name="Quiet Ltd"), text="Hello",
                               author="Ann", actor=STAFF).ids["interactionId"]

    assert reactor.round() == 2

    assert sorted(m.conversation for m in sender.sent) == [GROUP, "-100777"]
    assert rooms.delivery(post) == ("delivered", None)
    assert rooms.delivery(lonely) == ("failed", NO_CHAT)


def test_a_rate_limited_send_is_retried_and_a_blocked_one_is_not(desk, vip_account_id, clock,
                                                                 reactor, sender, rooms):
    case_id = telegram_case(desk, vip_account_id, clock)
    limited = reply(desk, case_id, "First")
    sender.fail_next(sender.rate_limited(retry_after=0))
    reactor.round()
    assert rooms.delivery(limited)[0] == "retrying"
    reactor.round()
    assert rooms.delivery(limited) == ("delivered", None)
    assert desk.interaction(limited).attempts == 2

    blocked = reply(desk, case_id, "Second")
    sender.fail_next(sender.blocked())
    reactor.round()
    reactor.round()
    assert rooms.delivery(blocked) == ("failed", sender.blocked().error)
    assert [m.text for m in sender.attempts] == ["First", "First", "Second"]


def test_retries_end_after_the_last_attempt(desk, vip_account_id, clock, reactor, sender,
                                            rooms):
    message_id = reply(desk, telegram_case(desk, vip_account_id, clock))
    sender.fail_next(*[sender.rate_limited(retry_after=0)] * 5)
    for _ in range(5):
        reactor.round()
    state, error = rooms.delivery(message_id)
    assert state == "failed"
    assert error is not None
    assert error.endswith("(gave up after 3 attempts)")
    assert len(sender.attempts) == 3


def test_a_send_cut_short_by_a_crash_is_not_repeated(desk, vip_account_id, clock, reactor,
                                                     sender, rooms):
    message_id = reply(desk, telegram_case(desk, vip_account_id, clock))
    desk.attempt_delivery(interaction_id=message_id, actor="system:outbound-delivery")
    # ... and the process died before the outcome was recorded.

    reactor.round()

    assert sender.attempts == []
    assert rooms.delivery(message_id) == ("failed", OUTCOME_UNKNOWN)


def test_a_send_that_may_have_gone_out_is_not_repeated(desk, vip_account_id, clock, reactor,
                                                       sender, rooms):
    message_id = reply(desk, telegram_case(desk, vip_account_id, clock))
    sender.fail_next(DeliveryReceipt(False, error="no answer from Telegram sendMessage: "
                                                  "ReadTimeout; the message may have been "
                                                  "delivered", retryable=True))
    reactor.round()
    reactor.round()
    state, error = rooms.delivery(message_id)
    assert state == "failed"
    assert error is not None
    assert error.endswith(OUTCOME_UNKNOWN)
    assert len(sender.attempts) == 1


def test_an_outcome_the_store_could_not_take_is_recorded_later_without_a_resend(
        desk, vip_account_id, clock, reactor, sender, rooms, monkeypatch):
    message_id = reply(desk, telegram_case(desk, vip_account_id, clock))
    record = desk.record_delivery

    def store_down(**kwargs: Any) -> Any:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(desk, "record_delivery", store_down)
    with pytest.raises(ConnectionError):
        reactor.round()
    monkeypatch.setattr(desk, "record_delivery", record)
    reactor.round()

    assert len(sender.attempts) == 1
    assert rooms.delivery(message_id) == ("delivered", None)


def test_a_channel_without_a_sender_waits_untouched(desk, account_id, reactor, sender, rooms):
    desk.add_contact(account_id=account_id, name="Eva", email="eva@acme.example", role="user",
                     actor=STAFF)
    case_id = desk.open_case(account_id=account_id, channel="email", subject="Invoice",
                             text="Where is it?", actor=STAFF).ids["caseId"]
    message_id = reply(desk, case_id)
    before = topics(desk)

    assert reactor.round() == 0

    assert topics(desk) == before
    assert rooms.delivery(message_id) == ("pending", None)
    assert isinstance(desk.interaction(message_id), Interaction)
