"""One Telegram Bot API `Update` read into what Carelog does with it.

An update becomes a `TelegramMessage` (a client's message or an edit of one, as an
`InboundMessage`), a `LinkRequest` (`/link CODE` binding a group to an account's room), a
`ChatMigrated` (a group upgraded to a supergroup: its chat id changes), a `TopicNamed` (a forum
topic created or renamed), or `Ignored`. A message in a forum topic (`is_topic_message`) is said
in the conversation `<chat_id>/<message_thread_id>`; the General topic's messages carry no
thread id and are said in the chat itself, like any group's. Ids are
derived from Telegram's own (`<chat_id>:<message_id>`), so an update delivered twice reads the
same and is stored once downstream. Shapes follow https://core.telegram.org/bots/api#update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard

from domain.conversation import in_topic
from domain.errors import InvalidInputError
from domain.ports import Attachment, InboundMessage

CHANNEL = "telegram"
ChatType = Literal["private", "group", "supergroup", "channel"]
_CHAT_TYPES: frozenset[str] = frozenset({"private", "group", "supergroup", "channel"})
_LINK = re.compile(r"^/link(?:@(?P<bot>\w+))?(?:\s+(?P<code>.*?))?\s*$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_SERVICE_KEYS = (
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
    "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
    "channel_chat_created", "migrate_from_chat_id", "pinned_message",
    "message_auto_delete_timer_changed", "forum_topic_created", "forum_topic_edited",
    "forum_topic_closed", "forum_topic_reopened", "video_chat_started", "video_chat_ended",
    "video_chat_scheduled", "video_chat_participants_invited", "write_access_allowed",
    "users_shared", "chat_shared", "boost_added", "chat_background_set",
)
_MAX_FILENAME = 255


class InvalidUpdateError(InvalidInputError):
    """The update is not shaped like a Bot API `Update`: nothing can be read from it."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who our bot is (from `getMe`): its own messages and commands for other bots are skipped."""

    id: int
    username: str
    reads_all_group_messages: bool = False
    """getMe's `can_read_all_group_messages`: with privacy mode on (Telegram's default), a bot
    in a group receives only commands and replies to its own messages, so rooms stay empty
    until privacy mode is turned off with @BotFather or the bot is made a group admin."""


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    """A client's message (or an edit of one) in a chat the bot is in."""

    update_id: int
    chat_type: ChatType
    chat_title: str | None
    message_id: int
    sent_at: datetime
    """The message's own `date`: chats are ordered by (sent_at, message_id), not arrival."""
    message: InboundMessage

    @property
    def order_key(self) -> tuple[datetime, int]:
        return (self.sent_at, self.message_id)

    @property
    def is_edit(self) -> bool:
        return self.message.edit_of is not None


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """`/link CODE` (or `/link@OurBot CODE`): bind this chat to the room the code was issued for."""

    update_id: int
    chat_id: str
    chat_type: ChatType
    chat_title: str | None
    code: str
    sender: str
    sender_name: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ChatMigrated:
    """A group became a supergroup: its binding must follow the new chat id."""

    update_id: int
    old_chat_id: str
    new_chat_id: str


@dataclass(frozen=True, slots=True)
class TopicNamed:
    """`forum_topic_created` or `forum_topic_edited` with a name: a case the topic opens
    takes it as its subject."""

    update_id: int
    conversation: str
    """`<chat_id>/<message_thread_id>`: the topic's conversation."""
    name: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Ignored:
    update_id: int
    reason: str


ParsedUpdate = TelegramMessage | LinkRequest | ChatMigrated | TopicNamed | Ignored


def parse_update(update: Any, bot: BotIdentity | None = None) -> ParsedUpdate:
    """Read one decoded `Update`; raises `InvalidUpdateError` for anything not shaped like one."""
    if not isinstance(update, dict):
        raise InvalidUpdateError("a Telegram update must be a JSON object")
    update_id = update.get("update_id")
    if not _is_int(update_id):
        raise InvalidUpdateError("the Telegram update has no integer update_id")
    if isinstance(update.get("message"), dict):
        return _message(update_id, update["message"], bot, edited=False)
    if isinstance(update.get("edited_message"), dict):
        return _message(update_id, update["edited_message"], bot, edited=True)
    kinds = sorted(k for k in update if k != "update_id")
    return Ignored(update_id, f"update kind not handled: {', '.join(kinds) or 'none'}")


