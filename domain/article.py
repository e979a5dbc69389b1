"""The Article aggregate: one knowledge-base article, who may read it, and how helpful it was.

An article is drafted, then published for a readership (staff only, everyone, or the clients of
chosen plans), revised, and at last archived. Readers vote it helpful or not, one vote each.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.account import clean_name
from domain.errors import InvalidInputError, InvalidStateError
from domain.values import Tier, enum_value

MAX_TITLE = 250
MAX_BODY = 100_000
_LANGUAGE = re.compile(r"[a-z]{2}")


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Visibility(StrEnum):
    """Who may read a published article."""

    INTERNAL = "internal"
    """Staff only."""
    PUBLIC = "public"
    """Every client (and staff)."""
    PLANS = "plans"
    """The clients on the chosen plans (and staff)."""


def clean_article(title: str, body: str, language: str,
                  topic: str | None) -> tuple[str, str, str, str | None]:
    """Title, body, ISO 639-1 language code and topic, checked and tidied."""
    text = body.strip()
    if not text:
        raise InvalidInputError("an article's body must not be empty")
    if len(text) > MAX_BODY:
        raise InvalidInputError(f"an article's body is longer than {MAX_BODY} characters")
    code = language.strip().lower()
    if not _LANGUAGE.fullmatch(code):
        raise InvalidInputError("language must be a two-letter ISO 639-1 code such as en or de")
    return (clean_name(title, "title", MAX_TITLE), text, code,
            clean_name(topic, "topic", 100) if topic and topic.strip() else None)


def clean_plans(visibility: str, plans: list[str]) -> tuple[str, list[str]]:
    """The visibility, and the plans it names (only, and at least one, for `plans`)."""
    visibility = enum_value(Visibility, visibility, "visibility")
    chosen = sorted({enum_value(Tier, p, "plan") for p in plans})
    if visibility == Visibility.PLANS.value and not chosen:
        raise InvalidInputError("an article for chosen plans must name at least one plan")
    if visibility != Visibility.PLANS.value and chosen:
        raise InvalidInputError(f"plans are chosen only with visibility {Visibility.PLANS.value}")
    return visibility, chosen


class Article(Aggregate):
    """A knowledge-base article."""

    TOPIC = "carelog:Article"

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "carelog:Article.Created"

    @event("Drafted", topic="carelog:Article.Drafted")
    def __init__(self, id: UUID, title: str, body: str, language: str, topic: str | None,
                 occurred_at: datetime, actor: str) -> None:
        self.title = title
        self.status = ArticleStatus.DRAFT.value
        self.visibility: str | None = None
        self.plans: list[str] = []
        self.votes: dict[str, bool] = {}
        """Each voter's last vote: helpful or not."""

    # Commands: guards first, then the event.

    def publish(self, visibility: str, plans: list[str], occurred_at: datetime,
                actor: str) -> None:
        """Publish for a readership; publishing again with another one changes who may read."""
        self._check_not_archived()
        visibility, chosen = clean_plans(visibility, plans)
        if (self.status == ArticleStatus.PUBLISHED.value and self.visibility == visibility
                and self.plans == chosen):
            return  # published so already: a repeated request
        self._publish(visibility, chosen, occurred_at, actor)

    def revise(self, title: str, body: str, language: str, topic: str | None,
               occurred_at: datetime, actor: str) -> None:
        self._check_not_archived()
        title, body, language, topic = clean_article(title, body, language, topic)
        self._revise(title, body, language, topic, occurred_at, actor)

    def archive(self, reason: str, occurred_at: datetime, actor: str) -> None:
        if self.status == ArticleStatus.ARCHIVED.value:
            return
        self._archive(reason.strip()[:2000], occurred_at, actor)

    def vote(self, voter: str, helpful: bool, occurred_at: datetime, actor: str) -> None:
        """One vote per voter; voting again the other way changes it, the same way is nothing."""
        if self.status != ArticleStatus.PUBLISHED.value:
            raise InvalidStateError("only a published article can be voted on")
        previous = self.votes.get(voter)
        if previous is helpful:
            return
        self._vote(voter, helpful, previous, occurred_at, actor)

    def _check_not_archived(self) -> None:
        if self.status == ArticleStatus.ARCHIVED.value:
            raise InvalidStateError("the article is archived")

    # Events: they only change state.

    @event("Published", topic="carelog:Article.Published")
    def _publish(self, visibility: str, plans: list[str], occurred_at: datetime,
                 actor: str) -> None:
        self.status = ArticleStatus.PUBLISHED.value
        self.visibility = visibility
        self.plans = list(plans)

    @event("Revised", topic="carelog:Article.Revised")
    def _revise(self, title: str, body: str, language: str, topic: str | None,
                occurred_at: datetime, actor: str) -> None:
        self.title = title

    @event("Archived", topic="carelog:Article.Archived")
    def _archive(self, reason: str, occurred_at: datetime, actor: str) -> None:
        self.status = ArticleStatus.ARCHIVED.value

    @event("Voted", topic="carelog:Article.Voted")
    def _vote(self, voter: str, helpful: bool, previous: bool | None, occurred_at: datetime,
              actor: str) -> None:
        self.votes[voter] = helpful
