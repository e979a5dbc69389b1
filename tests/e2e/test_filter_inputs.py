"""E3: filter and search inputs. Field names and operators outside the schema's allow-list are
validation errors; values full of SQL metacharacters are only values (parameterised); a NUL
character, which PostgreSQL text cannot hold, is refused in any input; on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

NASTY = ["x' OR '1'='1", "'; DROP TABLE case_queues; --", "%", "_", "\\", "\" OR 1=1 --",
         "1) UNION SELECT * FROM credential_uses --", "\x00"]
COUNT = "query($n: Int) { cases(first: 50, waitFor: $n) { edges { node { id } } } }"


def test_e3_filters_refuse_unknown_fields_and_operators_and_treat_values_as_values(
        client: TestClient[Any], runtime: Runtime) -> None:
    desk = runtime.desk
    account = desk.open_account(name="Acme", tier="vip", manager="Ann", currency="EUR",
                                actor="staff:ann").ids["accountId"]
    for i in range(3):
        desk.open_case(account_id=account, channel="email", subject=f"Case {i}", text="x",
                       actor="staff:ann")
    desk.submit_feedback(account_id=account, product_area="export", title="CSV", text="x",
                         actor="staff:ann")
    add_user(runtime, "mia", "manager")
    token = token_for(runtime, "mia")
    head = desk.recorder.max_notification_id()
    assert len(post_gql(client, COUNT, token=token, n=head)["data"]["cases"]["edges"]) == 3

    outside = [
        '{ cases(filter: {status_ne: OPEN}) { edges { cursor } } }',
        '{ cases(filter: {accountId_in: ["x"]}) { edges { cursor } } }',
        '{ cases(filter: {status: [OPEN_OR_1_EQ_1]}) { edges { cursor } } }',
        '{ cases(filter: {where: "1=1"}) { edges { cursor } } }',
        '{ accounts(orderBy: "name; DROP TABLE accounts") { edges { cursor } } }',
        '{ feedbackBoard(filter: {productArea_like: "%"}) { edges { cursor } } }',
        '{ rooms(filter: {manager: {op: "LIKE", value: "%"}}) { edges { cursor } } }',
        '{ supportMetrics(groupBy: [SUBJECT]) { opened } }',
    ]
    for query in outside:
        refused = codes(post_gql(client, query, token=token))
        assert refused, query
        assert set(refused) == {"GRAPHQL_VALIDATION_FAILED"}, query

    valued = [
        ("query($v: String) { cases(filter: {assignee: $v}) { edges { cursor } } }",
         lambda d: d["cases"]["edges"]),
        ("query($v: String) { feedbackBoard(filter: {productArea: $v}) { edges { cursor } } }",
         lambda d: d["feedbackBoard"]["edges"]),
        ("query($v: String) { rooms(filter: {manager: $v}) { edges { cursor } } }",
         lambda d: d["rooms"]["edges"]),
        ("query($v: String) { supportMetrics(filter: {agent: $v}) { opened } }",
         lambda d: [r for r in d["supportMetrics"] if r["opened"]]),
    ]
    for query, rows in valued:
        for value in NASTY:
            answer = post_gql(client, query, token=token, v=value)
            assert not codes(answer) or set(codes(answer)) == {"INVALID_INPUT"}, (query, answer)
            if value == "\x00":  # PostgreSQL text cannot hold it: refused before any read
                assert codes(answer) == ["INVALID_INPUT"], answer
            elif not codes(answer):
                assert rows(answer["data"]) == [], (query, value)
    for cursor in NASTY:
        answer = post_gql(client, "query($c: String) { cases(after: $c) { edges { cursor } } }",
                          token=token, c=cursor)
        assert codes(answer) in (["INVALID_INPUT"], []), answer
    written = post_gql(client, 'mutation($t: String!, $a: UUID!) { postToRoom(accountId: $a, '
                               'text: $t) { notificationId } }', token=token,
                       t="hello\u0000world", a=str(account))
    assert codes(written) == ["INVALID_INPUT"]
    assert len(post_gql(client, COUNT, token=token, n=head)["data"]["cases"]["edges"]) == 3
    assert desk.recorder.max_notification_id() == head
