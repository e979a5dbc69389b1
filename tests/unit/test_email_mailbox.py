"""The `Mailbox` facade reads with its settings and signs with its secret."""

from __future__ import annotations

from uuid import UUID

import pytest

from integrations.email.mailbox import Mailbox
from integrations.email.parsing import MailTooLargeError
from tests import mail_corpus as corpus

CASE = UUID("1a2b3c4d-5e6f-4a0b-8c0d-112233445566")
MAILBOX = Mailbox(secret="s3cret", domain="carelog.example",
                  staff_domains=frozenset({"carelog.example"}),
                  trusted_authserv_id="mx.carelog.example", max_bytes=1_000_000,
                  max_recipients=10)


def test_reads_with_its_limits():
    assert MAILBOX.read(corpus.many_recipients(20)).message.flagged == (
        "21 recipients (more than 10)")
    with pytest.raises(MailTooLargeError):
        MAILBOX.read(corpus.huge_mail(2_000_000))


def test_a_client_reply_to_our_mail_names_the_case_but_is_no_agent_reply():
    ours = MAILBOX.message_id(CASE, "42")
    mail = MAILBOX.read(corpus.GMAIL_ALTERNATIVE.replace(
        b"<case.4567@carelog.example>", f"<{ours}>".encode()))
    assert MAILBOX.case_of_reply(mail) == CASE
    assert MAILBOX.agent_reply_case(mail) is None


def test_an_authenticated_agent_reply_names_the_case():
    mail = MAILBOX.read(corpus.agent_reply(
        "mx.carelog.example; dmarc=pass header.from=carelog.example",
        MAILBOX.message_id(CASE, "42")))
    assert MAILBOX.agent_reply_case(mail) == CASE
    other = Mailbox(secret="other", domain="carelog.example")
    assert other.agent_reply_case(mail) is None


def test_secret_is_not_in_the_repr():
    assert "s3cret" not in repr(MAILBOX)
    assert MAILBOX.reply_subject("AW: Hi", CASE) == "Re: Hi [CL-1A2B3C4D]"
