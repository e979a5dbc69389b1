"""`users`: the staff and client users, their tokens and when each was last used; for admins.

Read from the log (the users) and the `credential_uses` table (last use, to the minute): never
a secret or a password hash.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import UUID

import strawberry

from api.auth import Action, authorize
from api.authentication import Authenticator
from api.graphql.context import Info
from domain.user import User
from domain.users import UserDesk


@strawberry.type(description="An API token of a user: never its secret.")
class ApiToken:
    id: UUID
    label: str
    role: str
    issued_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="When it was last used, to the minute; null: never since it was issued.")


@strawberry.type(description="A staff member or client contact who signs in.")
class UserEntry:
    username: str
    name: str
    role: str
    account_id: UUID | None
    line: int | None
    department: str | None
    disabled: bool
    has_password: bool
    tokens: list[ApiToken]


def _entry(user: User, last_used: dict[str, datetime]) -> UserEntry:
    return UserEntry(
        username=user.username, name=user.name, role=user.role, account_id=user.account_id,
        line=user.line, department=user.department, disabled=user.disabled,
        has_password=user.password_hash is not None,
        tokens=[ApiToken(id=UUID(tid), label=t["label"], role=t["role"],
                         issued_at=t["issued_at"], revoked_at=t["revoked_at"],
                         last_used_at=last_used.get(tid)) for tid, t in user.tokens.items()])


@strawberry.type
class UserQuery:
    @strawberry.field(description="Every user in the order they were added (administrators).")
    async def users(self, info: Info) -> list[UserEntry]:
        authorize(info.context.viewer, Action.MANAGE_USERS)
        info.context.uses_clock = True  # read from the log: never kept by the answer cache
        connection = info.context.request or info.context.websocket
        assert connection is not None
        auth: Authenticator = connection.app.state.auth

        def read() -> list[UserEntry]:
            users = UserDesk(info.context.services.desk).all()
            last_used = ({} if auth.uses is None
                         else auth.uses.last_used(t for u in users for t in u.tokens))
            return [_entry(u, last_used) for u in users]

        return await asyncio.to_thread(read)
