"""`history(entityId)`: the events of one entity with who caused each, for managers only."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from api.runtime import Runtime
from domain.users import UserDesk
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

HISTORY = "query($id: UUID!) { history(entityId: $id) { version topic occurredAt actor } }"


def test_managers_see_each_change_with_its_actor(client: TestClient[Any],
                                                 runtime: Runtime) -> None:
    add_user(runtime, "mia", "manager")
    manager = token_for(runtime, "mia")
    opened = post_gql(client, 'mutation { openAccount(input: {name: "Acme", tier: VIP, '
                              'manager: "Mia", currency: "EUR"}) { accountId } }',
                      token=manager)
    account = opened["data"]["openAccount"]["accountId"]
    add_user(runtime, "carl@acme.example", "client", account_id=UUID(account))
    add_user(runtime, "abe", "agent", line=1)
    client_token = token_for(runtime, "carl@acme.example")
    case = post_gql(client, 'mutation($a: UUID!) { openCase(input: {accountId: $a, '
                            'channel: PORTAL, subject: "Export", text: "It stopped"}) '
                            '{ caseId } }', token=client_token, a=account)
    case_id = case["data"]["openCase"]["caseId"]
    before = post_gql(client, HISTORY, token=manager, id=case_id)["data"]["history"]
    post_gql(client, 'mutation($c: UUID!) { assignCase(caseId: $c, agent: "abe") '
                     '{ version } }', token=manager, c=case_id)

    entries = post_gql(client, HISTORY, token=manager, id=case_id)["data"]["history"]
    assert [e["version"] for e in entries] == list(range(1, len(entries) + 1))
    assert len(entries) == len(before) + 1  # the same question again sees the new event
    assert entries[0]["topic"].startswith("carelog:Case.")
    carl = UserDesk(runtime.desk).find("carl@acme.example")
    assert carl is not None
    assert entries[0]["actor"] == f"contact:{carl.contact_id}"
    assert entries[-1]["actor"] == "staff:mia"
    assert post_gql(client, HISTORY, token=manager, id=account)["data"]["history"][0][
        "actor"] == "staff:mia"

    for role_token in (token_for(runtime, "abe"), client_token):
        assert codes(post_gql(client, HISTORY, token=role_token, id=case_id)) == ["FORBIDDEN"]
    assert codes(post_gql(client, HISTORY, token=manager, id=str(uuid4()))) == ["NOT_FOUND"]
