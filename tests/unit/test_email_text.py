"""Body text helpers: HTML reduced to text, quoted history trimmed, ids read leniently."""

from __future__ import annotations

import pytest

from integrations.email.html_text import html_to_text
from integrations.email.parsing import read_mail
from integrations.email.quotes import trim_quoted
from tests import mail_corpus as corpus


@pytest.mark.parametrize(("html", "text"), [
    ("<p>a &lt;b&gt; &#8364;5</p>", "a <b> €5"),
    ("<div>x<script>never()</div>", "x"),
    ("<style>p{}</style><p>one</p><p>two</p>", "one\n\ntwo"),
    ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\n\nc"),
    ("<p>reply</p><blockquote><p>old</p></blockquote>", "reply\n\n> old"),
    ('<a href="javascript:x()">link</a><!-- hidden --><noscript>ns</noscript>', "link"),
])
def test_html_becomes_plain_text(html: str, text: str):
    assert html_to_text(html) == text


@pytest.mark.parametrize(("mail", "new"), [
    ("Merci.\n\nLe lun. 2 mars 2026 à 10:00, Support <s@x> a écrit :\n> old", "Merci."),
    ("Ok\nFrom: Support <s@x>\nDate: Monday\nold", "Ok"),
    ("Ok\n-----Ursprüngliche Nachricht-----\nVon: x", "Ok"),
    ("From: me, about the report: it fails.", "From: me, about the report: it fails."),
    ("On second thought, it works.", "On second thought, it works."),
])
def test_quoted_history_styles(mail: str, new: str):
    assert trim_quoted(mail) == new


def test_a_message_id_without_brackets_is_still_the_id():
    raw = corpus.NO_MESSAGE_ID.replace(b"Subject: No id",
                                       b"Message-ID: bare-123@old-mailer.example\r\nSubject: x")
    message = read_mail(raw, trusted_authserv_id=None, staff_domains=frozenset()).message
    assert message.external_id == "bare-123@old-mailer.example"
