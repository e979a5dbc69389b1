"""Who is asking, and the one function that decides what they may do.

Every resolver passes through `authorize`. `api.authentication` decides who the viewer is:
a user's session or token, the development administrator (development, no users yet), or
`ANONYMOUS`, whom `authorize` refuses with UNAUTHENTICATED.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.errors import DomainError, NotFoundError
from domain.values import Actor, ActorKind


class ForbiddenError(DomainError):
    code = "FORBIDDEN"


log = logging.getLogger("carelog.security")


class UnauthenticatedError(DomainError):
    code = "UNAUTHENTICATED"


class Role(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    PRODUCT = "product"
    ADMIN = "admin"
    CLIENT = "client"


class Action(StrEnum):
    READ_ACCOUNTS = "read_accounts"
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_CASES = "read_cases"
    WORK_CASES = "work_cases"
    SUBMIT_REQUESTS = "submit_requests"
    READ_PORTFOLIO = "read_portfolio"
    MANAGE_HEALTH_MODEL = "manage_health_model"
    MANAGE_GOALS = "manage_goals"
    HANDLE_ALERTS = "handle_alerts"
    READ_FEEDBACK = "read_feedback"
    WORK_FEEDBACK = "work_feedback"
    READ_HISTORY = "read_history"
    READ_KNOWLEDGE = "read_knowledge"
    """The knowledge base and announcements, as far as the viewer may read them."""
    WRITE_ARTICLES = "write_articles"
    ANNOUNCE = "announce"
    MANAGE_USERS = "manage_users"


_RIGHTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.MANAGER: frozenset(Action) - {Action.MANAGE_USERS},
    Role.AGENT: frozenset({Action.READ_ACCOUNTS, Action.READ_CASES, Action.WORK_CASES,
                           Action.SUBMIT_REQUESTS, Action.READ_FEEDBACK,
                           Action.WORK_FEEDBACK, Action.READ_KNOWLEDGE,
                           Action.WRITE_ARTICLES, Action.ANNOUNCE}),
    Role.PRODUCT: frozenset({Action.READ_ACCOUNTS, Action.READ_CASES, Action.READ_PORTFOLIO,
                             Action.READ_FEEDBACK, Action.READ_KNOWLEDGE}),
    Role.CLIENT: frozenset({Action.READ_ACCOUNTS, Action.READ_CASES, Action.SUBMIT_REQUESTS,
                            Action.READ_KNOWLEDGE}),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    role: Role
    subject: str
    """The staff id, or for a client the contact id."""
    account_id: UUID | None = None
    """For a client contact: the only account it may see."""

    @property
    def actor(self) -> str:
        kind = ActorKind.CONTACT if self.role is Role.CLIENT else ActorKind.STAFF
        return str(Actor(kind, self.subject))


DEVELOPMENT_ADMIN = Viewer(Role.ADMIN, "dev-admin")
ANONYMOUS = Viewer(Role.CLIENT, "anonymous", account_id=UUID(int=0))
"""No valid credential. Refused by `authorize`; and should a path forget to ask, it is still a
client of an account that cannot exist, so it sees nothing."""
PORTAL_CLOSED = Viewer(Role.CLIENT, "portal-closed", account_id=UUID(int=0))
"""A valid client credential whose account has no portal access (by its plan, or revoked):
refused by `authorize` with FORBIDDEN, and like ANONYMOUS it sees nothing should a path forget."""
PORTAL_CLOSED_MESSAGE = ("your company's account does not include the client portal; ask your "
                         "account manager")


def authorize(viewer: Viewer, action: Action, account_id: UUID | str | None = None) -> None:
    """Refuse unless `viewer` may do `action` (on `account_id`, when the data is an account's).

    A client asking about another company's data is told it does not exist, exactly as for a
    missing id, so ids cannot be probed.
    """
    if viewer is ANONYMOUS:
        raise UnauthenticatedError("sign in, or send an API token as `Authorization: Bearer`")
    if viewer is PORTAL_CLOSED:
        log.warning("refused: %s, of an account without the portal, may not %s", viewer.actor,
                    action.value)
        raise ForbiddenError(PORTAL_CLOSED_MESSAGE)
    if action not in _RIGHTS[viewer.role]:
        log.warning("refused: %s (%s) may not %s", viewer.actor, viewer.role.value,
                    action.value)
        what = action.value.replace("_", " ")
        raise ForbiddenError(f"the {viewer.role.value} role may not {what}")
    if viewer.role is Role.CLIENT and account_id is not None and str(account_id) != str(
            viewer.account_id):
        raise NotFoundError(f"account {account_id} not found")
