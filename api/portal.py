"""`POST /portal/register` and `POST /portal/confirm`: client contacts sign up for the portal.

Someone at one of an account's email domains asks for access; if the account allows
self-registration (and has the portal), a single-use link valid for a day goes to that address.
Following it with a password makes the address a contact and a client user of the account.

The answer to a registration is the same whatever the address: the work (lookup, record, mail)
runs after the answer is sent, so neither its words nor its timing tell whether an address is
known. The link's secret (256 random bits) travels only in the mail, after `#`, which browsers
never send to a server; the log holds its SHA-256-derived id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request, post
from litestar.background_tasks import BackgroundTask
from litestar.response import Response
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_400_BAD_REQUEST,
    HTTP_429_TOO_MANY_REQUESTS,
)

from api.authentication import Passwords, digest, new_secret
from domain.errors import DomainError, InvalidInputError
from domain.portal_registration import LIFETIME
from domain.ports import MessageSender, OutboundMessage
from domain.users import UserDesk
from domain.values import Channel
from integrations.rate_limit import RateLimit
from integrations.settings import Settings
from projections.directory import DirectoryView

log = logging.getLogger("carelog.portal")
MAX_PORTAL_BODY = 4096
_WINDOW = 3600.0
_EMAIL_MAX = 254
REGISTERED = ("if this address may use the portal, a link to confirm it is on its way; it is "
              "valid for 24 hours")


@dataclass
class PortalRegistrations:
    """Registrations and their confirmation links; the mail goes out through `sender`."""

    users: UserDesk
    directory: DirectoryView
    sender: MessageSender | None
    settings: Settings
    passwords: Passwords

    def __post_init__(self) -> None:
        s = self.settings
        self.limits_by_ip = RateLimit(s.form_limit_per_ip, _WINDOW)
        self.limits_by_address = RateLimit(s.form_limit_per_address, _WINDOW)

    def request(self, email: str, name: str) -> None:
        """Record a registration and mail its link, if the address may register at all."""
        accounts = {m.account_id for m in self.directory.find_email(email)}
        if len(accounts) != 1:
            return
        secret = new_secret()
        recorded = self.users.request_registration(
            account_id=accounts.pop(), email=email, name=name, digest=digest(secret),
            plan_tiers=self.settings.portal_tiers)
        if recorded is None:
            return
        if self.sender is None:
            log.warning("a portal registration was recorded but no CARELOG_SMTP_HOST is set: "
                        "its link cannot be mailed")
            return
        receipt = self.sender.send(OutboundMessage(
            channel=Channel.EMAIL.value, conversation=email, automated=True,
            message_id=f"registration.{uuid.uuid4().hex}@{self.settings.email.domain}",
            subject="Confirm your access to the support portal",
            text=_mail_text(name, f"{self.settings.base_url}/portal/confirm#token={secret}")))
        if not receipt.delivered:
            log.warning("the portal registration mail was not delivered: %s", receipt.error)

    def confirm(self, secret: str, password: str) -> dict[str, Any]:
        password_hash = self.passwords.hash(password)  # ValueError: too short
        result = self.users.confirm_registration(digest=digest(secret),
                                                 password_hash=password_hash,
                                                 plan_tiers=self.settings.portal_tiers)
        user = self.users.user(result.ids["userId"])
        assert user is not None
        return {"username": user.username, "accountId": str(user.account_id),
                "notificationId": result.notification_id}


def _mail_text(name: str, link: str) -> str:
    hours = int(LIFETIME.total_seconds() // 3600)
    return (f"Hello {name},\n\n"
            "someone, we hope you, asked for access to the support portal with this address. "
            f"To confirm it and choose your password, open this link within {hours} hours:\n\n"
            f"{link}\n\n"
            "The link works once. If you did not ask, ignore this mail: nothing happens "
            "without the link.\n")


def _email(raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidInputError("email is required")
    email = raw.strip().lower()
    local, _, domain = email.rpartition("@")
    if (not local or "." not in domain or len(email) > _EMAIL_MAX
            or any(c.isspace() or not c.isprintable() for c in email)):
        raise InvalidInputError(f"{raw!r} is not an email address")
    return email


async def _json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise InvalidInputError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInputError("send a JSON object")
    return data


def _refused(message: str) -> Response[dict[str, Any]]:
    return Response({"error": message}, status_code=HTTP_400_BAD_REQUEST)


def _too_many(limit: RateLimit, key: str) -> Response[dict[str, Any]]:
    return Response({"error": "too many requests; try again later"},
                    status_code=HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(max(1, round(limit.retry_after(key))))})


def _limited_by_ip(portal: PortalRegistrations, request: Request[Any, Any, Any]
                   ) -> Response[dict[str, Any]] | None:
    client = request.client.host if request.client else "unknown"
    return None if portal.limits_by_ip.allow(client) else _too_many(portal.limits_by_ip, client)


@post("/portal/register", status_code=HTTP_202_ACCEPTED, request_max_body_size=MAX_PORTAL_BODY)
async def register(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """`{"email", "name"}`: the same answer for every address; the link comes by mail."""
    portal: PortalRegistrations = request.app.state.portal
    if (refused := _limited_by_ip(portal, request)) is not None:
        return refused
    try:
        data = await _json_object(request)
        email = _email(data.get("email"))
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInputError("name is required (at most 200 characters)")
    except DomainError as error:
        return _refused(error.message)
    if not portal.limits_by_address.allow(email):
        return _too_many(portal.limits_by_address, email)
    return Response({"status": "accepted", "message": REGISTERED},
                    status_code=HTTP_202_ACCEPTED,
                    background=BackgroundTask(_request_quietly, portal, email, name))


async def _request_quietly(portal: PortalRegistrations, email: str, name: str) -> None:
    try:
        await asyncio.to_thread(portal.request, email, name)
    except Exception:
        log.exception("a portal registration failed")


@post("/portal/confirm", status_code=HTTP_201_CREATED, request_max_body_size=MAX_PORTAL_BODY)
async def confirm(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """`{"token", "password"}`: the link's token makes the address a client user."""
    portal: PortalRegistrations = request.app.state.portal
    if (refused := _limited_by_ip(portal, request)) is not None:
        return refused
    try:
        data = await _json_object(request)
        token, password = data.get("token"), data.get("password")
        if not isinstance(token, str) or not token.strip() or len(token) > 200:
            raise InvalidInputError("token is required: the part after `#token=` in the link")
        if not isinstance(password, str):
            raise InvalidInputError("password is required")
        done = await asyncio.to_thread(portal.confirm, token.strip(), password)
    except DomainError as error:
        return _refused(error.message)
    except ValueError as error:  # the password policy
        return _refused(str(error))
    return Response({"status": "registered", **done}, status_code=HTTP_201_CREATED)
