"""How the words of other systems map to Carelog's tiers, priorities, channels and ratings."""

from __future__ import annotations

TIERS = {
    "vip": "vip", "strategic": "vip", "key": "vip",
    "enterprise": "enterprise", "premium": "enterprise",
    "business": "business", "professional": "business", "pro": "business", "growth": "business",
    "standard": "standard", "basic": "standard", "starter": "standard", "free": "standard",
}

PRIORITIES = {
    "urgent": "urgent", "critical": "urgent", "high": "high", "normal": "normal",
    "medium": "normal", "low": "low",
}

CHANNELS = {
    "email": "email", "mail": "email", "e_mail": "email",
    "telegram": "telegram",
    "web_chat": "web_chat", "chat": "web_chat", "messaging": "web_chat", "live_chat": "web_chat",
    "portal": "portal", "help_center": "portal", "web": "web_form",
    "phone": "phone", "voice": "phone", "call": "phone",
    "web_form": "web_form", "form": "web_form",
    "api": "api",
}

ROLES = {
    "user": "user", "champion": "champion", "executive_sponsor": "executive_sponsor",
    "sponsor": "executive_sponsor", "billing": "billing",
}

DIRECTIONS = {"inbound": "inbound", "in": "inbound", "incoming": "inbound",
              "outbound": "outbound", "out": "outbound", "outgoing": "outbound"}

# Zendesk `via.channel` values to ours; anything else arrived through the API.
ZENDESK_CHANNELS = {
    "email": "email", "web": "web_form", "chat": "web_chat", "native_messaging": "web_chat",
    "messaging": "web_chat", "voice": "phone", "api": "api", "telegram": "telegram",
    "help_center": "portal", "web_widget": "web_chat", "mobile_sdk": "api", "sms": "phone",
}
# Zendesk rates good or bad: CSAT counts 4-5 as satisfied, so good is 5 and bad is 1, which
# keeps Zendesk's own satisfaction score (good / (good + bad)).
ZENDESK_SCORES = {"good": 5, "bad": 1}

# Freshdesk `source` codes.
FRESHDESK_CHANNELS = {1: "email", 2: "portal", 3: "phone", 4: "portal", 5: "api", 6: "api",
                      7: "web_chat", 8: "api", 9: "web_form", 10: "email"}
FRESHDESK_PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
# Freshdesk satisfaction answers (103 extremely happy ... -103 extremely unhappy) on 1-5.
FRESHDESK_SCORES = {103: 5, 102: 4, 101: 4, 100: 3, -101: 2, -102: 2, -103: 1}
