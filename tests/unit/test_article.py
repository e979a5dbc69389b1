"""The Article aggregate through CareDesk commands: drafted, published for a readership,
revised, archived, voted on once per reader; every change names its actor."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.application import CareDesk
from domain.errors import InvalidInputError, InvalidStateError
from tests.unit.helpers import STAFF, START, events, nothing_written

CLIENT = "contact:alice"


def draft(desk: CareDesk, **extra: str) -> UUID:
    fields = {"title": "Reset your password", "body": "Open Settings, then Security.",
              "language": "en", "topic": "login", **extra}
    return desk.draft_article(actor=STAFF, title=fields["title"], body=fields["body"],
                              language=fields["language"], topic=fields["topic"]).ids["articleId"]


def test_drafting_records_the_text_language_topic_and_actor(desk: CareDesk) -> None:
    article_id = draft(desk, language="DE ")

    (drafted,) = events(desk, "carelog:Article.Drafted")
    assert drafted.originator_id == article_id
    assert (drafted.language, drafted.topic) == ("de", "login")
    assert (drafted.actor, drafted.occurred_at) == (STAFF, START)
    assert desk.article(article_id).status == "draft"


@pytest.mark.parametrize(("fields", "message"), [
    ({"body": "  "}, "body must not be empty"),
    ({"language": "english"}, "two-letter"),
    ({"title": ""}, "title must not be empty"),
])
def test_bad_articles_are_refused_and_nothing_is_written(desk: CareDesk, fields: dict[str, str],
                                                         message: str) -> None:
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        draft(desk, **fields)


def test_publishing_for_plans_names_them_and_publishing_the_same_again_is_nothing(
        desk: CareDesk) -> None:
    article_id = draft(desk)
    desk.publish_article(article_id=article_id, visibility="plans", plans=["vip", "business"],
                         actor=STAFF)
    again = desk.publish_article(article_id=article_id, visibility="plans",
                                 plans=["business", "vip"], actor=STAFF)

    assert again.duplicate
    (published,) = events(desk, "carelog:Article.Published")
    assert (published.visibility, published.plans) == ("plans", ["business", "vip"])


@pytest.mark.parametrize(("visibility", "plans", "message"), [
    ("plans", [], "at least one plan"),
    ("public", ["vip"], "only with visibility plans"),
    ("everyone", [], "unknown visibility"),
    ("plans", ["gold"], "unknown plan"),
])
def test_a_readership_must_make_sense(desk: CareDesk, visibility: str, plans: list[str],
                                      message: str) -> None:
    article_id = draft(desk)
    with nothing_written(desk), pytest.raises(InvalidInputError, match=message):
        desk.publish_article(article_id=article_id, visibility=visibility, plans=plans,
                             actor=STAFF)


def test_one_vote_per_reader_which_may_change(desk: CareDesk) -> None:
    article_id = draft(desk)
    desk.publish_article(article_id=article_id, visibility="public", actor=STAFF)
    desk.vote_article(article_id=article_id, helpful=True, actor=CLIENT)
    assert desk.vote_article(article_id=article_id, helpful=True, actor=CLIENT).duplicate
    desk.vote_article(article_id=article_id, helpful=False, actor=CLIENT)

    votes = events(desk, "carelog:Article.Voted")
    assert [(v.voter, v.helpful, v.previous) for v in votes] == [
        (CLIENT, True, None), (CLIENT, False, True)]


def test_drafts_and_archived_articles_take_no_votes_and_archived_ones_no_changes(
        desk: CareDesk) -> None:
    article_id = draft(desk)
    with pytest.raises(InvalidStateError):
        desk.vote_article(article_id=article_id, helpful=True, actor=CLIENT)
    desk.revise_article(article_id=article_id, title="Reset a password", body="New text",
                        language="en", actor=STAFF)
    desk.archive_article(article_id=article_id, reason="outdated", actor=STAFF)

    with nothing_written(desk), pytest.raises(InvalidStateError, match="archived"):
        desk.publish_article(article_id=article_id, visibility="public", actor=STAFF)
    assert [e.actor for e in events(desk, "carelog:Article.Revised")] == [STAFF]
    assert desk.article(article_id).status == "archived"
