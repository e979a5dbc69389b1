"""A chat's binding to a room: `/link` delivered twice, and a group that becomes a supergroup
(its chat id changes) taking its binding and its case along."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import CareDesk
from domain.errors import InvalidStateError, NotFoundError
from domain.ports import InboundMessage
from integrations.clock import FakeClock
from projections.directory import CHATS, DirectoryProjection
from tests.unit.helpers import STAFF, events, head, nothing_written, notifications
from tests.unit.test_projection_folds import fold

GROUP = "-100123"
SUPERGROUP = "-1001234567890"


def link(desk: CareDesk, account_id: UUID, chat: str = GROUP) -> str:
    code = str(desk.issue_link_code(account_id=account_id, actor=STAFF).extra["code"])
    desk.redeem_link_code(code=code, channel="telegram", conversation=chat, title="Big Client",
                          actor="telegram")
    return code


def test_the_same_link_delivered_again_is_a_duplicate(desk, vip_account_id):
    code = link(desk, vip_account_id)
    with nothing_written(desk):
        again = desk.redeem_link_code(code=code, channel="telegram", conversation=GROUP,
                                      title="Big Client", actor="telegram")
    assert again.duplicate
    assert again.ids["accountId"] == vip_account_id
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already used"):
        desk.redeem_link_code(code=code, channel="telegram", conversation="-100999",
                              title="Other", actor="telegram")


def test_a_migrated_group_keeps_its_room_and_its_case(desk: CareDesk, vip_account_id: UUID,
                                                      clock: FakeClock) -> None:
    link(desk, vip_account_id)
    opened = desk.receive_message(message=InboundMessage(
        channel="telegram", external_id=f"{GROUP}:1", conversation=GROUP, sender="42",
        sender_name="Eva", text="Export is broken", occurred_at=clock.now()),
        account_id=vip_account_id, actor="telegram")
    before = head(desk)

    moved = desk.move_conversation(channel="telegram", old=GROUP, new=SUPERGROUP,
                                   actor="telegram")

    assert desk.conversation("telegram", GROUP) is None
    chat = desk.conversation("telegram", SUPERGROUP)
    assert chat is not None
    assert (chat.account_id, chat.title) == (vip_account_id, "Big Client")
    assert chat.current_case_id == opened.ids["caseId"]
    assert moved.ids == {"conversationId": chat.id, "accountId": vip_account_id}
    written = [n for n in notifications(desk) if n.id > before]
    assert [n.topic for n in written] == ["carelog:Conversation.Bound",
                                          "carelog:Conversation.CaseStarted",
                                          "carelog:Conversation.Unbound"]
    assert events(desk, "carelog:Conversation.Unbound")[0].reason == f"the chat moved to " \
                                                                      f"{SUPERGROUP}"
    with nothing_written(desk):
        assert desk.move_conversation(channel="telegram", old=GROUP, new=SUPERGROUP,
                                      actor="telegram").duplicate
    clock.advance(timedelta(minutes=1))
    later = desk.receive_message(message=InboundMessage(
        channel="telegram", external_id=f"{SUPERGROUP}:2", conversation=SUPERGROUP,
        sender="42", sender_name="Eva", text="Still broken", occurred_at=clock.now()),
        account_id=vip_account_id, actor="telegram")
    assert later.ids["caseId"] == opened.ids["caseId"]


def test_only_a_linked_chat_moves_and_never_onto_another_link(desk, vip_account_id,
                                                              open_account):
    with nothing_written(desk), pytest.raises(NotFoundError):
        desk.move_conversation(channel="telegram", old=GROUP, new=SUPERGROUP, actor="telegram")
    link(desk, vip_account_id)
    other = open_account(name="Other AG", tier="vip")
    link(desk, other, SUPERGROUP)
    with nothing_written(desk), pytest.raises(InvalidStateError, match="already linked"):
        desk.move_conversation(channel="telegram", old=GROUP, new=SUPERGROUP, actor="telegram")
    assert desk.conversation("telegram", GROUP) is not None


def test_the_directory_lists_the_chats_bound_to_a_room(desk, vip_account_id, open_account):
    link(desk, vip_account_id)
    link(desk, vip_account_id, "-100777")
    other = open_account(name="Other AG", tier="vip")
    link(desk, other, "-100888")
    desk.move_conversation(channel="telegram", old=GROUP, new=SUPERGROUP, actor="telegram")
    chat = desk.conversation("telegram", "-100777")
    assert chat is not None
    desk.unlink_conversation(conversation_id=chat.id, reason="left", actor=STAFF)

    rows = fold(desk, DirectoryProjection()).all(CHATS)

    assert sorted((r["account_id"], r["conversation"]) for r in rows) == sorted([
        (str(vip_account_id), SUPERGROUP), (str(other), "-100888")])
