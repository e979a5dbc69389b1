"""The role matrix: every mutation of the schema, tried by every role with a token.

The expected rights are written out here, by hand, from what each role is for; a mutation the
table does not know fails the test, so a new one must be placed. A role's attempt passes the
role check when it is not answered FORBIDDEN (with made-up ids it may then be NOT_FOUND or
INVALID_INPUT from the domain); every refusal is written to the `carelog.security` log.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID, uuid4

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from litestar.testing import TestClient

from api.runtime import Runtime
from tests.e2e.users import add_user, codes, post_gql, token_for

pytestmark = pytest.mark.e2e

MANAGE = {"admin", "manager"}
WORK = MANAGE | {"agent"}
SUBMIT = WORK | {"client"}
READ = SUBMIT | {"product"}
ALLOWED: dict[str, set[str]] = {
    **dict.fromkeys([
        "openAccount", "recordRevenue", "changeTier", "assignManager", "addContact",
        "changeContactRole", "removeContact", "churnAccount", "setCalendar", "reportUsage",
        "issueInvoice", "markInvoicePaid", "markInvoiceOverdue", "recordPaymentFailure",
        "requestContraction", "setRenewal", "setRenewalRisk", "setSentiment",
        "publishHealthModel", "acknowledgeAlert", "resolveAlert", "setGoal", "reviseGoal",
        "cancelGoal", "issueLinkCode", "setEmailDomains", "grantPortalAccess",
        "revokePortalAccess"], MANAGE),
    **dict.fromkeys([
        "replyToCase", "assignCase", "escalateCase", "resolveEscalation", "resolveCase",
        "closeCase", "waitOnClient", "resumeCase", "changePriority", "logTouchpoint",
        "postToRoom", "routeStrayMessage", "dismissStrayMessage", "logCall", "submitFeedback",
        "supportFeedback", "mergeFeedback", "resyncFeedback"], WORK),
    **dict.fromkeys([
        "draftArticle", "publishArticle", "reviseArticle", "archiveArticle",
        "publishAnnouncement", "updateAnnouncement", "resolveAnnouncement",
        "answerLinkedCases"], WORK),
    "voteArticle": READ,
    **dict.fromkeys(["openCase", "recordInteraction", "reopenCase", "rateCase", "recordNps",
                     "sendChatMessage"], SUBMIT),
    "markRoomRead": READ,
}
NAMED = {"currency": '"EUR"', "period": '"2026-03"'}
"""Values checked before the role is (a Money is made from them): valid ones."""
ROLES = ("admin", "manager", "agent", "product", "client")
SAMPLES = {"UUID": None, "String": '"x"', "Int": "1", "Boolean": "false", "Decimal": '"1"',
           "Date": '"2026-04-01"', "DateTime": '"2026-03-01T08:00:00Z"', "JSON": "{}"}


def _literal(name: str, kind: GraphQLInputType, account: UUID) -> str:
    if isinstance(kind, GraphQLNonNull):
        return _literal(name, kind.of_type, account)
    if isinstance(kind, GraphQLList):
        return f"[{_literal(name, kind.of_type, account)}]"
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = [f"{n}: {_literal(n, f.type, account)}" for n, f in kind.fields.items()
                  if isinstance(f.type, GraphQLNonNull)]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(kind, GraphQLScalarType)
    if name in NAMED:
        return NAMED[name]
    if kind.name == "UUID":
        return json.dumps(str(account if name == "accountId" else uuid4()))
    return SAMPLES[kind.name]


def test_every_mutation_by_every_role(client: TestClient[Any], runtime: Runtime,
                                      caplog: pytest.LogCaptureFixture) -> None:
    account = runtime.desk.open_account(name="Acme", tier="vip", manager="Ann", currency="EUR",
                                        actor="staff:ann").ids["accountId"]
    tokens = {}
    for role in ROLES:
        add_user(runtime, f"{role}-user", role,
                 account_id=account if role == "client" else None)
        tokens[role] = token_for(runtime, f"{role}-user")
    schema = client.app.state.schema._schema
    mutations = schema.mutation_type.fields
    assert set(mutations) == set(ALLOWED), "place every mutation in the table"

    caplog.set_level(logging.WARNING, logger="carelog.security")
    wrong, refused = [], 0
    # Revoking the account's portal refuses its client everything after: try it last.
    for name, field in sorted(mutations.items(), key=lambda m: m[0] == "revokePortalAccess"):
        args = ", ".join(f"{a}: {_literal(a, arg.type, account)}"
                         for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull))
        query = f"mutation {{ {name}({args}) {{ __typename }} }}"
        for role in ROLES:
            answer = post_gql(client, query, token=tokens[role])
            got = codes(answer)
            assert "GRAPHQL_VALIDATION_FAILED" not in got, (name, answer)
            assert "UNAUTHENTICATED" not in got
            forbidden = "FORBIDDEN" in got
            refused += forbidden
            if forbidden == (role in ALLOWED[name]):
                wrong.append((name, role, got))
    assert wrong == [], "\n".join(map(str, wrong))
    assert refused == sum(len(set(ROLES) - allowed) for allowed in ALLOWED.values())
    records = [r for r in caplog.records if r.name == "carelog.security"]
    assert len(records) == refused
    assert all("refused: staff:" in r.getMessage() or "refused: contact:" in r.getMessage()
               for r in records)
