"""`Mailbox`: our side of the email channel in one object, built once from settings.

The `/inbound/email` route and the SMTP listener call `read`; the reply reactor calls
`message_id` and `reply_subject`; routing calls `agent_reply_case` before treating a mail as
an agent's reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from integrations.email import case_tags
from integrations.email.message_ids import case_from_thread, outbound_message_id
from integrations.email.parsing import MAX_BYTES, MAX_RECIPIENTS, ReadMail, read_mail


@dataclass(frozen=True)
class Mailbox:
    secret: str = field(repr=False)
    """Signs our Message-IDs; a reply names a case only through an id signed with it."""
    domain: str
    """The right-hand side of our Message-IDs (our mail domain)."""
    staff_domains: frozenset[str] = frozenset()
    """Mail domains of our agents: mail From them must pass DMARC at our server."""
    trusted_authserv_id: str | None = None
    """Our receiving server's authserv-id in Authentication-Results; None trusts none."""
    max_bytes: int = MAX_BYTES
    max_recipients: int = MAX_RECIPIENTS

    def read(self, raw: bytes, *, received_at: datetime | None = None) -> ReadMail:
        """See `parsing.read_mail`: raises `MailTooLargeError` only, flags the rest."""
        return read_mail(raw, trusted_authserv_id=self.trusted_authserv_id,
                         staff_domains=self.staff_domains, max_bytes=self.max_bytes,
                         max_recipients=self.max_recipients, received_at=received_at)

    def message_id(self, case_id: UUID, nonce: str) -> str:
        """The Message-ID of a mail we send about this case (same nonce, same id)."""
        return outbound_message_id(case_id, nonce=nonce, secret=self.secret, domain=self.domain)

    def case_of_reply(self, mail: ReadMail) -> UUID | None:
        """The case a mail answers through a verified reference to our own mail, or None."""
        return case_from_thread(mail.message.thread, self.secret)

    def agent_reply_case(self, mail: ReadMail) -> UUID | None:
        """The case an authenticated agent answers by mail; None: not an agent reply."""
        return mail.agent_reply_case(self.secret)

    @staticmethod
    def reply_subject(subject: str | None, case_id: UUID) -> str:
        return case_tags.reply_subject(subject, case_id)
