"""The commands on users and credentials, beside CareDesk's, on the same log.

Secrets never reach this module: callers pass the argon2id hash of a password and the SHA-256
digest of a token or session secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.account import Account, clean_name
from domain.application import CareDesk, CommandResult
from domain.errors import InvalidInputError, InvalidStateError, NotFoundError
from domain.portal_registration import LIFETIME, PortalRegistration
from domain.user import (
    DIRECTORY_ID,
    Credential,
    CredentialKind,
    User,
    UserDirectory,
    UserRole,
    check_role,
    clean_username,
)
from domain.values import Actor, ActorKind

_RETRIES = 3
REGISTRATION_LIFETIME = LIFETIME
_KEYS: dict[type[Aggregate], str] = {User: "userId", Credential: "credentialId",
                                     PortalRegistration: "registrationId"}


class UserDesk:
    """Adds, changes and disables users; issues and revokes their tokens and sessions."""

    def __init__(self, desk: CareDesk) -> None:
        self.desk = desk

    # Reading -------------------------------------------------------------------------------

    def any_user(self) -> bool:
        return any(True for _ in self.desk.events.get(DIRECTORY_ID, limit=1))

    def find(self, username: str) -> User | None:
        try:
            found = self._load(User.id_for(username))
        except InvalidInputError:
            return None
        return found if isinstance(found, User) else None

    def user(self, user_id: UUID) -> User | None:
        found = self._load(user_id)
        return found if isinstance(found, User) else None

    def credential(self, digest: str) -> Credential | None:
        found = self._load(Credential.id_for(digest))
        return found if isinstance(found, Credential) else None

    def all(self) -> list[User]:
        directory = self._load(DIRECTORY_ID)
        if not isinstance(directory, UserDirectory):
            return []
        return [u for u in (self.find(n) for n in directory.usernames) if u is not None]

    # Commands ------------------------------------------------------------------------------

    def add_user(self, *, username: str, name: str, role: str, actor: str,
                 account_id: UUID | None = None, contact_id: UUID | None = None,
                 line: int | None = None, department: str | None = None) -> CommandResult:
        username = clean_username(username)
        check_role(role, account_id, line)
        if account_id is not None:
            if contact_id is None:
                raise InvalidInputError("a client user is one of the account's contacts: "
                                        "name the contact")
            account = self.desk.account(account_id)  # NotFoundError when missing
            if str(contact_id) not in account.contacts:
                raise NotFoundError(f"contact {contact_id} not found on this account")
        at = self.desk.clock.now()

        def attempt() -> CommandResult:
            if self.find(username) is not None:
                raise InvalidStateError(f"user {username} already exists")
            directory = self._load(DIRECTORY_ID)
            if not isinstance(directory, UserDirectory):
                directory = UserDirectory(id=DIRECTORY_ID, occurred_at=at, actor=actor)
            user = User(id=User.id_for(username), username=username,
                        name=clean_name(name, "name"), role=role, account_id=account_id,
                        contact_id=contact_id, line=line,
                        department=clean_name(department, "department") if department else None,
                        occurred_at=at, actor=actor)
            directory.list_user(username, at, actor)
            return self._save(user, directory)

        return self._retrying(attempt)

    def change_role(self, *, username: str, role: str, actor: str,
                    account_id: UUID | None = None, line: int | None = None,
                    department: str | None = None) -> CommandResult:
        at = self.desk.clock.now()
        return self._change(username, lambda u: u.change_role(role, account_id, line,
                                                               department, at, actor))

    def disable_user(self, *, username: str, reason: str, actor: str) -> CommandResult:
        at = self.desk.clock.now()
        return self._change(username, lambda u: u.disable(reason, at, actor))

    def set_password(self, *, username: str, password_hash: str, actor: str) -> CommandResult:
        at = self.desk.clock.now()
        return self._change(username, lambda u: u.set_password(password_hash, at, actor))

    def issue_token(self, *, username: str, digest: str, label: str, actor: str,
                    role: str | None = None) -> CommandResult:
        """Record a new API token; its secret was shown once to the caller and is gone."""
        at = self.desk.clock.now()

        def attempt() -> CommandResult:
            user = self._user(username)
            credential = Credential(id=Credential.id_for(digest), user_id=user.id,
                                    kind=CredentialKind.TOKEN.value, role=role or user.role,
                                    expires_at=None, occurred_at=at, actor=actor)
            user.issue_token(credential.id, clean_name(label, "label"), credential.role, at,
                             actor)
            return self._save(user, credential)

        return self._retrying(attempt)

    def revoke_token(self, *, username: str, credential_id: UUID, actor: str) -> CommandResult:
        at = self.desk.clock.now()

        def attempt() -> CommandResult:
            user = self._user(username)
            user.revoke_token(credential_id, at, actor)
            credential = self._load(credential_id)
            if not isinstance(credential, Credential) or credential.user_id != user.id:
                raise NotFoundError(f"token {credential_id} not found")
            credential.revoke("revoked", at, actor)
            return self._save(user, credential)

        return self._retrying(attempt)

    def start_session(self, *, user_id: UUID, digest: str, expires_at: datetime,
                      actor: str) -> CommandResult:
        user = self.user(user_id)
        if user is None or user.disabled:
            raise NotFoundError("no such user")
        session = Credential(id=Credential.id_for(digest), user_id=user.id,
                             kind=CredentialKind.SESSION.value, role=user.role,
                             expires_at=expires_at, occurred_at=self.desk.clock.now(),
                             actor=actor)
        return self._save(session)

    def end_session(self, *, digest: str, reason: str, actor: str) -> CommandResult | None:
        """Revoke a session (logout, or superseded at login); None when there is none."""
        at = self.desk.clock.now()

        def attempt() -> CommandResult | None:
            session = self.credential(digest)
            if session is None or session.kind != CredentialKind.SESSION.value:
                return None
            session.revoke(reason, at, actor)
            if not session.pending_events:
                return None
            return self._save(session)

        for _ in range(_RETRIES):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise InvalidStateError("the session changed at the same moment; try again")

    # Portal self-registration ---------------------------------------------------------------

    def request_registration(self, *, account_id: UUID, email: str, name: str, digest: str,
                             plan_tiers: frozenset[str]) -> CommandResult | None:
        """Record a registration for `email` at one of the account's domains, its link's
        secret known to the caller by `digest`; None (nothing recorded) when the account does
        not let this address register, or it already has a user."""
        email = clean_username(email)
        try:
            account = self.desk.account(account_id)
        except NotFoundError:
            return None
        if (not account.may_self_register(plan_tiers)
                or email.rpartition("@")[2] not in account.email_domains
                or self.find(email) is not None):
            return None
        at = self.desk.clock.now()
        registration = PortalRegistration(
            id=PortalRegistration.id_for(digest), account_id=account.id, email=email,
            name=clean_name(name, "name"), expires_at=at + REGISTRATION_LIFETIME,
            occurred_at=at, actor=_contact_actor(account.id, email))
        return self._save(registration)

    def confirm_registration(self, *, digest: str, password_hash: str,
                             plan_tiers: frozenset[str]) -> CommandResult:
        """The link was followed: the address becomes a contact of the account (if it was not
        one) and a client user with this password, all in one transaction."""
        at = self.desk.clock.now()

        def attempt() -> CommandResult:
            registration = self._load(PortalRegistration.id_for(digest))
            if not isinstance(registration, PortalRegistration):
                raise InvalidInputError("this link is not valid: register again for a new one")
            actor = _contact_actor(registration.account_id, registration.email)
            user_id = User.id_for(registration.email)
            registration.confirm(user_id, at, actor)
            account = self.desk.account(registration.account_id)
            if not account.may_self_register(plan_tiers):
                raise InvalidStateError("this account no longer allows registering for the "
                                        "portal; ask your account manager")
            if self.find(registration.email) is not None:
                raise InvalidStateError("this address is registered already: sign in")
            contact_id = account.contact_by_email(registration.email) or account.add_contact(
                registration.name, registration.email, None, "user", at, actor)
            directory = self._load(DIRECTORY_ID)
            if not isinstance(directory, UserDirectory):
                directory = UserDirectory(id=DIRECTORY_ID, occurred_at=at, actor=actor)
            user = User(id=user_id, username=registration.email, name=registration.name,
                        role=UserRole.CLIENT.value, account_id=account.id,
                        contact_id=contact_id, line=None, department=None, occurred_at=at,
                        actor=actor)
            user.set_password(password_hash, at, actor)
            directory.list_user(registration.email, at, actor)
            return self._save(user, directory, account, registration)

        return self._retrying(attempt)

    # Mechanics -----------------------------------------------------------------------------

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            found: Aggregate = self.desk.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found

    def _user(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise NotFoundError(f"user {clean_username(username)} not found")
        return user

    def _change(self, username: str, change: Callable[[User], None]) -> CommandResult:
        def attempt() -> CommandResult:
            user = self._user(username)
            change(user)
            if not user.pending_events:
                return CommandResult({"userId": user.id}, self.desk.recorder.max_notification_id()
                                     or 0, user.version, duplicate=True)
            return self._save(user)

        return self._retrying(attempt)

    def _save(self, aggregate: Aggregate, *others: Aggregate) -> CommandResult:
        recordings = self.desk.save(aggregate, *others)
        ids = {_KEYS[type(a)]: a.id for a in (aggregate, *others) if type(a) in _KEYS}
        return CommandResult(ids, recordings[-1].notification.id, aggregate.version)

    @staticmethod
    def _retrying(attempt: Callable[[], CommandResult]) -> CommandResult:
        for _ in range(_RETRIES):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise InvalidStateError("changed by someone else at the same moment; try again")


def _contact_actor(account_id: UUID, email: str) -> str:
    return str(Actor(ActorKind.CONTACT, str(Account.contact_id(account_id, email))))


__all__ = ["UserDesk", "UserRole"]
