"""E1, generated from the schema: a client of account A asks every root query field with
account B's ids and with random ids. Not one byte of B's data comes back, and the answers for
B's ids and for ids that exist nowhere are identical (the id itself aside)."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID, uuid4

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLType,
    get_named_type,
)
from litestar.testing import TestClient

from api.runtime import Runtime
from tests.conftest import START
from tests.e2e.users import add_user, post_gql, token_for

pytestmark = pytest.mark.e2e

SECRET_B = "Bravo Hidden Holdings"
MAX_DEPTH = 3
PROBE = "00000000-0000-4000-8000-00000000b0b0"
"""Stands for the id asked about when two answers are compared."""


def _literal(kind: GraphQLInputType, probe: str, wait: int) -> str | None:
    """A GraphQL literal for an argument: the probe for ids, small defaults for the rest."""
    if isinstance(kind, GraphQLNonNull):
        return _literal(kind.of_type, probe, wait)
    if isinstance(kind, GraphQLList):
        inner = _literal(kind.of_type, probe, wait)
        return None if inner is None else f"[{inner}]"
    if isinstance(kind, GraphQLScalarType):
        return {"UUID": json.dumps(probe), "Int": "1", "String": '"x"',
                "Boolean": "false"}.get(kind.name)
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = [f"{n}: {json.dumps(probe)}" for n, f in kind.fields.items()
                  if get_named_type(f.type).name == "UUID"]
        return "{" + ", ".join(fields) + "}" if fields else None
    return None


def _arguments(field: GraphQLField, probe: str, wait: int) -> tuple[str, bool] | None:
    """The field's arguments, and whether one of them carries the probe; None: cannot ask."""
    parts, probed = [], False
    for name, arg in field.args.items():
        if name == "waitFor":
            parts.append(f"waitFor: {wait}")
            continue
        named = get_named_type(arg.type)
        carries = named.name == "UUID" or (isinstance(named, GraphQLInputObjectType) and any(
            get_named_type(f.type).name == "UUID" for f in named.fields.values()))
        if not carries and not isinstance(arg.type, GraphQLNonNull):
            continue
        value = _literal(arg.type, probe, wait)
        if value is None:
            if isinstance(arg.type, GraphQLNonNull):
                return None
            continue
        parts.append(f"{name}: {value}")
        probed = probed or carries
    return ("(" + ", ".join(parts) + ")" if parts else ""), probed


def _selection(kind: GraphQLType, probe: str, wait: int, depth: int) -> str | None:
    named: GraphQLNamedType = get_named_type(kind)
    if not isinstance(named, GraphQLObjectType):
        return "" if isinstance(named, GraphQLScalarType | GraphQLEnumType) else " { __typename }"
    if depth >= MAX_DEPTH:
        return " { __typename }"
    parts = []
    for name, field in named.fields.items():
        args = _arguments(field, probe, wait)
        if args is None:
            continue
        inner = _selection(field.type, probe, wait, depth + 1)
        if inner is not None:
            parts.append(f"{name}{args[0]}{inner}")
    return " { " + " ".join(parts or ["__typename"]) + " }"


def root_queries(schema: Any, probe: str, wait: int) -> dict[str, tuple[str, bool]]:
    """Every root query field as one operation, and whether it asks about the probe id."""
    operations = {}
    for name, field in schema.query_type.fields.items():
        args = _arguments(field, probe, wait)
        if args is None:
            continue
        operations[name] = (f"{{ {name}{args[0]}{_selection(field.type, probe, wait, 1)} }}",
                            args[1])
    return operations


def _normalised(answer: dict[str, Any], asked: str) -> str:
    return re.sub(re.escape(asked), PROBE, json.dumps(answer, sort_keys=True), flags=re.I)


