"""Who is asking: bearer tokens for machines, session cookies for people, and the dev rule.

The rule when a request carries no credential: outside production, while no user exists yet,
it is the development administrator (so `make run` works out of the box); otherwise it is
anonymous and every resolver refuses it with UNAUTHENTICATED. A credential that is presented
but unknown, expired or revoked is anonymous in every environment.

Secrets are 32 random bytes (256 bits), shown once; only their SHA-256 digest is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.auth import (
    ANONYMOUS,
    DEVELOPMENT_ADMIN,
    PORTAL_CLOSED,
    PORTAL_CLOSED_MESSAGE,
    Role,
    Viewer,
)
from api.token_use import TokenUse
from domain.errors import NotFoundError
from domain.user import Credential, CredentialKind, User, UserRole
from domain.users import UserDesk
from integrations.rate_limit import RateLimit
from integrations.settings import Settings

SESSION_COOKIE = "carelog_session"
LOGIN_WINDOW = 900.0
"""Seconds over which login attempts are counted, per username and per client IP."""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Passwords:
    """argon2id hashes; verifying an unknown user costs as much as a known one."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        self._decoy = self._hasher.hash(new_secret())

    def hash(self, password: str) -> str:
        if len(password) < 12:
            raise ValueError("a password has at least 12 characters")
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and (
                password_hash is not None)
        except (VerificationError, InvalidHashError):
            return False


def _token_role_allowed(user_role: str, token_role: str) -> bool:
    return token_role == user_role or (user_role == UserRole.ADMIN and
                                       token_role != UserRole.CLIENT)


def viewer_of(user: User, role: str) -> Viewer:
    if role == UserRole.CLIENT:
        return Viewer(Role.CLIENT, str(user.contact_id), account_id=user.account_id)
    return Viewer(Role(role), user.username)


@dataclass(frozen=True, slots=True)
class Login:
    secret: str
    expires_at: datetime
    user: User


class LoginRefusedError(Exception):
    """Wrong username or password, or a disabled user: one answer for all, never which."""


class PortalClosedError(Exception):
    """The password was right, but the user's company has no portal access."""


