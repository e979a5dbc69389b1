"""Users and credentials on the log: roles, tokens, sessions; no secret is ever recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from api.auth import ANONYMOUS, DEVELOPMENT_ADMIN, Role
from api.authentication import Authenticator, Passwords, bearer_of, digest
from domain.application import CareDesk
from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.users import UserDesk
from integrations.clock import FakeClock
from integrations.settings import Settings

ACTOR = "system:test"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_roles_accounts_and_lines_must_fit_together(
        desk: CareDesk, open_account: Callable[..., UUID]) -> None:
    users = UserDesk(desk)
    account = open_account()
    with pytest.raises(InvalidInputError, match="exactly one account"):
        users.add_user(username="a", name="A", role="agent", actor=ACTOR, account_id=account)
    with pytest.raises(InvalidInputError, match="contacts"):
        users.add_user(username="c", name="C", role="client", actor=ACTOR, account_id=account)
    with pytest.raises(NotFoundError):
        users.add_user(username="c", name="C", role="client", actor=ACTOR, account_id=account,
                       contact_id=uuid4())
    with pytest.raises(InvalidInputError, match="support line"):
        users.add_user(username="m", name="M", role="manager", actor=ACTOR, line=2)
    with pytest.raises(InvalidInputError, match="unknown role"):
        users.add_user(username="x", name="X", role="root", actor=ACTOR)
    users.add_user(username=" Ann@Example.com ", name="Ann", role="agent", actor=ACTOR, line=2)
    with pytest.raises(InvalidStateError, match="already exists"):
        users.add_user(username="ann@example.com", name="Ann", role="agent", actor=ACTOR)
    assert [u.username for u in users.all()] == ["ann@example.com"]


def test_token_roles_are_the_users_or_narrower_for_an_admin(desk: CareDesk) -> None:
    users = UserDesk(desk)
    users.add_user(username="boss", name="Boss", role="admin", actor=ACTOR)
    users.add_user(username="abe", name="Abe", role="agent", actor=ACTOR)
    users.issue_token(username="boss", digest=digest("s1"), label="ro", actor=ACTOR,
                      role="product")
    with pytest.raises(InvalidInputError):
        users.issue_token(username="abe", digest=digest("s2"), label="up", actor=ACTOR,
                          role="manager")
    with pytest.raises(InvalidInputError):
        users.issue_token(username="boss", digest=digest("s3"), label="c", actor=ACTOR,
                          role="client")


def test_the_development_admin_only_while_no_user_exists_outside_production(
        desk: CareDesk, clock: FakeClock, passwords: Passwords) -> None:
    users = UserDesk(desk)
    development = Authenticator(users, Settings(), passwords)
    production = Authenticator(users, Settings(environment="production"), passwords)
    assert development.viewer(None, None) is DEVELOPMENT_ADMIN
    assert production.viewer(None, None) is ANONYMOUS
    assert development.viewer("nonsense", None) is ANONYMOUS
    users.add_user(username="ann", name="Ann", role="manager", actor=ACTOR)
    assert development.viewer(None, None) is ANONYMOUS

    users.set_password(username="ann", password_hash=passwords.hash("a long secret phrase"),
                       actor=ACTOR)
    done = development.login("ann", "a long secret phrase", "127.0.0.1", None)
    viewer = development.viewer(None, done.secret)
    assert viewer.role is Role.MANAGER
    assert viewer.actor == "staff:ann"
    assert development.viewer(done.secret, None) is ANONYMOUS  # a session is not a token
    clock.advance(development.session_lifetime - timedelta(seconds=1))
    assert development.viewer(None, done.secret) == viewer
    clock.advance(timedelta(seconds=1))
    assert development.viewer(None, done.secret) is ANONYMOUS
    logged = "".join(str(n.state) for n in desk.recorder.select_notifications(start=1,
                                                                              limit=100))
    assert done.secret not in logged
    assert "a long secret phrase" not in logged


def test_bearer_headers() -> None:
    assert bearer_of(None) is None
    assert bearer_of("Bearer abc") == "abc"
    assert bearer_of("bearer  abc ") == "abc"
    assert bearer_of("Basic abc") == ""


def test_websocket_origins_must_be_this_host() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from litestar.exceptions import WebSocketException

    from api.graphql.context import check_origin

    def socket(**headers: str) -> Any:
        return cast(Any, SimpleNamespace(headers=headers))

    check_origin(socket(host="127.0.0.1:8000"))  # not a browser
    check_origin(socket(host="127.0.0.1:8000", origin="http://127.0.0.1:8000"))
    with pytest.raises(WebSocketException):
        check_origin(socket(host="127.0.0.1:8000", origin="http://evil.example"))
    with pytest.raises(WebSocketException):
        check_origin(socket(host="127.0.0.1:8000", origin="http://127.0.0.1:8000.evil.example"))
