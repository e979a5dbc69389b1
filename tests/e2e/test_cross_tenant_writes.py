"""E2: writes through side doors into another company (reply into its room, log a call for its
contact, rate or reopen its case, attach its case to feedback...), as a client of account A and
as staff where the ids of two accounts are mixed. Every attempt is refused and writes nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from domain.ports import InboundMessage
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

REFUSALS = {"NOT_FOUND", "FORBIDDEN", "INVALID_INPUT"}


def _tenant(runtime: Runtime, name: str) -> dict[str, str]:
    desk, actor = runtime.desk, "staff:ann"
    account = desk.open_account(name=name, tier="vip", manager="Ann", currency="EUR",
                                actor=actor).ids["accountId"]
    contact = desk.add_contact(account_id=account, name=f"{name} Contact",
                               email=f"boss@{name.lower()}.example", role="user",
                               actor=actor).ids["contactId"]
    case = desk.open_case(account_id=account, channel="email", subject=f"{name} case",
                          text="help", actor=actor, contact_id=contact).ids["caseId"]
    return {"account": str(account), "contact": str(contact), "case": str(case)}


def test_e2_cross_tenant_writes_are_refused_and_write_nothing(
        client: TestClient[Any], runtime: Runtime) -> None:
    a, b = _tenant(runtime, "Alpha"), _tenant(runtime, "Bravo")
    feedback = runtime.desk.submit_feedback(
        account_id=UUID(a["account"]), product_area="export", title="CSV", text="please",
        actor="staff:ann").ids["feedbackId"]
    stray = runtime.desk.hold_stray_message(message=InboundMessage(
        channel="email", external_id="stray-1", conversation="who@nowhere.example",
        sender="who@nowhere.example", sender_name="Who", text="hello",
        occurred_at=runtime.desk.clock.now()), reason="unknown sender",
        actor="integration:email").ids["strayMessageId"]
    add_user(runtime, "alice", "client", account_id=UUID(a["account"]))
    add_user(runtime, "mia", "manager")
    alice, staff = token_for(runtime, "alice"), token_for(runtime, "mia")
    head = runtime.desk.recorder.max_notification_id()
    waited = post_gql(client, "query($n: Int) { queues(waitFor: $n) { line } }", token=staff,
                      n=head)
    assert not codes(waited)

    as_client = [
        ("openCase", 'input: {accountId: "%(b_account)s", channel: PORTAL, subject: "x", '
                     'text: "x"}'),
        ("openCase", 'input: {accountId: "%(a_account)s", channel: PORTAL, subject: "x", '
                     'text: "x", contactId: "%(b_contact)s"}'),
        ("recordInteraction", 'input: {accountId: "%(b_account)s", channel: PORTAL, '
                              'direction: INBOUND, text: "x"}'),
        ("recordInteraction", 'input: {accountId: "%(a_account)s", channel: PORTAL, '
                              'direction: INBOUND, text: "x", caseId: "%(b_case)s"}'),
        ("recordInteraction", 'input: {accountId: "%(a_account)s", channel: PORTAL, '
                              'direction: INBOUND, text: "x", contactId: "%(b_contact)s"}'),
        ("reopenCase", 'caseId: "%(b_case)s"'),
        ("rateCase", 'caseId: "%(b_case)s", csat: 1'),
        ("recordNps", 'accountId: "%(b_account)s", contactId: "%(b_contact)s", score: 0, '
                      'survey: "q1"'),
        ("recordNps", 'accountId: "%(a_account)s", contactId: "%(b_contact)s", score: 0, '
                      'survey: "q1"'),
        ("sendChatMessage", 'accountId: "%(b_account)s", text: "into your room"'),
        ("markRoomRead", 'accountId: "%(b_account)s", upTo: 1'),
    ]
    as_staff = [
        ("logCall", 'input: {accountId: "%(a_account)s", direction: "inbound", number: "+1 5", '
                    'durationSeconds: 5, outcome: "answered", notes: "x", '
                    'contactId: "%(b_contact)s"}'),
        ("logCall", 'input: {accountId: "%(a_account)s", direction: "inbound", number: "+1 5", '
                    'durationSeconds: 5, outcome: "answered", notes: "x", '
                    'caseId: "%(b_case)s"}'),
        ("logTouchpoint", 'accountId: "%(a_account)s", kind: MEETING, twoWay: true, '
                          'contactIds: ["%(b_contact)s"]'),
        ("recordNps", 'accountId: "%(a_account)s", contactId: "%(b_contact)s", score: 0, '
                      'survey: "q1"'),
        ("recordInteraction", 'input: {accountId: "%(a_account)s", channel: EMAIL, '
                              'direction: INBOUND, text: "x", caseId: "%(b_case)s"}'),
        ("openCase", 'input: {accountId: "%(a_account)s", channel: EMAIL, subject: "x", '
                     'text: "x", contactId: "%(b_contact)s"}'),
        ("submitFeedback", 'input: {accountId: "%(a_account)s", productArea: "x", title: "x", '
                           'text: "x", caseId: "%(b_case)s"}'),
        ("supportFeedback", 'feedbackId: "%(feedback)s", accountId: "%(a_account)s", '
                            'caseId: "%(b_case)s"'),
        ("changeContactRole", 'accountId: "%(a_account)s", contactId: "%(b_contact)s", '
                              'role: CHAMPION'),
        ("removeContact", 'accountId: "%(a_account)s", contactId: "%(b_contact)s"'),
        ("routeStrayMessage", 'strayMessageId: "%(stray)s", accountId: "%(a_account)s", '
                              'contactId: "%(b_contact)s"'),
    ]
    ids = {"a_account": a["account"], "a_contact": a["contact"], "a_case": a["case"],
           "b_account": b["account"], "b_contact": b["contact"], "b_case": b["case"],
           "feedback": str(feedback), "stray": str(stray)}
    accepted = []
    for token, attempts in ((alice, as_client), (staff, as_staff)):
        for name, args in attempts:
            query = f"mutation {{ {name}({args % ids}) {{ notificationId }} }}"
            answer = post_gql(client, query, token=token)
            assert "GRAPHQL_VALIDATION_FAILED" not in codes(answer), (query, answer)
            if not codes(answer) or not set(codes(answer)) <= REFUSALS:
                accepted.append((name, args, answer))
            elif "Bravo" in str(answer):  # B's name, subject or contact: never echoed
                accepted.append((name, "leaks B", answer))
    assert accepted == [], "\n".join(map(str, accepted))
    assert runtime.desk.recorder.max_notification_id() == head  # no event written
