"""Telegram: Bot API updates read into inbound messages, the Bot API client and sender, its fake,
and the webhook's authentication."""
