"""What Carelog does with one Telegram update, however it arrived (webhook or long polling).

- a client's message (or an edit of one) goes to the `Inbox`: the chat's binding finds the
  account, and a chat nobody linked yet holds its messages as stray messages;
- `/link CODE` binds the chat to the room the code was issued for and is answered in the chat:
  on success with a notice recorded in the account's room (the outbound reactor sends it); on
  failure (a code expired, used or unknown) directly through the sender and recorded nowhere,
  since no account is known to record it for, and a redelivered failure at worst repeats it;
- a group that became a supergroup moves its binding to the new chat id;
- a forum topic created or renamed in a linked chat keeps its name for the case it opens
  (in a chat nobody linked it is ignored: the name reaches no room);
- anything else is ignored (other topic service messages among it: they open no case).

Each step is idempotent (deterministic ids), so an update applied twice changes nothing more.
"""

from __future__ import annotations

import logging

from api.inbox import Inbox
from domain.application import CareDesk
from domain.errors import DomainError
from domain.ports import MessageSender, OutboundMessage
from integrations.telegram.updates import (
    CHANNEL,
    ChatMigrated,
    Ignored,
    LinkRequest,
    ParsedUpdate,
    TelegramMessage,
    TopicNamed,
)

log = logging.getLogger(__name__)

ACTOR = "integration:telegram"


def linked_text(account_name: str) -> str:
    return (f"This chat is now linked to {account_name}'s room in Carelog: your messages here "
            "reach your account team, and their answers arrive here.")


class TelegramUpdates:
    """Applies parsed updates; `handle` returns what became of one (for logs and answers)."""

    def __init__(self, desk: CareDesk, inbox: Inbox, sender: MessageSender | None) -> None:
        self.desk = desk
        self.inbox = inbox
        self.sender = sender
        """Answers a failed `/link` directly; None when no bot token is configured."""

    def handle(self, update: ParsedUpdate) -> str:
        """`routed`, `held`, `duplicate`, `refused`, `linked`, `link refused`, `moved`,
        `named` or `ignored`, or `invalid` for a message the desk refuses (a retry would not help).
        Raises only on an outage of the store: the update is then delivered again."""
        if isinstance(update, TelegramMessage):
            try:
                return self.inbox.deliver(update.message, ACTOR).status
            except DomainError as error:
                log.warning("Telegram update %s not recorded: %s", update.update_id,
                            error.message)
                return "invalid"
        if isinstance(update, LinkRequest):
            return self._link(update)
        if isinstance(update, ChatMigrated):
            return self._migrate(update)
        if isinstance(update, TopicNamed):
            return self._name_topic(update)
        assert isinstance(update, Ignored)
        log.debug("Telegram update %s ignored: %s", update.update_id, update.reason)
        return "ignored"

    def _link(self, request: LinkRequest) -> str:
        try:
            linked = self.desk.redeem_link_code(
                code=request.code, channel=CHANNEL, conversation=request.chat_id,
                title=request.chat_title or request.sender_name, actor=ACTOR,
                occurred_at=request.occurred_at)
        except DomainError as error:
            log.info("/link in Telegram chat %s refused: %s", request.chat_id, error.message)
            self._answer_directly(request, f"Carelog could not link this chat: "
                                           f"{error.message}.")
            return "link refused"
        account_id = linked.ids["accountId"]
        try:
            self.desk.send_notice(
                account_id=account_id, channel=CHANNEL, conversation=request.chat_id,
                text=linked_text(self.desk.account(account_id).name),
                reply_to=f"link:{request.chat_id}:{request.update_id}", actor=ACTOR)
        except DomainError as error:
            log.warning("chat %s linked, but not told so: %s", request.chat_id, error.message)
        return "duplicate" if linked.duplicate else "linked"

    def _answer_directly(self, request: LinkRequest, text: str) -> None:
        if self.sender is None:
            return
        receipt = self.sender.send(OutboundMessage(
            channel=CHANNEL, conversation=request.chat_id, text=text,
            message_id=f"link-refused:{request.update_id}"))
        if not receipt.delivered:
            log.warning("could not answer /link in chat %s: %s", request.chat_id,
                        receipt.error)

    def _migrate(self, update: ChatMigrated) -> str:
        try:
            moved = self.desk.move_conversation(channel=CHANNEL, old=update.old_chat_id,
                                                new=update.new_chat_id, actor=ACTOR)
        except DomainError as error:  # a chat never linked, or linked anew already
            log.info("Telegram chat %s moved to %s; binding not moved: %s",
                     update.old_chat_id, update.new_chat_id, error.message)
            return "ignored"
        return "duplicate" if moved.duplicate else "moved"

    def _name_topic(self, update: TopicNamed) -> str:
        try:
            named = self.desk.name_topic(channel=CHANNEL, conversation=update.conversation,
                                         name=update.name, actor=ACTOR,
                                         occurred_at=update.occurred_at)
        except DomainError as error:  # a chat nobody linked, or a name it cannot keep
            log.info("Telegram topic %s not named: %s", update.conversation, error.message)
            return "ignored"
        return "duplicate" if named.duplicate else "named"
