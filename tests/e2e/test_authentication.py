"""Who is asking: the development rule, tokens, sessions (fixation, expiry, revocation) and the
login rate limit, through HTTP on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.authentication import SESSION_COOKIE, Authenticator
from api.runtime import Runtime
from domain.users import UserDesk
from integrations.clock import FakeClock
from integrations.persistence import open_desk
from integrations.settings import Settings
from tests.e2e.users import (
    PASSWORD,
    RECHECK,
    add_user,
    codes,
    post_gql,
    refused_within,
    token_for,
)

pytestmark = pytest.mark.e2e

ACCOUNTS = "{ accounts(first: 5) { edges { node { id name } } } }"


@pytest.fixture
def app_for(make_settings: Callable[..., Settings], backend: str, clock: FakeClock,
            request: pytest.FixtureRequest,
            ) -> Iterator[Callable[..., tuple[Runtime, TestClient[Any]]]]:
    """A runtime and client on settings of this test's choosing (production, limits)."""
    if backend == "postgres":  # set up first, so its databases are dropped after we close
        request.getfixturevalue("new_postgres_database")
    opened: list[tuple[Runtime, TestClient[Any]]] = []

    def make(**overrides: Any) -> tuple[Runtime, TestClient[Any]]:
        settings = make_settings(backend, **overrides)
        runtime = Runtime.open(settings, clock)
        client = TestClient(create_app(settings, runtime=runtime))
        client.__enter__()
        opened.append((runtime, client))
        return runtime, client

    yield make
    for runtime, client in opened:
        client.__exit__(None, None, None)
        runtime.close()


def use_cookie(client: TestClient[Any], value: str) -> None:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value)


def login(client: TestClient[Any], username: str, password: str = PASSWORD) -> Any:
    return client.post("/auth/login", json={"username": username, "password": password})


def test_development_without_users_is_the_development_admin_until_a_user_exists(
        client: TestClient[Any], runtime: Runtime) -> None:
    assert "errors" not in post_gql(client, ACCOUNTS)
    add_user(runtime, "ann", "manager")
    assert codes(post_gql(client, ACCOUNTS)) == ["UNAUTHENTICATED"]


def test_production_refuses_a_request_without_credential_even_without_users(
        app_for: Callable[..., tuple[Runtime, TestClient[Any]]]) -> None:
    _, client = app_for(environment="production")
    answer = post_gql(client, ACCOUNTS)
    assert codes(answer) == ["UNAUTHENTICATED"]
    assert answer["data"] is None


def test_a_presented_but_unknown_credential_is_refused_even_in_development(
        client: TestClient[Any]) -> None:
    assert codes(post_gql(client, ACCOUNTS, token="not-a-token")) == ["UNAUTHENTICATED"]
    use_cookie(client, "planted")
    assert codes(post_gql(client, ACCOUNTS)) == ["UNAUTHENTICATED"]


def test_tokens_work_until_revoked_or_the_user_is_disabled(
        client: TestClient[Any], runtime: Runtime) -> None:
    add_user(runtime, "robot", "manager")
    add_user(runtime, "other", "agent")
    first, second = token_for(runtime, "robot"), token_for(runtime, "robot")
    assert len(first) >= 43  # 32 random bytes, URL-safe base64
    assert "errors" not in post_gql(client, ACCOUNTS, token=first)
    users = UserDesk(runtime.desk)
    robot = users.find("robot")
    assert robot is not None
    first_id = UUID(next(iter(robot.tokens)))
    users.revoke_token(username="robot", credential_id=first_id, actor="system:test")
    assert refused_within(client, ACCOUNTS, RECHECK, token=first)
    assert "errors" not in post_gql(client, ACCOUNTS, token=second)
    users.disable_user(username="robot", reason="left", actor="system:test")
    assert refused_within(client, ACCOUNTS, RECHECK, token=second)
    # Nothing of the secrets is in the log: only their digests name the credentials.
    logged = "".join(str(n.state) for n in runtime.desk.recorder.select_notifications(
        start=1, limit=1000))
    assert first not in logged
    assert second not in logged


