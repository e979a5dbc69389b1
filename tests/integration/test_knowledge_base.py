"""The `knowledge_base` view on SQLite and PostgreSQL: search in each article's language, the
readership in every query, votes, and a rebuild that leaves the search indexes right."""

from __future__ import annotations

from uuid import UUID

import pytest

from api.runtime import Runtime
from projections.knowledge_base import Readership

pytestmark = pytest.mark.integration

STAFF = "staff:ann"
EVERYONE = Readership()
STANDARD = Readership("standard")
VIP = Readership("vip")


def article(runtime: Runtime, title: str, body: str, language: str, visibility: str | None,
            plans: tuple[str, ...] = (), topic: str | None = None) -> UUID:
    desk = runtime.desk
    article_id = desk.draft_article(title=title, body=body, language=language, topic=topic,
                                    actor=STAFF).ids["articleId"]
    if visibility is not None:
        desk.publish_article(article_id=article_id, visibility=visibility, plans=plans,
                             actor=STAFF)
    return article_id


def caught_up(runtime: Runtime) -> None:
    runtime.runner("knowledge_base").catch_up()


@pytest.fixture
def library(runtime: Runtime) -> dict[str, UUID]:
    made = {
        "password": article(runtime, "Resetting passwords", "Open Settings and choose Security, "
                            "then reset the password.", "en", "public", topic="Login"),
        "invoice": article(runtime, "Rechnungen herunterladen", "Alle Rechnungen finden Sie "
                           "unter Konto und Abrechnung.", "de", "public", topic="Billing"),
        "russian": article(runtime, "Как сбросить пароль", "Откройте настройки и сбросьте "
                           "пароль в разделе безопасность.", "ru", "plans", ("vip",)),
        "internal": article(runtime, "Password resets for admins", "Internal runbook: reset "
                            "a password from the admin console.", "en", "internal"),
        "draft": article(runtime, "Password policy", "Passwords expire yearly.", "en", None),
    }
    caught_up(runtime)
    return made


def found(runtime: Runtime, readers: Readership, text: str, *, any_word: bool = False,
          ) -> list[str]:
    return [r["title"] for r in runtime.services.articles.search(readers, text, 10,
                                                                 any_word=any_word)]


def test_english_is_searched_with_stemming(runtime: Runtime, library: dict[str, UUID]) -> None:
    assert found(runtime, STANDARD, "reset passwords") == ["Resetting passwords"]
    assert found(runtime, STANDARD, "PASSWORD") == ["Resetting passwords"]


def test_german_and_russian_articles_are_found_in_their_language(
        runtime: Runtime, library: dict[str, UUID]) -> None:
    assert found(runtime, STANDARD, "Rechnung") == ["Rechnungen herunterladen"]
    assert found(runtime, VIP, "пароль") == ["Как сбросить пароль"]
    assert found(runtime, VIP, "Abrechnung konto") == ["Rechnungen herunterladen"]


def test_a_client_finds_only_public_articles_and_those_for_its_plan(
        runtime: Runtime, library: dict[str, UUID]) -> None:
    assert found(runtime, STANDARD, "пароль") == []
    assert found(runtime, STANDARD, "admin console") == []
    view = runtime.services.articles
    titles = {r["title"] for r in view.page(STANDARD, 50, None).rows}
    assert titles == {"Resetting passwords", "Rechnungen herunterladen"}
    assert view.get(STANDARD, str(library["internal"])) is None
    assert view.get(STANDARD, str(library["draft"])) is None
    assert view.get(STANDARD, str(library["russian"])) is None
    assert view.get(VIP, str(library["russian"])) is not None
    # Asking for drafts changes nothing for a client.
    assert {r["title"] for r in view.page(STANDARD, 50, None, ("draft",)).rows} == titles


def test_staff_find_internal_articles_and_list_drafts(runtime: Runtime,
                                                      library: dict[str, UUID]) -> None:
    assert set(found(runtime, EVERYONE, "password reset")) == {
        "Resetting passwords", "Password resets for admins"}
    drafts = runtime.services.articles.page(EVERYONE, 50, None, ("draft",)).rows
    assert [r["title"] for r in drafts] == ["Password policy"]


def test_suggestions_match_any_word_of_a_long_text_best_first(
        runtime: Runtime, library: dict[str, UUID]) -> None:
    text = ("Hello, since this morning none of our people can log in; we tried to reset the "
            "password twice. Also where are last month's invoices?")
    titles = found(runtime, STANDARD, text, any_word=True)
    assert titles[0] == "Resetting passwords"
    assert "Как сбросить пароль" not in titles


def test_pages_follow_the_title_order(runtime: Runtime, library: dict[str, UUID]) -> None:
    view = runtime.services.articles
    first = view.page(EVERYONE, 2, None)
    second = view.page(EVERYONE, 2, view.cursor(first.rows[-1]))
    titles = [r["title"] for r in first.rows + second.rows]
    assert first.has_next
    assert titles == sorted(titles)
    assert len(set(titles)) == 4


def test_revisions_archives_and_votes_reach_the_view(runtime: Runtime,
                                                     library: dict[str, UUID]) -> None:
    desk = runtime.desk
    password = library["password"]
    desk.revise_article(article_id=password, title="Passwort zurücksetzen",
                        body="Öffnen Sie die Einstellungen.", language="de", topic="Login",
                        actor=STAFF)
    desk.archive_article(article_id=library["invoice"], reason="moved", actor=STAFF)
    desk.vote_article(article_id=password, helpful=True, actor="contact:a")
    desk.vote_article(article_id=password, helpful=True, actor="contact:b")
    desk.vote_article(article_id=password, helpful=False, actor="contact:a")
    caught_up(runtime)

    assert found(runtime, STANDARD, "reset passwords") == []
    assert found(runtime, STANDARD, "einstellungen") == ["Passwort zurücksetzen"]
    assert found(runtime, STANDARD, "Rechnung") == []
    row = runtime.services.articles.get(STANDARD, str(password))
    assert row is not None
    assert (row["helpful"], row["unhelpful"], row["language"]) == (1, 1, "de")
    assert runtime.services.articles.covered_topics() == {"login"}


def test_a_rebuild_leaves_the_search_indexes_as_they_were(runtime: Runtime,
                                                          library: dict[str, UUID]) -> None:
    runner = runtime.runner("knowledge_base")
    before = found(runtime, VIP, "пароль password Rechnung", any_word=True)
    runner.reset()
    assert found(runtime, VIP, "password", any_word=True) == []
    runner.catch_up()
    assert found(runtime, VIP, "пароль password Rechnung", any_word=True) == before
    assert len(before) == 3
