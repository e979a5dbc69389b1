"""Reading raw mail: bodies, charsets, quotes, attachments, ids, automation and review flags."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import UUID

import pytest

from integrations.email.message_ids import outbound_message_id
from integrations.email.parsing import MailTooLargeError, ReadMail, read_mail
from tests import mail_corpus as corpus

RECEIVED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STAFF = frozenset({"carelog.example"})
MX = "mx.carelog.example"
SECRET = "test-secret"
CASE = UUID("1a2b3c4d-0000-4000-8000-00000000abcd")


def read(raw: bytes, **kwargs: object) -> ReadMail:
    options: dict[str, object] = {"trusted_authserv_id": MX, "staff_domains": STAFF,
                                  "received_at": RECEIVED}
    options.update(kwargs)
    return read_mail(raw, **options)  # type: ignore[arg-type]


def test_gmail_alternative_prefers_plain_text_and_trims_the_wrapped_attribution():
    mail = read(corpus.GMAIL_ALTERNATIVE)
    m = mail.message
    assert m.channel == "email"
    assert m.text == "Grüße, der Login geht wieder."
    assert m.external_id == "CAFk3=mT9+Qx_2v@mail.gmail.example"
    assert m.sender == m.conversation == "juergen.mueller@acme.example"
    assert m.sender_name == "Jürgen Müller"
    assert m.subject == "Re: Login geht nicht [CL-1a2b3c4d]"
    assert m.case_ref == "CL-1A2B3C4D"
    assert m.thread == ("case.0123@carelog.example", "case.4567@carelog.example")
    assert m.occurred_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert mail.recipients == ("support@carelog.example", "it@acme.example")
    assert (m.automated, m.flagged, m.attachments) == (False, None, ())
    assert not mail.claims_staff


def test_outlook_quoted_printable_windows_1252_drops_the_original_message():
    m = read(corpus.OUTLOOK_QP_CP1252).message
    assert m.text == ("Guten Tag, die Rechnung über 50 € ist doppelt \u2013 bitte prüfen.\n\n"
                      "Mit freundlichen Grüßen\nAnna Schmidt")
    assert m.sender_name == "Schmidt, Anna"
    assert m.case_ref == "CL-00AB12CD"
    assert m.thread == ("case.89ab@carelog.example",)
    assert m.flagged is None


def test_koi8_r_body_subject_and_name_are_decoded():
    m = read(corpus.KOI8_R).message
    assert m.text == "привет, счёт не пришёл"
    assert m.subject == "Счёт не пришёл"
    assert m.sender_name == "Иван Петров"
    assert m.occurred_at == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def test_iso_2022_jp_is_decoded():
    m = read(corpus.ISO_2022_JP).message
    assert m.text == "請求書が届きません。"
    assert m.subject == "請求書が届きません"
    assert m.flagged is None


def test_base64_html_becomes_text_without_scripts_styles_or_markup():
    m = read(corpus.BASE64_HTML).message
    assert m.text == ("Hello team,\n\nthe export & the report fail with error 500.\n\n"
                      "Thanks\nMaria")
    for leftover in ("<", "script", "alert", "cookie", "color: red", "Invoice", "steal"):
        assert leftover not in m.text


@pytest.mark.parametrize(("raw", "text"), [
    (corpus.OUTLOOK_HEADER_REPLY, "Yes, please reset it."),
    (corpus.GERMAN_REPLY, "Danke, erledigt."),
    (corpus.INLINE_QUOTES, "Firefox 140.\n3.2.1"),
    (corpus.ONLY_QUOTED, "> the whole mail is a quote\n> of something else"),
])
def test_quoted_history_is_trimmed_unless_nothing_would_remain(raw: bytes, text: str):
    assert read(raw).message.text == text


def test_attachments_are_metadata_with_safe_names_and_decoded_sizes():
    m = read(corpus.WITH_ATTACHMENTS).message
    assert m.text == "See the screenshot and the invoice."
    assert [(a.filename, a.content_type, a.size) for a in m.attachments] == [
        ("unnamed", "image/png", corpus.PNG_SIZE),
        ("Rechnung März.pdf", "application/pdf", corpus.PDF_SIZE),
        ("usage.csv", "text/csv", len(b"month,logins\r\n2026-02,412")),
    ]


def test_broken_boundaries_keep_the_raw_text_without_markup_and_flag_it():
    m = read(corpus.BROKEN_BOUNDARY).message
    assert m.text == "The app crashes when I upload a file."
    assert m.flagged == ("broken MIME (MultipartInvariantViolationDefect, "
                         "StartBoundaryNotFoundDefect): raw text kept")


def test_an_unknown_charset_is_read_as_utf8_and_flagged():
    m = read(corpus.INVALID_CHARSET).message
    assert m.text == "Café ist geschlossen."
    assert m.flagged == "unknown charset 'x-klingon-8', read as UTF-8"


def test_a_non_text_codec_as_charset_falls_back_to_latin1():
    m = read(corpus.LATIN1_UNDER_BOGUS_CHARSET).message
    assert m.text == "Café geschlossen."
    assert m.flagged == "unknown charset 'base64', read as Latin-1"


def test_a_mail_without_message_id_gets_a_stable_id_from_its_bytes():
    first = read(corpus.NO_MESSAGE_ID).message
    again = read(corpus.NO_MESSAGE_ID).message
    other = read(corpus.NO_MESSAGE_ID.replace(b"Hello", b"Hallo")).message
    assert first.external_id == again.external_id
    assert first.external_id != other.external_id
    assert first.external_id.startswith("sha256.")
    assert first.occurred_at == RECEIVED


def test_five_thousand_recipients_are_flagged_quickly():
    started = time.perf_counter()
    mail = read(corpus.many_recipients(5000))
    assert time.perf_counter() - started < 5
    assert len(mail.recipients) == 5001
    assert mail.message.flagged == "5001 recipients (more than 100)"
    assert mail.message.text == "Hello everyone."


def test_a_30_mb_mail_is_refused_before_parsing():
    raw = corpus.huge_mail(30 * 1024 * 1024)
    with pytest.raises(MailTooLargeError) as refused:
        read(raw)
    assert refused.value.size == len(raw)
    assert refused.value.limit == 25 * 1024 * 1024


def test_a_large_mail_under_the_limit_is_read_with_its_attachment_size():
    m = read(corpus.huge_mail(5 * 1024 * 1024)).message
    assert m.text == "All logs attached."
    [logs] = m.attachments
    assert (logs.filename, logs.content_type) == ("logs.bin", "application/octet-stream")
    assert logs.size == corpus.huge_attachment_size(5 * 1024 * 1024) == 3_831_369


def test_the_date_header_may_not_lie_about_the_future():
    raw = corpus.NO_MESSAGE_ID.replace(b"Subject: No id",
                                       b"Date: Fri, 1 Jan 2100 00:00:00 +0000\r\nSubject: x")
    assert read(raw).message.occurred_at == RECEIVED


def test_garbage_bytes_never_raise():
    for raw in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
                b"From: <>\r\nContent-Type: text/html; charset=\"\r\n\r\n<script>x</script>"):
        mail = read(raw)
        assert "<script>" not in mail.message.text


@pytest.mark.parametrize(("headers", "reason"), [
    ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
    ('Auto-Submitted: auto-generated; owner-email="it@acme.example"',
     "Auto-Submitted: auto-generated"),
    ("X-Autoreply: yes", "X-Autoreply"),
    ("X-Autorespond: vacation", "X-Autorespond"),
    ("Precedence: bulk", "Precedence: bulk"),
    ("Precedence: junk", "Precedence: junk"),
    ("Precedence: list", "Precedence: list"),
    ("List-Id: Acme news <news.acme.example>", "List-Id"),
    ("Return-Path: <>", "Return-Path: <>"),
])
def test_automatic_mail_is_recognised(headers: str, reason: str):
    mail = read(corpus.auto_reply(headers))
    assert mail.message.automated
    assert mail.automation == reason


def test_bounces_from_mailer_daemon_and_delivery_reports_are_automatic():
    bounce = read(corpus.auto_reply("X-Note: bounce", sender="MAILER-DAEMON@mx.acme.example"))
    assert bounce.automation == "machine sender mailer-daemon@mx.acme.example"
    report = read(corpus.auto_reply(
        "MIME-Version: 1.0", sender="mail@mx.acme.example",
        content_type='multipart/report; report-type=delivery-status; boundary="r"')
        .replace(b"I am out", b"--r\r\nContent-Type: text/plain\r\n\r\nI am out") + b"--r--\r\n")
    assert report.automation == "delivery report (multipart/report)"


@pytest.mark.parametrize("headers", ["Auto-Submitted: no", "Precedence: first-class",
                                     "X-Mailer: Outlook"])
def test_mail_from_people_is_not_automatic(headers: str):
    mail = read(corpus.auto_reply(headers))
    assert not mail.message.automated
    assert mail.automation is None


def test_c9_staff_sender_failing_dmarc_is_flagged_and_no_agent_reply():
    notification = outbound_message_id(CASE, nonce="n1", secret=SECRET,
                                       domain="carelog.example")
    mail = read(corpus.agent_reply(
        "mx.carelog.example; spf=fail smtp.mailfrom=evil.example; dkim=none; "
        "dmarc=fail (p=REJECT) header.from=carelog.example", notification))
    assert mail.claims_staff
    assert not mail.staff_verified
    assert mail.message.flagged == ("claims staff sender sam@carelog.example but DMARC at our "
                                    "server is 'fail'")
    # the copied notification id checks, yet the sender is not proven: no agent reply
    assert mail.message.thread == (notification,)
    assert mail.agent_reply_case(SECRET) is None


def test_c9_authentication_results_of_another_authserv_id_are_ignored():
    notification = outbound_message_id(CASE, nonce="n1", secret=SECRET,
                                       domain="carelog.example")
    mail = read(corpus.agent_reply(
        "mx.carelog.example.evil.example; dkim=pass; dmarc=pass header.from=carelog.example",
        notification))
    assert not mail.staff_verified
    assert mail.message.flagged == ("claims staff sender sam@carelog.example but DMARC at our "
                                    "server is 'none'")
    assert mail.agent_reply_case(SECRET) is None


def test_c9_without_a_trusted_server_no_mail_proves_staff():
    notification = outbound_message_id(CASE, nonce="n1", secret=SECRET,
                                       domain="carelog.example")
    mail = read(corpus.agent_reply("mx.carelog.example; dmarc=pass header.from=carelog.example",
                                   notification), trusted_authserv_id=None)
    assert not mail.staff_verified
    assert mail.agent_reply_case(SECRET) is None


def test_authenticated_staff_reply_to_a_signed_notification_names_its_case():
    notification = outbound_message_id(CASE, nonce="n1", secret=SECRET,
                                       domain="carelog.example")
    mail = read(corpus.agent_reply(
        "mx.carelog.example; dkim=pass header.d=carelog.example; "
        "dmarc=pass (p=REJECT) header.from=carelog.example", notification))
    assert mail.staff_verified
    assert mail.message.flagged is None
    assert mail.agent_reply_case(SECRET) == CASE
    assert mail.agent_reply_case("another-secret") is None


def test_authenticated_staff_reply_with_a_forged_mac_names_no_case():
    forged = f"case.{CASE.hex}.n1.{'0' * 32}@carelog.example"
    mail = read(corpus.agent_reply("mx.carelog.example; dmarc=pass header.from=carelog.example",
                                   forged))
    assert mail.staff_verified
    assert mail.agent_reply_case(SECRET) is None


def test_dmarc_pass_for_another_from_domain_counts_as_fail():
    mail = read(corpus.agent_reply("mx.carelog.example; dmarc=pass header.from=evil.example",
                                   "x@y"))
    assert not mail.staff_verified
    assert mail.message.flagged == ("claims staff sender sam@carelog.example but DMARC at our "
                                    "server is 'fail'")


def test_an_encoded_display_name_cannot_smuggle_a_staff_address():
    raw = corpus.NO_MESSAGE_ID.replace(
        b"From: jack@acme.example",
        b"From: =?UTF-8?Q?Sam_<sam@carelog.example>?= <jack@acme.example>")
    mail = read(raw)
    assert mail.message.sender == "jack@acme.example"
    assert mail.message.sender_name == "Sam <sam@carelog.example>"
    assert not mail.claims_staff


def test_a_from_header_with_two_addresses_is_never_a_verified_staff_sender():
    raw = corpus.agent_reply("mx.carelog.example; dmarc=pass header.from=carelog.example",
                             outbound_message_id(CASE, nonce="n1", secret=SECRET,
                                                 domain="carelog.example"))
    raw = raw.replace(b"From: Sam Agent <sam@carelog.example>",
                      b"From: sam@carelog.example <jack@acme.example>")
    mail = read(raw)
    assert mail.message.sender == "sam@carelog.example"
    assert mail.message.flagged == "ambiguous From header"
    assert not mail.staff_verified
    assert mail.agent_reply_case(SECRET) is None


def test_a_staff_subdomain_claims_staff_too():
    raw = corpus.agent_reply("mx.carelog.example; dmarc=fail header.from=eu.carelog.example",
                             "x@y").replace(b"sam@carelog.example", b"sam@EU.carelog.example")
    mail = read(raw)
    assert mail.claims_staff
    assert mail.message.flagged == ("claims staff sender sam@eu.carelog.example but DMARC at "
                                    "our server is 'fail'")