def test_login_sets_a_fresh_httponly_lax_cookie_and_ends_the_one_sent(
        client: TestClient[Any], runtime: Runtime) -> None:
    add_user(runtime, "ann", "manager", password=True)
    assert login(client, "ann", "wrong password!").status_code == 401
    assert login(client, "nobody", PASSWORD).status_code == 401
    use_cookie(client, "planted-by-an-attacker")
    answer = login(client, "ann")
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "manager"
    header = answer.headers["set-cookie"]
    assert "HttpOnly" in header
    assert "SameSite=lax" in header or "SameSite=Lax" in header
    assert "Secure" not in header  # development: plain http on loopback
    first = answer.cookies[SESSION_COOKIE]
    assert first != "planted-by-an-attacker"
    use_cookie(client, first)
    assert "errors" not in post_gql(client, ACCOUNTS)

    # Fixation: logging in again with a session rotates it and the old one is dead.
    again = login(client, "ann")
    assert again.status_code == 200
    second = again.cookies[SESSION_COOKIE]
    assert second != first
    assert "errors" not in post_gql(client, ACCOUNTS)
    use_cookie(client, first)
    assert codes(post_gql(client, ACCOUNTS)) == ["UNAUTHENTICATED"]


def test_the_cookie_is_secure_in_production(
        app_for: Callable[..., tuple[Runtime, TestClient[Any]]]) -> None:
    runtime, client = app_for(environment="production")
    add_user(runtime, "ann", "admin", password=True)
    answer = login(client, "ann")
    assert answer.status_code == 200
    assert "Secure" in answer.headers["set-cookie"]


def test_sessions_expire(app_for: Callable[..., tuple[Runtime, TestClient[Any]]],
                         clock: FakeClock) -> None:
    runtime, client = app_for(session_minutes=30)
    add_user(runtime, "ann", "manager", password=True)
    assert login(client, "ann").status_code == 200
    clock.advance(timedelta(minutes=29))
    assert "errors" not in post_gql(client, ACCOUNTS)
    clock.advance(timedelta(minutes=1))
    assert codes(post_gql(client, ACCOUNTS)) == ["UNAUTHENTICATED"]


def test_logout_revokes_at_once_and_another_process_within_the_recheck_interval(
        client: TestClient[Any], runtime: Runtime, settings: Settings,
        clock: FakeClock) -> None:
    add_user(runtime, "ann", "manager", password=True)
    assert login(client, "ann").status_code == 200
    kept = client.cookies[SESSION_COOKIE]
    assert client.post("/auth/logout").json() == {"loggedOut": True}
    use_cookie(client, kept)
    assert codes(post_gql(client, ACCOUNTS)) == ["UNAUTHENTICATED"]

    # A session ended by another process (its own connection to the log) is refused here.
    client.cookies.clear()
    assert login(client, "ann").status_code == 200
    live = client.cookies[SESSION_COOKIE]
    assert "errors" not in post_gql(client, ACCOUNTS)
    other = open_desk(settings, clock)
    try:
        assert Authenticator(UserDesk(other), settings).logout(live, "staff:ann")
    finally:
        other.close()
    assert refused_within(client, ACCOUNTS, RECHECK)


def test_login_is_rate_limited_per_user_and_per_address(
        app_for: Callable[..., tuple[Runtime, TestClient[Any]]]) -> None:
    runtime, client = app_for(login_limit_per_user=3, login_limit_per_ip=6)
    add_user(runtime, "ann", "manager", password=True)
    for _ in range(3):
        assert login(client, "ann", "wrong password!").status_code == 401
    limited = login(client, "ann")  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert login(client, "bob", "wrong password!").status_code == 401
    assert login(client, "cy", "wrong password!").status_code == 401
    assert login(client, "dee", "wrong password!").status_code == 429  # the address's limit
