"""The SurveyResponse aggregate: one contact's answer to an NPS survey (0 to 10).

Its id derives from the account, the contact and the survey (campaign) key, so a redelivered
answer fails on version 1 and is answered as a duplicate; the same contact answering the next
campaign is a new response.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError

MAX_COMMENT = 5000


def check_score(score: int) -> int:
    """An NPS score is a whole number from 0 (not at all likely) to 10 (extremely likely)."""
    if type(score) is not int or not 0 <= score <= 10:
        raise InvalidInputError(f"an NPS score must be a whole number from 0 to 10, not {score}")
    return score


def clean_comment(comment: str | None) -> str | None:
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise InvalidInputError(f"the survey comment is longer than {MAX_COMMENT} characters")
    return text


class SurveyResponse(Aggregate):
    """How likely a client contact is to recommend us, as answered in one survey."""

    TOPIC = "carelog:SurveyResponse"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:SurveyResponse.Created"

    @staticmethod
    def id_for(account_id: UUID, contact_id: UUID, survey: str) -> UUID:
        """One response per contact and survey: a redelivery of it is a duplicate."""
        return uuid5(account_id, f"survey-response/{contact_id}/{survey}")

    @event("Recorded", topic="carelog:SurveyResponse.Recorded")
    def __init__(
        self,
        id: UUID,
        account_id: UUID,
        contact_id: UUID,
        score: int,
        comment: str | None,
        occurred_at: datetime,
        actor: str,
    ) -> None:
        self.account_id = account_id
        self.contact_id = contact_id
        self.score = score
