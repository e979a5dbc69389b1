"""`carelog users add|list|password|disable|token` on both backends, against a running app;
and the `users` query with each token's last use."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from api.cli import main
from api.runtime import Runtime
from integrations.clock import FakeClock
from integrations.settings import Settings
from tests.conftest import START
from tests.e2e.users import RECHECK, add_user, codes, post_gql, refused_within, token_for

pytestmark = pytest.mark.e2e

ACCOUNTS = "{ accounts(first: 5) { edges { node { id name } } } }"


def run(settings: Settings, *args: str, stdin: str | None = None) -> Any:
    env = {"CARELOG_DATA_DIR": str(settings.data_dir),
           "CARELOG_DATABASE_URL": settings.database_url or ""}
    return CliRunner().invoke(main, ["users", *args], input=stdin, env=env)


def test_an_administrator_manages_users_and_tokens_from_the_shell(
        settings: Settings, runtime: Runtime, client: TestClient[Any]) -> None:
    account = runtime.desk.open_account(name="Acme", tier="vip", manager="Ann",
                                        currency="EUR", actor="staff:ann").ids["accountId"]
    added = run(settings, "add", "Ann@Example.com", "--role", "manager", "--password-stdin",
                stdin="a long enough secret\n")
    assert added.exit_code == 0, added.output
    assert run(settings, "add", "ann@example.com", "--role", "agent").exit_code == 1
    staff_with_account = run(settings, "add", "bob", "--role", "agent", "--account",
                             str(account))
    assert staff_with_account.exit_code == 1
    assert "exactly one account" in staff_with_account.output
    no_contact = run(settings, "add", "carl@acme.example", "--role", "client", "--account",
                     str(account))
    assert no_contact.exit_code == 1
    assert "contacts" in no_contact.output
    carl = runtime.desk.add_contact(account_id=account, name="Carl", email="carl@acme.example",
                                    role="user", actor="staff:ann").ids["contactId"]
    client_user = run(settings, "add", "carl@acme.example", "--role", "client", "--account",
                      str(account), "--contact", str(carl))
    assert client_user.exit_code == 0, client_user.output
    short = run(settings, "password", "carl@acme.example", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2

    issued = run(settings, "token", "ann@example.com", "--label", "ci")
    assert issued.exit_code == 0, issued.output
    secret = issued.stdout_bytes.decode().strip().splitlines()[-1]
    assert len(secret) >= 43
    assert "errors" not in post_gql(client, ACCOUNTS, token=secret)

    listed = run(settings, "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["username"]: r for r in json.loads(listed.stdout_bytes)}
    assert set(rows) == {"ann@example.com", "carl@acme.example"}
    assert rows["ann@example.com"]["password"] is True
    assert rows["carl@acme.example"]["accountId"] == str(account)
    (token,) = rows["ann@example.com"]["tokens"]
    assert token["label"] == "ci"
    assert token["revokedAt"] is None
    assert secret not in listed.stdout_bytes.decode()

    assert run(settings, "token", "ann@example.com", "--revoke", token["id"]).exit_code == 0
    assert refused_within(client, ACCOUNTS, RECHECK, token=secret)

    fresh = run(settings, "token", "ann@example.com").stdout_bytes.decode().split()[-1]
    assert "errors" not in post_gql(client, ACCOUNTS, token=fresh)
    assert run(settings, "disable", "ann@example.com").exit_code == 0
    assert refused_within(client, ACCOUNTS, RECHECK, token=fresh)
    after = {r["username"]: r for r in json.loads(run(settings, "list", "--json").stdout_bytes)}
    assert after["ann@example.com"]["disabled"] is True
    assert run(settings, "list").exit_code == 0


def test_a_tokens_last_use_is_shown_and_written_at_most_once_a_minute(
        settings: Settings, runtime: Runtime, client: TestClient[Any],
        clock: FakeClock) -> None:
    add_user(runtime, "ada", "admin")
    add_user(runtime, "mia", "manager")
    secret = token_for(runtime, "ada")
    unused = token_for(runtime, "mia")
    users = "{ users { username tokens { label lastUsedAt } } }"

    def last_used() -> dict[str, str | None]:
        rows = json.loads(run(settings, "list", "--json").stdout_bytes)
        return {r["username"]: r["tokens"][0]["lastUsedAt"] for r in rows}

    assert last_used() == {"ada": None, "mia": None}
    head = runtime.desk.recorder.max_notification_id()
    answer = post_gql(client, users, token=secret)
    assert not answer.get("errors"), answer
    assert {u["username"]: u["tokens"][0]["lastUsedAt"] for u in answer["data"]["users"]} == {
        "ada": START.isoformat(), "mia": None}
    assert last_used()["ada"] == START.isoformat()

    clock.advance(timedelta(seconds=30))
    time.sleep(RECHECK)  # past the process's recheck: the log is read again
    assert not post_gql(client, ACCOUNTS, token=secret).get("errors")
    assert last_used()["ada"] == START.isoformat()  # within the minute: not written again
    clock.advance(timedelta(seconds=31))
    time.sleep(RECHECK)
    assert not post_gql(client, ACCOUNTS, token=secret).get("errors")
    assert last_used()["ada"] == (START + timedelta(seconds=61)).isoformat()
    assert runtime.desk.recorder.max_notification_id() == head  # no event for any of it

    assert codes(post_gql(client, users, token=unused)) == ["FORBIDDEN"]  # admins only
    table = run(settings, "list")
    assert table.exit_code == 0
    assert "09:01" in table.output