class LoginLimitedError(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("too many login attempts")
        self.retry_after = retry_after


class Authenticator:
    """Turns a request's credential into a Viewer; logs people in and out."""

    def __init__(self, users: UserDesk, settings: Settings,
                 passwords: Passwords | None = None, uses: TokenUse | None = None) -> None:
        self.users = users
        self.uses = uses
        """Where a token's last use is noted (see `api.token_use`); None: nowhere."""
        self.settings = settings
        self.passwords = passwords or Passwords()
        self.session_lifetime = timedelta(minutes=settings.session_minutes)
        self.limits_by_user = RateLimit(settings.login_limit_per_user, LOGIN_WINDOW)
        self.limits_by_ip = RateLimit(settings.login_limit_per_ip, LOGIN_WINDOW)
        self._users_exist = False  # users are disabled, never deleted: once true, always
        self.recheck_seconds = settings.auth_recheck_seconds
        self._checked: dict[str, tuple[Viewer, float, datetime | None]] = {}
        """Credentials this process accepted lately: digest -> viewer, when, expiry."""
        self._lock = threading.Lock()

    def users_exist(self) -> bool:
        if not self._users_exist:
            self._users_exist = self.users.any_user()
        return self._users_exist

    def recently_checked(self, bearer: str | None, session: str | None) -> Viewer | None:
        """The viewer of a credential this process accepted less than `recheck_seconds` ago,
        if it has not expired since: a dashboard's requests then skip reading the log. A
        revocation elsewhere is seen within that bound; here (logout), at once."""
        secret = bearer if bearer is not None else session
        if secret is None or self.recheck_seconds <= 0:
            return None
        kind = "t" if bearer is not None else "s"
        found = self._checked.get(kind + digest(secret))
        if found is None:
            return None
        viewer, checked, expires_at = found
        if time.monotonic() - checked >= self.recheck_seconds or (
                expires_at is not None and self.users.desk.clock.now() >= expires_at):
            return None
        return viewer

    def without_credential(self) -> Viewer | None:
        """The viewer of a request without credential, if known without reading the log."""
        if self.settings.is_production or self._users_exist:
            return ANONYMOUS
        return None

    def viewer(self, bearer: str | None, session: str | None) -> Viewer:
        """The viewer a request's `Authorization: Bearer` header or session cookie names."""
        if bearer is not None or session is not None:
            kind = CredentialKind.TOKEN if bearer is not None else CredentialKind.SESSION
            secret = bearer if bearer is not None else session
            assert secret is not None
            viewer, expires_at = self._by_credential(secret, kind)
            key = ("t" if bearer is not None else "s") + digest(secret)
            if self.uses is not None and bearer is not None and viewer is not ANONYMOUS:
                self.uses.used(str(Credential.id_for(digest(secret))))
            with self._lock:
                if viewer is ANONYMOUS:
                    self._checked.pop(key, None)
                else:
                    if len(self._checked) > 10_000:
                        self._checked.clear()
                    self._checked[key] = (viewer, time.monotonic(), expires_at)
            return viewer
        if not self.settings.is_production and not self.users_exist():
            return DEVELOPMENT_ADMIN
        return ANONYMOUS

    def _by_credential(self, secret: str,
                       kind: CredentialKind) -> tuple[Viewer, datetime | None]:
        credential = self.users.credential(digest(secret))
        now = self.users.desk.clock.now()
        if (credential is None or credential.kind != kind.value
                or not credential.valid_at(now)):
            return ANONYMOUS, None
        user = self.users.user(credential.user_id)
        if user is None or user.disabled:
            return ANONYMOUS, None
        role = user.role if kind is CredentialKind.SESSION else credential.role
        if not _token_role_allowed(user.role, role):
            return ANONYMOUS, None
        if role == UserRole.CLIENT and not self.has_portal(user):
            return PORTAL_CLOSED, credential.expires_at
        return viewer_of(user, role), credential.expires_at

    def has_portal(self, user: User) -> bool:
        """Whether a client user's company has the portal (its plan, or granted to it)."""
        if user.account_id is None:
            return False
        try:
            account = self.users.desk.account(user.account_id)
        except NotFoundError:
            return False
        return account.has_portal(self.settings.portal_tiers)

    def login(self, username: str, password: str, client_ip: str,
              previous: str | None) -> Login:
        """Check the password and start a fresh session; a session the browser already had is
        ended (so a planted cookie never becomes an authenticated one)."""
        key = username.strip().lower()
        for limit, k in ((self.limits_by_ip, client_ip), (self.limits_by_user, key)):
            if not limit.allow(k):
                raise LoginLimitedError(limit.retry_after(k))
        if previous is not None:
            with self._lock:
                self._checked.pop("s" + digest(previous), None)
            self.users.end_session(digest=digest(previous), reason="superseded by a login",
                                   actor="system:login")
        user = self.users.find(username)
        ok = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            raise LoginRefusedError("wrong username or password")
        if user.role == UserRole.CLIENT and not self.has_portal(user):
            raise PortalClosedError(PORTAL_CLOSED_MESSAGE)
        secret = new_secret()
        expires_at = self.users.desk.clock.now() + self.session_lifetime
        self.users.start_session(user_id=user.id, digest=digest(secret), expires_at=expires_at,
                                 actor=viewer_of(user, user.role).actor)
        self._users_exist = True
        return Login(secret, expires_at, user)

    def logout(self, session: str, actor: str) -> bool:
        with self._lock:
            self._checked.pop("s" + digest(session), None)
        return self.users.end_session(digest=digest(session), reason="logged out",
                                      actor=actor) is not None

    def issue_token(self, username: str, label: str, actor: str,
                    role: str | None = None) -> tuple[str, Credential]:
        """A new API token: the secret is returned once and never stored."""
        secret = new_secret()
        result = self.users.issue_token(username=username, digest=digest(secret), label=label,
                                        actor=actor, role=role)
        credential = self.users.credential(digest(secret))
        assert credential is not None
        assert credential.id == result.ids["credentialId"]
        return secret, credential


def bearer_of(header: str | None) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header (an empty one counts)."""
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if not hmac.compare_digest(scheme.lower(), "bearer"):
        return ""  # some other scheme: presented, but not one we accept
    return value.strip()