def message_external_id(chat_id: int | str, message_id: int | str) -> str:
    """The id of a Telegram message in Carelog: unique per chat, stable across deliveries."""
    return f"{chat_id}:{message_id}"


def split_external_id(external_id: str) -> tuple[str, int] | None:
    """(chat id, message id) of `<chat_id>:<message_id>`; None for anything else."""
    chat, sep, message = external_id.partition(":")
    if not sep or not _looks_like_int(chat) or not message.isdigit():
        return None
    return chat, int(message)


def _message(update_id: int, raw: dict[str, Any], bot: BotIdentity | None,
             edited: bool) -> ParsedUpdate:
    chat = raw.get("chat")
    if not isinstance(chat, dict) or not _is_int(chat.get("id")):
        raise InvalidUpdateError("the Telegram message has no chat id")
    chat_type = chat.get("type")
    if chat_type not in _CHAT_TYPES:
        raise InvalidUpdateError(f"the Telegram chat type {chat_type!r} is unknown")
    message_id, date = raw.get("message_id"), raw.get("date")
    if not _is_int(message_id) or not _is_int(date):
        raise InvalidUpdateError("the Telegram message has no integer message_id and date")
    chat_id = str(chat["id"])
    if chat_type == "channel":
        return Ignored(update_id, "channel posts are not handled")
    if _is_int(raw.get("migrate_to_chat_id")):
        return ChatMigrated(update_id, chat_id, str(raw["migrate_to_chat_id"]))
    if raw.get("is_automatic_forward") is True:
        return Ignored(update_id, "a channel post forwarded into its discussion group")
    sender, sender_name, from_bot = _sender(raw)
    if bot is not None and sender == str(bot.id):
        return Ignored(update_id, "our own message")
    if from_bot:
        return Ignored(update_id, "a message from a bot")
    title = chat.get("title") if isinstance(chat.get("title"), str) else None
    sent_at = _time(date)
    text = _text(raw)
    if not edited and text is not None:
        link = _link_command(text, bot)
        if link is not None:
            if not link:
                return Ignored(update_id, "a /link command without a valid code")
            return LinkRequest(update_id, chat_id, chat_type, title, link, sender,
                               sender_name, sent_at)
        if text.startswith("/") and _addressed_elsewhere(text, bot):
            return Ignored(update_id, "a command for another bot")
    conversation = in_topic(chat_id, _topic(raw))
    attachments, file_label = _attachments(raw)
    if text is None and file_label is None:
        named = _topic_name(raw)
        if named is not None and conversation != chat_id and not edited:
            return TopicNamed(update_id, conversation, named, sent_at)
        service = next((k for k in _SERVICE_KEYS if k in raw), None)
        if service is not None:
            return Ignored(update_id, f"service message: {service}")
        return Ignored(update_id, "a message without text or a file we record")
    external_id = message_external_id(chat_id, message_id)
    edit_of: str | None = None
    occurred_at = sent_at
    if edited:
        edit_date = raw.get("edit_date")
        if not _is_int(edit_date):
            raise InvalidUpdateError("the edited Telegram message has no integer edit_date")
        edit_of, external_id = external_id, f"{external_id}:edit:{edit_date}"
        occurred_at = _time(edit_date)
    inbound = InboundMessage(
        channel=CHANNEL, external_id=external_id, conversation=conversation, sender=sender,
        sender_name=sender_name, text=text if text is not None else file_label or "",
        occurred_at=occurred_at, thread=_thread(chat_id, raw), edit_of=edit_of,
        attachments=attachments)
    return TelegramMessage(update_id, chat_type, title, message_id, sent_at, inbound)


def _sender(raw: dict[str, Any]) -> tuple[str, str, bool]:
    """(id, display name, is a bot); an anonymous group admin speaks as the chat itself."""
    sender_chat = raw.get("sender_chat")
    if isinstance(sender_chat, dict) and _is_int(sender_chat.get("id")):
        name = sender_chat.get("title") or sender_chat.get("username") or str(sender_chat["id"])
        return str(sender_chat["id"]), str(name), False
    user = raw.get("from")
    if not isinstance(user, dict) or not _is_int(user.get("id")):
        raise InvalidUpdateError("the Telegram message has no sender")
    parts = [p for p in (user.get("first_name"), user.get("last_name"))
             if isinstance(p, str) and p.strip()]
    name = " ".join(p.strip() for p in parts)
    if not name:
        username = user.get("username")
        name = f"@{username}" if isinstance(username, str) and username else str(user["id"])
    return str(user["id"]), name, user.get("is_bot") is True


