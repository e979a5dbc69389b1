"""HTTP entry points of the client channels: the web form, call logs and raw mail.

Each turns its request into an `InboundMessage` and hands it to the `Inbox`, which finds the
account and routes the message to its case (or holds it as a stray message).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Request, post
from litestar.response import Response
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_202_ACCEPTED,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
)

from api.auth import Action, ForbiddenError, UnauthenticatedError, authorize
from api.graphql.context import viewer_of_request
from api.inbox import Delivery
from api.services import Services
from domain.account import clean_name
from domain.application import RefusedChannelError
from domain.errors import DomainError, InvalidInputError
from domain.interaction import clean_text
from domain.ports import InboundMessage
from domain.values import Channel
from integrations.email.case_tags import case_ref
from integrations.email.parsing import MailTooLargeError

FORM_ACTOR = "integration:web-form"
TELEPHONY_ACTOR = "integration:telephony"
_EMAIL_MAX = 254
MAX_FORM_BODY = 256 * 1024
"""A web form or call log: its longest text (32,000 characters) fits four times over."""


@dataclass(frozen=True, slots=True)
class WebForm:
    name: str
    email: str
    company: str
    subject: str
    text: str

    @classmethod
    def read(cls, data: Any) -> WebForm:
        if not isinstance(data, dict):
            raise InvalidInputError("send a JSON object or a form with name, email, company, "
                                    "subject and text")
        values = {}
        for name in ("name", "email", "company", "subject", "text"):
            value = data.get(name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{name} is required")
            values[name] = value
        email = values["email"].strip().lower()
        if "@" not in email or len(email) > _EMAIL_MAX or any(c.isspace() for c in email):
            raise InvalidInputError(f"{values['email']!r} is not an email address")
        return cls(name=clean_name(values["name"], "name"), email=email,
                   company=clean_name(values["company"], "company"),
                   subject=clean_name(values["subject"], "subject", 300),
                   text=clean_text(values["text"]))

    def message(self, at: datetime) -> InboundMessage:
        # The same request sent twice (a double click, a retry) is one request.
        digest = hashlib.sha256("\x00".join(
            (self.email, self.subject, self.text)).encode()).hexdigest()[:32]
        return InboundMessage(
            channel=Channel.WEB_FORM.value, external_id=f"form:{digest}",
            conversation=self.email, sender=self.email, sender_name=self.name,
            text=self.text, occurred_at=at, subject=self.subject)


def case_reference(case_id: Any) -> str:
    """The short reference a client quotes: `CL-` and the case id's first 8 hex digits (the
    tag mail subjects carry, `integrations.email.case_tags`)."""
    return case_ref(UUID(str(case_id)))


@post("/forms/request", status_code=HTTP_200_OK, request_max_body_size=MAX_FORM_BODY)
async def web_form(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """A request from the public web form: answered with the case reference."""
    services: Services = request.app.state.services
    client = request.client.host if request.client else "unknown"
    if not services.form_limits_by_ip.allow(client):
        return _too_many(services.form_limits_by_ip.retry_after(client))
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = await request.json()
        else:
            data = dict(await request.form())
        form = WebForm.read(data)
    except DomainError as error:
        return _invalid(error.message)
    except ValueError:
        return _invalid("the body is not valid JSON")
    if not services.form_limits_by_address.allow(form.email):
        return _too_many(services.form_limits_by_address.retry_after(form.email))
    delivery = await _deliver(services, form.message(services.desk.clock.now()),
                              FORM_ACTOR)
    return _answer(delivery)


@post("/calls", status_code=HTTP_200_OK, request_max_body_size=MAX_FORM_BODY)
async def call_log(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """A call posted by a telephony system; the caller's number finds the contact.

    The system signs in like any machine: an API token of a staff user who may work cases
    (outside production and before any user exists, the development rule applies)."""
    services: Services = request.app.state.services
    try:
        authorize(await viewer_of_request(request), Action.WORK_CASES)
    except UnauthenticatedError as error:
        return Response({"status": "refused", "error": error.message},
                        status_code=HTTP_401_UNAUTHORIZED)
    except ForbiddenError as error:
        return Response({"status": "refused", "error": error.message},
                        status_code=HTTP_403_FORBIDDEN)
    try:
        data = await request.json()
        if not isinstance(data, dict):
            raise InvalidInputError("send a JSON object")
        call = _CallLog.read(data)
        match = await services.read(services.directory.find_phone, call.number)
        accounts = {m.account_id for m in match}
        if len(accounts) != 1:
            message = InboundMessage(
                channel=Channel.PHONE.value, external_id=call.call_id,
                conversation=call.number, sender=call.number, sender_name=call.number,
                text=call.notes, occurred_at=call.at or services.desk.clock.now())
            reason = ("no contact has this number" if not accounts
                      else "the number belongs to several accounts")
            result = await services.command(services.desk.hold_stray_message, message=message,
                                            reason=reason, actor=TELEPHONY_ACTOR)
            return _answer(Delivery.of(result, "held", reason))
        result = await services.command(
            services.desk.log_call, account_id=match[0].account_id, direction=call.direction,
            number=call.number, duration_seconds=call.duration, outcome=call.outcome,
            notes=call.notes, ivr_choice=call.ivr_choice, contact_id=match[0].contact_id,
            call_id=call.call_id, agent=call.agent, occurred_at=call.at, actor=TELEPHONY_ACTOR)
    except RefusedChannelError as refused:  # the call is on record all the same
        return _answer(Delivery.refused(refused))
    except DomainError as error:
        return _invalid(error.message)
    except ValueError:
        return _invalid("the body is not valid JSON")
    return _answer(Delivery.of(result))


INBOUND_SECRET_HEADER = "X-Carelog-Inbound-Secret"


@post("/inbound/email", status_code=HTTP_200_OK, request_max_body_size=64 * 1024 * 1024)
async def inbound_email(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """One raw RFC 5322 mail (`message/rfc822`) from a mail gateway."""
    services: Services = request.app.state.services
    runtime = request.app.state.runtime
    settings = services.settings.email
    if settings.inbound_secret is not None and not hmac.compare_digest(
            (request.headers.get(INBOUND_SECRET_HEADER) or "").encode(),
            settings.inbound_secret.value.encode()):
        services.webhook_rejections += 1
        return Response({"status": "refused"}, status_code=HTTP_401_UNAUTHORIZED)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_bytes:
        return _too_large(int(declared), settings.max_bytes)
    raw = await request.body()
    if not raw.strip():
        return _invalid("the body must be one raw mail")
    try:
        delivery = await asyncio.to_thread(runtime.email.receive, raw)
    except MailTooLargeError as error:
        return _too_large(error.size, error.limit)
    except RefusedChannelError as refused:
        delivery = Delivery.refused(refused)
    finally:
        services.after_write()
    return _answer(delivery)


def _too_large(size: int, limit: int) -> Response[dict[str, Any]]:
    return Response({"status": "too_large", "error": f"the mail has {size:,} bytes; the limit "
                                                     f"is {limit:,}"},
                    status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE)


@dataclass(frozen=True, slots=True)
class _CallLog:
    call_id: str
    direction: str
    number: str
    duration: int
    outcome: str
    notes: str
    ivr_choice: str | None
    agent: str | None
    at: datetime | None

    @classmethod
    def read(cls, data: dict[str, Any]) -> _CallLog:
        def text(name: str, required: bool = True) -> str | None:
            value = data.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{name} is required and must be text")
            return value.strip()

        duration = data.get("durationSeconds")
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise InvalidInputError("durationSeconds is required and must be a whole number")
        at_text = text("occurredAt", required=False)
        try:
            at = datetime.fromisoformat(at_text) if at_text else None
        except ValueError:
            raise InvalidInputError("occurredAt must be an ISO 8601 time") from None
        return cls(call_id=text("callId") or "", direction=text("direction") or "",
                   number=text("number") or "", duration=duration,
                   outcome=text("outcome") or "",
                   notes=text("notes", required=False) or "(no notes)",
                   ivr_choice=text("ivrChoice", required=False),
                   agent=text("agent", required=False), at=at)


async def _deliver(services: Services, message: InboundMessage,
                   actor: str) -> Delivery:
    try:
        return await asyncio.to_thread(services.inbox.deliver, message, actor)
    finally:
        services.after_write()


def _answer(delivery: Delivery) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status": delivery.status, "notificationId":
                            delivery.notification_id}
    case_id = delivery.ids.get("caseId")
    if case_id is not None:
        body["caseId"] = str(case_id)
        body["reference"] = case_reference(case_id)
    if "interactionId" in delivery.ids:
        body["interactionId"] = str(delivery.ids["interactionId"])
    if delivery.status == "held":
        body["reference"] = case_reference(delivery.ids["strayMessageId"])
        body["message"] = "Thank you: your request is with our team."
    if delivery.allowed_channels:
        body["allowedChannels"] = delivery.allowed_channels
        body["message"] = delivery.reason
    code = HTTP_202_ACCEPTED if delivery.status == "held" else HTTP_200_OK
    return Response(body, status_code=code)


def _invalid(error: str) -> Response[dict[str, Any]]:
    return Response({"status": "invalid", "error": error}, status_code=HTTP_400_BAD_REQUEST)


def _too_many(retry_after: float) -> Response[dict[str, Any]]:
    return Response({"status": "rate_limited", "error": "too many requests; try again later"},
                    status_code=HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(max(1, round(retry_after)))})
