"""Users for end-to-end tests: added straight on the runtime's log, as `carelog users` does."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID, uuid4

from litestar.testing import TestClient

from api.authentication import Authenticator, Passwords
from api.runtime import Runtime
from domain.users import UserDesk

ADMIN_ACTOR = "system:test"
RECHECK = 1.0 + 0.5
"""The default CARELOG_AUTH_RECHECK_SECONDS, and a margin."""
PASSWORD = "correct horse battery"
_PASSWORDS = Passwords()


def add_user(runtime: Runtime, username: str, role: str, *, password: bool = False,
             account_id: UUID | None = None, line: int | None = None) -> None:
    users = UserDesk(runtime.desk)
    contact_id = None
    if account_id is not None:  # a client user is one of the account's contacts
        contact_id = runtime.desk.add_contact(
            account_id=account_id, name=username.title(), email=f"{uuid4().hex[:8]}@client.example",
            role="user", actor=ADMIN_ACTOR).ids["contactId"]
    users.add_user(username=username, name=username.title(), role=role, actor=ADMIN_ACTOR,
                   account_id=account_id, contact_id=contact_id, line=line)
    if password:
        users.set_password(username=username, password_hash=_PASSWORDS.hash(PASSWORD),
                           actor=ADMIN_ACTOR)


def token_for(runtime: Runtime, username: str, role: str | None = None) -> str:
    auth = Authenticator(UserDesk(runtime.desk), runtime.settings, _PASSWORDS)
    secret, _ = auth.issue_token(username, "tests", ADMIN_ACTOR, role)
    return secret


def post_gql(client: TestClient[Any], query: str, token: str | None = None,
             **variables: Any) -> dict[str, Any]:
    """The whole GraphQL answer (data and errors) of one operation."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.post("/graphql", json={"query": query, "variables": variables},
                           headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def codes(answer: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "") for e in answer.get("errors") or []]


def refused_within(client: TestClient[Any], query: str, seconds: float,
                   token: str | None = None) -> bool:
    """Whether the app answers UNAUTHENTICATED within `seconds` (a revocation made by another
    process is seen once this one's recheck interval has passed)."""
    deadline = time.monotonic() + seconds
    while True:
        if codes(post_gql(client, query, token)) == ["UNAUTHENTICATED"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