def _text(raw: dict[str, Any]) -> str | None:
    for key in ("text", "caption"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _link_command(text: str, bot: BotIdentity | None) -> str | None:
    """The code of a `/link` meant for us ("" when it has none or a malformed one); None when
    the text is not a `/link` command for us."""
    match = _LINK.match(text.strip())
    if match is None:
        return None
    addressed = match.group("bot")
    if addressed and bot is not None and addressed.lower() != bot.username.lower():
        return None
    code = match.group("code") or ""
    return code if _CODE.match(code) else ""


def _addressed_elsewhere(text: str, bot: BotIdentity | None) -> bool:
    command = text.split(maxsplit=1)[0]
    _, at, addressed = command.partition("@")
    return bool(at and bot is not None and addressed.lower() != bot.username.lower())


def _attachments(raw: dict[str, Any]) -> tuple[tuple[Attachment, ...], str | None]:
    """Metadata of the message's file (the content is not fetched) and the text that names it
    in the room when the client sent no caption ("[photo]", "[document: report.pdf]")."""
    photo = raw.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        largest = photo[-1]  # PhotoSize list, smallest first
        return (Attachment("photo.jpg", "image/jpeg", _size(largest)),), "[photo]"
    for key, default_name, default_type in (
            ("document", "document", "application/octet-stream"),
            ("voice", "voice.ogg", "audio/ogg"),
            ("audio", "audio", "audio/mpeg"),
            ("video", "video.mp4", "video/mp4"),
            ("video_note", "video_note.mp4", "video/mp4"),
            ("animation", "animation.mp4", "video/mp4"),
            ("sticker", "sticker.webp", "image/webp")):
        file = raw.get(key)
        if isinstance(file, dict):
            name = _filename(file.get("file_name"), default_name)
            content_type = file.get("mime_type")
            if not isinstance(content_type, str) or "/" not in content_type:
                content_type = default_type
            label = f"[{key}: {name}]" if key == "document" else f"[{key.replace('_', ' ')}]"
            if key == "sticker" and isinstance(file.get("emoji"), str):
                label = f"[sticker {file['emoji']}]"
            return (Attachment(name, content_type, _size(file)),), label
    return (), None


def _filename(raw: Any, default: str) -> str:
    """The client's file name without any path, control characters or excess length."""
    if not isinstance(raw, str):
        return default
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().lstrip(".")
    return name[:_MAX_FILENAME] or default


def _size(file: dict[str, Any]) -> int:
    size = file.get("file_size")
    return size if _is_int(size) and size >= 0 else 0


def _thread(chat_id: str, raw: dict[str, Any]) -> tuple[str, ...]:
    reply = raw.get("reply_to_message")
    if not isinstance(reply, dict) or not _is_int(reply.get("message_id")):
        return ()
    if "forum_topic_created" in reply:  # a forum topic's messages "reply" to its first message
        return ()
    return (message_external_id(chat_id, reply["message_id"]),)


def _topic(raw: dict[str, Any]) -> str | None:
    """The forum topic a message is in; None outside forums and in the General topic.
    A reply in a supergroup that is not a forum carries a `message_thread_id` too, without
    `is_topic_message`: it stays in the chat."""
    thread = raw.get("message_thread_id")
    if raw.get("is_topic_message") is not True or not _is_int(thread):
        return None
    return str(thread)


def _topic_name(raw: dict[str, Any]) -> str | None:
    """The name a `forum_topic_created` gives, or a `forum_topic_edited` changes to."""
    for key in ("forum_topic_created", "forum_topic_edited"):
        service = raw.get(key)
        if isinstance(service, dict):
            name = service.get("name")
            return name.strip() if isinstance(name, str) and name.strip() else None
    return None


def _time(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidUpdateError("the Telegram message date is out of range") from None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _looks_like_int(text: str) -> bool:
    return text.removeprefix("-").isdigit()
