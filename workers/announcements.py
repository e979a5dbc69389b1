"""The announcement reactor: tells every affected client about maintenance and incidents, and
links the cases they open meanwhile to the announcement.

Fan-out works from the `announcements` view (revisions not yet sent to everyone) and decides
from the Announcement aggregate, which records per account what it was sent (`Delivered`).
Each account gets, for each revision:

- a post in its room, always; the outbound delivery reactor sends room posts on to the
  Telegram chats linked to the room, as it does for every room post;
- an email to each active contact, when its plan includes email (through the same outbound
  delivery path, which records each message's delivery or failure).

The messages are named by announcement, revision and recipient, so a reactor that stopped
between sending and recording sends nothing twice: the store answers the repeat as a duplicate
and the reactor records what the first attempt made. A lease keeps it to one process.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from domain.announcement import Announcement
from domain.application import CareDesk
from domain.errors import DomainError
from domain.service_plans import plan_for
from domain.values import Channel, Tier
from integrations.settings import Settings
from projections.announcements import AnnouncementsView
from projections.directory import DirectoryView
from workers.lease import FileLease, Lease, PostgresLease

log = logging.getLogger(__name__)

ACTOR = "system:announcements"
AUTHOR = "Carelog"


class AnnouncementReactor:
    def __init__(self, desk: CareDesk, announcements: AnnouncementsView,
                 directory: DirectoryView) -> None:
        self.desk = desk
        self.announcements = announcements
        self.directory = directory

    def round(self) -> int:
        """Fan out what is due and link new cases; how many accounts and cases were done."""
        done = 0
        for announcement_id in self.announcements.needing_fan_out():
            try:
                done += self.fan_out(UUID(announcement_id))
            except DomainError as error:  # changed meanwhile: the next round sees it
                log.warning("fan-out of %s skipped: %s", announcement_id, error)
        for announcement_id in self.announcements.current():
            done += self.link_cases(UUID(announcement_id))
        return done

    def fan_out(self, announcement_id: UUID) -> int:
        """Send the announcement's current revision to each affected account not yet sent it."""
        announcement = self.desk.announcement(announcement_id)
        revision = announcement.revision
        if announcement.fanned_out >= revision:
            return 0
        affected = [(UUID(a), tier) for a, tier in self.announcements.audience_accounts()
                    if announcement.affects(UUID(a), tier)]
        sent_now = 0
        for account_id, tier in affected:
            if (revision, account_id) in announcement.delivered:
                continue
            sent, failed = self._send(announcement, account_id, tier)
            self.desk.record_announcement_delivery(
                announcement_id=announcement_id, revision=revision, account_id=account_id,
                sent=sent, failed=failed, actor=ACTOR)
            sent_now += 1
        self.desk.finish_announcement_fan_out(announcement_id=announcement_id,
                                              revision=revision, accounts=len(affected),
                                              actor=ACTOR)
        return sent_now

    def _send(self, announcement: Announcement, account_id: UUID,
              tier: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        key = f"announcement:{announcement.id}:{announcement.revision}"
        text = announcement.message
        sent: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        try:
            posted = self.desk.post_to_room(account_id=account_id, text=text, author=AUTHOR,
                                            actor=ACTOR, external_message_id=key)
        except DomainError as error:
            failed.append({"channel": Channel.ROOM.value, "recipient": str(account_id),
                           "error": error.message})
            return sent, failed
        room_post = str(posted.ids["interactionId"])
        sent.append({"channel": Channel.ROOM.value, "recipient": str(account_id),
                     "interactionId": room_post})
        for chat in self.directory.bound_chats(str(account_id), Channel.TELEGRAM.value):
            sent.append({"channel": Channel.TELEGRAM.value, "recipient": chat,
                         "interactionId": room_post})
        if not plan_for(Tier(tier)).allows(Channel.EMAIL):
            return sent, failed
        account = self.desk.account(account_id)
        for contact_id, contact in sorted(account.contacts.items()):
            if not contact.get("active", True) or not contact.get("email"):
                continue
            try:
                mailed = self.desk.send_notice(
                    account_id=account_id, channel=Channel.EMAIL.value,
                    conversation=contact["email"], text=text, actor=ACTOR,
                    reply_to=f"{key}:{contact_id}")
            except DomainError as error:
                failed.append({"channel": Channel.EMAIL.value, "recipient": contact["email"],
                               "error": error.message})
                continue
            sent.append({"channel": Channel.EMAIL.value, "recipient": contact["email"],
                         "interactionId": str(mailed.ids["interactionId"])})
        return sent, failed

    def link_cases(self, announcement_id: UUID) -> int:
        """Link the cases affected accounts opened during the window; how many were new."""
        announcement = self.desk.announcement(announcement_id)
        linked = 0
        for case_id, account_id, tier in self.announcements.cases_opened(
                announcement.starts_at, announcement.ends_at):
            if UUID(case_id) in announcement.linked_cases or not announcement.affects(
                    UUID(account_id), tier):
                continue
            result = self.desk.link_case_to_announcement(
                announcement_id=announcement_id, case_id=UUID(case_id), actor=ACTOR)
            linked += not result.duplicate
        return linked


def announcements_lease(settings: Settings) -> Lease:
    # Not "carelog:announcements": that advisory lock is the projection's (see
    # `ViewTransaction.lock_position`), and holding it would stop the view.
    if settings.database_url is not None:
        return PostgresLease(settings.database_url, "carelog:announcement-fan-out")
    return FileLease(settings.data_dir / "announcement-fan-out.lock")
