"""The email channel wired in: client mail in (the route, the SMTP listener), replies out.

Mail in: read safely (`integrations.email`), matched to its case through a reference to one of
our own signed Message-IDs or a case tag in the subject, and handed to the `Inbox`. A client
whose mail opens a case gets one acknowledgement naming its reference, unless the mail is
automated (RFC 3834 and friends) or the sender had too many automatic answers this hour: two
auto-responders never ping-pong. Mail claiming a staff address without passing DMARC at our own
server matches no client and is held for review: never taken as an agent's reply (C9).

Replies out: `EmailReplies` turns an outbound interaction into a threaded mail (subject
`Re: … [CL-1A2B3C4D]`, our signed Message-ID, `In-Reply-To` and `References` from the case's
mail) and hands it to SMTP.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from uuid import UUID

from api.inbox import Delivery, Inbox
from domain.application import CareDesk
from domain.case import Case
from domain.ports import Clock, DeliveryReceipt, MessageSender, OutboundMessage
from domain.values import Channel
from integrations.email.case_tags import case_ref
from integrations.email.loops import SenderRateLimit, should_auto_answer
from integrations.email.mailbox import Mailbox
from integrations.email.smtp_sender import SmtpConfig, SmtpSender
from integrations.settings import EmailSettings
from projections.rooms import RoomsView

log = logging.getLogger(__name__)

ACTOR = "integration:email"
MAX_REFERENCES = 20


def mailbox_for(settings: EmailSettings) -> Mailbox:
    return Mailbox(secret=settings.signing_secret, domain=settings.domain,
                   staff_domains=settings.staff_domains,
                   trusted_authserv_id=settings.authserv_id, max_bytes=settings.max_bytes)


class EmailInbox:
    """Reads one raw mail and routes it; shared by the HTTP route and the SMTP listener."""

    def __init__(self, settings: EmailSettings, desk: CareDesk, inbox: Inbox,
                 clock: Clock) -> None:
        self.mailbox = mailbox_for(settings)
        self.desk = desk
        self.inbox = inbox
        self.clock = clock
        self.acknowledgements = SenderRateLimit(clock)

    def receive(self, raw: bytes) -> Delivery:
        """Route one mail; raises `MailTooLargeError` (before parsing) and nothing else odd."""
        mail = self.mailbox.read(raw, received_at=self.clock.now())
        message = mail.message
        signed = self.mailbox.case_of_reply(mail)
        if signed is not None:
            message = replace(message, case_ref=str(signed))
        delivery = self.inbox.deliver(message, ACTOR)
        case_id = delivery.ids.get("caseId")
        interaction_id = delivery.ids.get("interactionId")
        opened = (delivery.status == "routed" and case_id is not None
                  and interaction_id is not None and Case.id_for(interaction_id) == case_id)
        if (opened and case_id is not None and should_auto_answer(message)
                and self.acknowledgements.try_acquire(message.sender)):
            case = self.desk.case(case_id)
            self.desk.send_notice(
                account_id=case.account_id, channel=Channel.EMAIL.value,
                conversation=message.sender, case_id=case_id, reply_to=message.external_id,
                text=(f"Thank you for your message. We have opened request {case_ref(case_id)}"
                      " and will answer you soon. Reply to this mail to add to it."),
                actor=ACTOR)
        return delivery


class EmailReplies:
    """`MessageSender` for email: threads each outbound message, then sends it over SMTP."""

    channel = Channel.EMAIL.value

    def __init__(self, smtp: MessageSender, desk: CareDesk, rooms: RoomsView,
                 mailbox: Mailbox) -> None:
        self.smtp = smtp
        self.desk = desk
        self.rooms = rooms
        self.mailbox = mailbox

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        interaction = self.desk.interaction(UUID(message.message_id))
        case_id = interaction.case_id
        if case_id is None:
            return self.smtp.send(replace(
                message, message_id=f"{interaction.id.hex}@{self.mailbox.domain}",
                subject=message.subject or "A message from your support team",
                automated=interaction.automated))
        case = self.desk.case(case_id)
        thread = [t for t in self.rooms.thread(str(case_id), Channel.EMAIL.value)
                  if t["id"] != str(interaction.id)]
        inbound = [t["external_id"] for t in thread if t["direction"] == "inbound"]
        return self.smtp.send(replace(
            message, message_id=self.mailbox.message_id(case_id, interaction.id.hex),
            subject=self.mailbox.reply_subject(case.subject, case_id),
            in_reply_to=inbound[-1] if inbound else None,
            references=tuple(t["external_id"] for t in thread)[-MAX_REFERENCES:],
            automated=interaction.automated))


def smtp_sender(settings: EmailSettings, clock: Clock) -> SmtpSender:
    return SmtpSender(SmtpConfig(
        host=settings.smtp_host or "", port=settings.smtp_port,
        security=settings.smtp_security,  # type: ignore[arg-type]
        username=settings.smtp_user,
        password=settings.smtp_password.value if settings.smtp_password else None,
        from_address=settings.from_address, from_name=settings.from_name), clock)
