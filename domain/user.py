"""Users (staff and client portal contacts) and the credentials that prove who is asking.

A `User`'s id derives from its username, so a login needs no lookup table. A `Credential` is a
bearer secret: an API token or a login session. Its id derives from the SHA-256 of the secret,
which is never stored; the log holds only the digest-derived id. Revoking a credential is an
event, so every process sees it on its next request. The `UserDirectory` (one per log) lists the
usernames, for `carelog users list` and to know whether any user exists at all.

Password hashes (argon2id, made in `api.passwords`) are recorded in `PasswordSet`: the log is as
private as a credentials table would be, and argon2id is made to be stored at rest.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, InvalidStateError, NotFoundError

_NAMESPACE = UUID("5c2f7f0e-9a41-4c1b-9e8e-3d6b1f0a7c21")
DIRECTORY_ID = uuid5(_NAMESPACE, "user-directory")
MAX_USERNAME = 100


class UserRole(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    PRODUCT = "product"
    ADMIN = "admin"
    CLIENT = "client"


class CredentialKind(StrEnum):
    TOKEN = "token"
    SESSION = "session"


def clean_username(raw: str) -> str:
    """Usernames compare case-insensitively: `Ann@Example.com` and `ann@example.com` are one."""
    name = raw.strip().lower()
    if not name or len(name) > MAX_USERNAME or any(c.isspace() or not c.isprintable()
                                                    for c in name):
        raise InvalidInputError(
            f"a username is 1-{MAX_USERNAME} printable characters without spaces")
    return name


def check_role(role: str, account_id: UUID | None, line: int | None) -> None:
    try:
        kind = UserRole(role)
    except ValueError:
        allowed = ", ".join(r.value for r in UserRole)
        raise InvalidInputError(f"unknown role {role!r}; expected one of: {allowed}") from None
    if (kind is UserRole.CLIENT) != (account_id is not None):
        raise InvalidInputError("a client user belongs to exactly one account; staff to none")
    if line is not None and (kind is not UserRole.AGENT or line not in (1, 2)):
        raise InvalidInputError("only agents work a support line, and it is 1 or 2")


class User(Aggregate):
    """A person or machine that signs in: a staff member with a role, or a client contact."""

    TOPIC = "carelog:User"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:User.Created"

    @staticmethod
    def id_for(username: str) -> UUID:
        return uuid5(_NAMESPACE, f"user/{clean_username(username)}")

    @event("Added", topic="carelog:User.Added")
    def __init__(self, id: UUID, username: str, name: str, role: str, account_id: UUID | None,
                 contact_id: UUID | None, line: int | None, department: str | None,
                 occurred_at: datetime, actor: str) -> None:
        self.username = username
        self.name = name
        self.role = role
        self.account_id = account_id
        self.contact_id = contact_id
        self.line = line
        self.department = department
        self.disabled = False
        self.password_hash: str | None = None
        self.tokens: dict[str, dict[str, Any]] = {}
        """Issued tokens by credential id: label, role, issued_at, revoked_at."""

    def change_role(self, role: str, account_id: UUID | None, line: int | None,
                    department: str | None, occurred_at: datetime, actor: str) -> None:
        check_role(role, account_id, line)
        if role == UserRole.CLIENT and (self.contact_id is None or account_id != self.account_id):
            raise InvalidInputError("a client user stays the contact of its one account")
        if (role, account_id, line, department) != (self.role, self.account_id, self.line,
                                                    self.department):
            self._role_changed(role, account_id, line, department, occurred_at, actor)

    @event("RoleChanged", topic="carelog:User.RoleChanged")
    def _role_changed(self, role: str, account_id: UUID | None, line: int | None,
                      department: str | None, occurred_at: datetime, actor: str) -> None:
        self.role = role
        self.account_id = account_id
        self.line = line
        self.department = department

    def disable(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if not self.disabled:
            self._disabled(reason, occurred_at, actor)

    @event("Disabled", topic="carelog:User.Disabled")
    def _disabled(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.disabled = True

    def set_password(self, password_hash: str, occurred_at: datetime, actor: str) -> None:
        self._check_enabled()
        self._password_set(password_hash, occurred_at, actor)

    @event("PasswordSet", topic="carelog:User.PasswordSet")
    def _password_set(self, password_hash: str, occurred_at: datetime, actor: str) -> None:
        self.password_hash = password_hash

    def issue_token(self, credential_id: UUID, label: str, role: str, occurred_at: datetime,
                    actor: str) -> None:
        self._check_enabled()
        if role != self.role and not (self.role == UserRole.ADMIN and role != UserRole.CLIENT):
            raise InvalidInputError(
                f"a {self.role} may only hold {self.role} tokens; an admin any staff role")
        self._token_issued(credential_id, label, role, occurred_at, actor)

    @event("TokenIssued", topic="carelog:User.TokenIssued")
    def _token_issued(self, credential_id: UUID, label: str, role: str, occurred_at: datetime,
                      actor: str) -> None:
        self.tokens[str(credential_id)] = {"label": label, "role": role,
                                           "issued_at": occurred_at, "revoked_at": None}

    def revoke_token(self, credential_id: UUID, occurred_at: datetime, actor: str) -> None:
        token = self.tokens.get(str(credential_id))
        if token is None:
            raise NotFoundError(f"token {credential_id} not found")
        if token["revoked_at"] is None:
            self._token_revoked(credential_id, occurred_at, actor)

    @event("TokenRevoked", topic="carelog:User.TokenRevoked")
    def _token_revoked(self, credential_id: UUID, occurred_at: datetime, actor: str) -> None:
        self.tokens[str(credential_id)]["revoked_at"] = occurred_at

    def _check_enabled(self) -> None:
        if self.disabled:
            raise InvalidStateError(f"user {self.username} is disabled")


class Credential(Aggregate):
    """A bearer secret (API token or login session) of one user; only its digest names it."""

    TOPIC = "carelog:Credential"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Credential.Created"

    @staticmethod
    def id_for(digest: str) -> UUID:
        """`digest`: the hex SHA-256 of the secret."""
        return uuid5(_NAMESPACE, f"credential/{digest}")

    @event("Issued", topic="carelog:Credential.Issued")
    def __init__(self, id: UUID, user_id: UUID, kind: str, role: str,
                 expires_at: datetime | None, occurred_at: datetime, actor: str) -> None:
        self.user_id = user_id
        self.kind = kind
        self.role = role
        self.expires_at = expires_at
        self.revoked = False

    def valid_at(self, moment: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or moment < self.expires_at)

    def revoke(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if not self.revoked:
            self._revoked(reason, occurred_at, actor)

    @event("Revoked", topic="carelog:Credential.Revoked")
    def _revoked(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.revoked = True


class UserDirectory(Aggregate):
    """The usernames of this log, in the order they were added."""

    TOPIC = "carelog:UserDirectory"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:UserDirectory.Created"

    @event("Started", topic="carelog:UserDirectory.Started")
    def __init__(self, id: UUID, occurred_at: datetime, actor: str) -> None:
        self.usernames: list[str] = []

    @event("Listed", topic="carelog:UserDirectory.Listed")
    def list_user(self, username: str, occurred_at: datetime, actor: str) -> None:
        self.usernames.append(username)