def test_a_client_never_sees_another_company_and_cannot_tell_its_ids_from_missing_ones(
        client: TestClient[Any], runtime: Runtime) -> None:
    desk = runtime.desk
    staff = "staff:ann"
    a = desk.open_account(name="Alpha Plain Co", tier="vip", manager="Ann", currency="EUR",
                          actor=staff).ids["accountId"]
    b = desk.open_account(name=SECRET_B, tier="vip", manager="Ann", currency="EUR",
                          actor=staff).ids["accountId"]
    b_contact = desk.add_contact(account_id=b, name="Bea Bravo", email="bea@bravo.example",
                                 role="champion", actor=staff).ids["contactId"]
    b_case = desk.open_case(account_id=b, channel="email", subject="Bravo payroll outage",
                            text="Bravo secret text", actor=staff).ids["caseId"]
    a_case = desk.open_case(account_id=a, channel="email", subject="Alpha question",
                            text="Alpha text", actor=staff).ids["caseId"]
    desk.post_to_room(account_id=b, text="Bravo room note", author="Ann", actor=staff)
    _bravo_articles_and_announcement(runtime, b, staff)
    add_user(runtime, "alice@alpha.example", "client", account_id=a)
    token = token_for(runtime, "alice@alpha.example")
    wait = desk.recorder.max_notification_id() or 0
    schema = client.app.state.schema._schema
    b_markers = {str(b), str(b_contact), str(b_case), SECRET_B, "Bravo"}

    def leaks(answer: dict[str, Any], asked: UUID) -> set[str]:
        """B's data in an answer, besides the id the client itself sent."""
        text = json.dumps(answer).lower()
        return {m for m in b_markers - {str(asked)} if m.lower() in text}

    asked_about_ids = 0
    own_data_seen = set()
    for b_id in (b, b_case, b_contact):
        missing = uuid4()
        on_b = root_queries(schema, str(b_id), wait)
        on_missing = root_queries(schema, str(missing), wait)
        on_own = root_queries(schema, str(a if b_id != b_case else a_case), wait)
        assert set(on_b) == set(on_missing)
        for name, (query, probed) in on_b.items():
            answer_b = post_gql(client, query, token=token)
            assert not leaks(answer_b, b_id), (name, leaks(answer_b, b_id), answer_b)
            if not probed:
                continue
            asked_about_ids += 1
            answer_missing = post_gql(client, on_missing[name][0], token=token)
            assert _normalised(answer_b, str(b_id)) == _normalised(answer_missing,
                                                                   str(missing)), name
            own = post_gql(client, on_own[name][0], token=token)
            if own.get("data") and own["data"].get(name) and not own.get("errors"):
                own_data_seen.add(name)
    # The walk asks real questions: the fields about one id answer the client's own data.
    assert asked_about_ids >= 6
    assert {"account", "case", "cases", "room"} <= own_data_seen, own_data_seen
    assert isinstance(UUID(str(a)), UUID)


def _bravo_articles_and_announcement(runtime: Runtime, b: UUID, staff: str) -> None:
    """What A's client must never see: a staff-only article, an article for a plan A is not
    on, and an announcement for B alone (with a case of B linked to it)."""
    desk = runtime.desk
    for title, visibility, plans in (("Bravo internal runbook", "internal", []),
                                     ("Bravo plan guide", "plans", ["enterprise"])):
        article = desk.draft_article(title=title, body=f"{title}: secret steps", language="en",
                                     topic="x", actor=staff).ids["articleId"]
        desk.publish_article(article_id=article, visibility=visibility, plans=plans,
                             actor=staff)
    desk.publish_announcement(kind="incident", title="Bravo outage", text="Bravo is down",
                              starts_at=START, accounts=[b], actor=staff)


CLIENT_WRITES = {
    "reopenCase": 'reopenCase(caseId: "{case}", reason: "again")',
    "rateCase": 'rateCase(caseId: "{case}", csat: 1)',
    "openCase": 'openCase(input: {{accountId: "{account}", channel: PORTAL, subject: "s", '
                'text: "t"}})',
    "sendChatMessage": 'sendChatMessage(accountId: "{account}", text: "t", channel: PORTAL)',
    "markRoomRead": 'markRoomRead(accountId: "{account}")',
    "recordNps": 'recordNps(accountId: "{account}", contactId: "{contact}", score: 1, '
                 'survey: "q1")',
}


def test_a_client_cannot_write_to_another_company_and_cannot_tell_it_exists(
        client: TestClient[Any], runtime: Runtime) -> None:
    desk = runtime.desk
    staff = "staff:ann"
    a = desk.open_account(name="Alpha Plain Co", tier="vip", manager="Ann", currency="EUR",
                          actor=staff).ids["accountId"]
    b = desk.open_account(name=SECRET_B, tier="vip", manager="Ann", currency="EUR",
                          actor=staff).ids["accountId"]
    b_contact = desk.add_contact(account_id=b, name="Bea Bravo", email="bea@bravo.example",
                                 role="champion", actor=staff).ids["contactId"]
    b_case = desk.open_case(account_id=b, channel="email", subject="Bravo payroll outage",
                            text="Bravo secret text", actor=staff).ids["caseId"]
    desk.resolve_case(case_id=b_case, actor=staff)
    add_user(runtime, "alice@alpha.example", "client", account_id=a)
    token = token_for(runtime, "alice@alpha.example")
    head = desk.recorder.max_notification_id()
    post_gql(client, f"{{ accounts(first: 1, waitFor: {head}) {{ edges {{ cursor }} }} }}",
             token=token)
    for name, template in CLIENT_WRITES.items():
        ids_b = {"case": b_case, "account": b, "contact": b_contact}
        ids_missing = {k: uuid4() for k in ids_b}
        answer_b = post_gql(client, f"mutation {{ {template.format(**ids_b)} "
                                    "{ notificationId } }", token=token)
        answer_missing = post_gql(client, f"mutation {{ {template.format(**ids_missing)} "
                                          "{ notificationId } }", token=token)
        normal_b, normal_missing = json.dumps(answer_b), json.dumps(answer_missing)
        for key in ids_b:
            normal_b = normal_b.replace(str(ids_b[key]), key)
            normal_missing = normal_missing.replace(str(ids_missing[key]), key)
        assert normal_b == normal_missing, name
        assert answer_b["data"] is None, (name, answer_b)
    assert desk.recorder.max_notification_id() == head  # nothing was written
