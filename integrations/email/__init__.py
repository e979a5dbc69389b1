"""Email channel: reading inbound RFC 5322 mail, signed Message-IDs, loop guards, SMTP out."""
