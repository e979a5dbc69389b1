"""The knowledge base over GraphQL: articles, search, suggestions and candidates for new ones.

Every read goes through a `Readership` built from the viewer before anything is read: a client
gets only published articles that are public or for its own plan, and an article it may not
read answers exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import strawberry

from api.auth import Action, ForbiddenError, authorize
from api.graphql.context import Info
from api.graphql.mutations import _run
from api.graphql.types import CommandResult, Connection, Edge, PageInfo, Tier
from domain import article as articles
from domain.errors import InvalidInputError, NotFoundError
from projections.knowledge_base import KnowledgeBaseView, Readership, plans_of
from projections.paging import MAX_PAGE, check_first, decode_cursor, encode_cursor

strawberry.enum(articles.ArticleStatus)
strawberry.enum(articles.Visibility)
ArticleStatus = articles.ArticleStatus
Visibility = articles.Visibility

WaitFor = Annotated[int | None, strawberry.argument(
    description="A notificationId from a mutation: wait until the views include it.")]
_SEARCH = "SEARCH"
MAX_MONTHS = 36


@strawberry.type
class Article:
    id: UUID
    title: str
    body: str
    language: str = strawberry.field(description="ISO 639-1 code; search uses its grammar.")
    topic: str | None = strawberry.field(description="The request topic the article covers.")
    status: ArticleStatus
    visibility: Visibility | None
    plans: list[Tier] = strawberry.field(description="For visibility PLANS: who may read.")
    helpful: int
    unhelpful: int
    drafted_at: datetime
    published_at: datetime | None
    updated_at: datetime
    version: int = strawberry.field(description="Pass as expectedVersion to act on this state.")
    notification_id: int
    score: float | None = strawberry.field(
        default=None, description="How well it matches a search (higher is better).")

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> Article:
        return cls(
            id=UUID(r["id"]), title=r["title"], body=r["body"], language=r["language"],
            topic=r["topic"], status=ArticleStatus(r["status"]),
            visibility=Visibility(r["visibility"]) if r["visibility"] else None,
            plans=[Tier(p) for p in plans_of(r)], helpful=r["helpful"],
            unhelpful=r["unhelpful"], drafted_at=r["drafted_at"],
            published_at=r["published_at"], updated_at=r["updated_at"], version=r["version"],
            notification_id=r["position"],
            score=float(r["score"]) if r.get("score") is not None else None)


@strawberry.type(description="A topic clients often ask about that no published article "
                             "covers: a candidate for a new article.")
class ArticleCandidate:
    topic: str
    opened: int = strawberry.field(description="Cases opened on the topic in the period.")


async def readership(info: Info) -> Readership:
    """Staff read everything; a client reads as its plan (no plan known: public only)."""
    viewer = info.context.viewer
    if viewer.account_id is None:
        return Readership()
    row = await info.context.accounts.load(str(viewer.account_id))
    return Readership(str(row["tier"]) if row is not None else "")


def _connection(view: KnowledgeBaseView, rows: list[dict[str, Any]], has_next: bool,
                offset: int | None) -> Connection[Article]:
    """Rows as a connection; search results page by position, the title list by key."""
    edges = []
    for index, row in enumerate(rows):
        cursor = (view.cursor(row) if offset is None
                  else encode_cursor(_SEARCH, [offset + index + 1]))
        edges.append(Edge(node=Article.from_row(row), cursor_of=partial(str, cursor)))
    return Connection(edges=edges, page_info=PageInfo(
        has_next_page=has_next, end_cursor=edges[-1].cursor() if edges else None))


@strawberry.type
class KnowledgeQuery:
    @strawberry.field(description="Articles you may read: by title, or with `query` the best "
                                  "matches first (searched in each article's language). Staff "
                                  "see drafts too unless `status` says otherwise.")
    async def articles(self, info: Info, query: str | None = None,
                       status: list[ArticleStatus] | None = None, first: int = 20,
                       after: str | None = None, wait_for: WaitFor = None,
                       ) -> Connection[Article]:
        authorize(info.context.viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        await services.wait_for(wait_for)
        readers = await readership(info)
        statuses = tuple(s.value for s in status or ())
        view = services.articles
        if query is None or not query.strip():
            page = await services.read(view.page, readers, first, after, statuses)
            return _connection(view, page.rows, page.has_next, None)
        check_first(first)
        offset = int(decode_cursor(after, _SEARCH, 1)[0]) if after else 0
        if not 0 <= offset <= 10 * MAX_PAGE:
            raise InvalidInputError("the cursor is not one this API handed out")
        rows = await services.read(
            view.search, readers, query, first + 1, offset,
            statuses=statuses or (ArticleStatus.DRAFT.value, ArticleStatus.PUBLISHED.value))
        return _connection(view, rows[:first], len(rows) > first, offset)

    @strawberry.field
    async def article(self, info: Info, id: UUID, wait_for: WaitFor = None) -> Article:
        authorize(info.context.viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        await services.wait_for(wait_for)
        row = await services.read(services.articles.get, await readership(info), str(id))
        if row is None:
            raise NotFoundError(f"article {id} not found")
        return Article.from_row(row)

    @strawberry.field(description="Published articles that may answer a case, best first "
                                  "(from its subject, topic and the client's messages).")
    async def suggested_articles(self, info: Info, case_id: UUID, first: int = 5,
                                 wait_for: WaitFor = None) -> list[Article]:
        authorize(info.context.viewer, Action.WORK_CASES)
        services = info.context.services
        await services.wait_for(wait_for)
        case = await info.context.cases.load(str(case_id))
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        messages = await services.read(services.cases.interactions, str(case_id))
        said = " ".join(m["text"] for m in messages if m["direction"] == "inbound")
        text = " ".join([case["subject"], case["topic"] or "", said])
        rows = await services.read(services.articles.search, Readership(), text, first,
                                   any_word=True)
        return [Article.from_row(r) for r in rows]

    @strawberry.field(description="Articles that may answer what a client is about to ask, "
                                  "best first: shown before a request is submitted.")
    async def suggest_articles(self, info: Info, text: str, first: int = 5) -> list[Article]:
        authorize(info.context.viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        rows = await services.read(services.articles.search, await readership(info), text,
                                   first, any_word=True)
        return [Article.from_row(r) for r in rows]

    @strawberry.field(description="The topics of the most cases opened in the last `months` "
                                  "that no published article covers, most asked first.")
    async def article_candidates(self, info: Info, months: int = 3, first: int = 10,
                                 wait_for: WaitFor = None) -> list[ArticleCandidate]:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_PORTFOLIO)
        if viewer.account_id is not None:
            raise ForbiddenError("article candidates are for staff only")
        if not 1 <= months <= MAX_MONTHS:
            raise InvalidInputError(f"months must be between 1 and {MAX_MONTHS}")
        check_first(first)
        services = info.context.services
        await services.wait_for(wait_for)
        info.context.uses_clock = True
        start = services.desk.clock.now() - timedelta(days=round(months * 30.44))
        counted = await services.read(services.support.top_topics, start, None, MAX_PAGE)
        covered = await services.read(services.articles.covered_topics)
        return [ArticleCandidate(topic=topic, opened=opened) for topic, opened in counted
                if topic.lower() not in covered][:first]


@strawberry.input
class DraftArticleInput:
    title: str
    body: str
    language: str = strawberry.field(description="ISO 639-1 code, e.g. en, de, ru.")
    topic: str | None = None


@strawberry.input
class ReviseArticleInput:
    article_id: UUID
    title: str
    body: str
    language: str
    topic: str | None = None
    expected_version: int | None = None


@strawberry.type
class KnowledgeMutation:
    @strawberry.mutation(description="Draft an article; only staff see it until published.")
    async def draft_article(self, info: Info, input: DraftArticleInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WRITE_ARTICLES, None, desk.draft_article,
                          title=input.title, body=input.body, language=input.language,
                          topic=input.topic)

    @strawberry.mutation(description="Publish for staff only (INTERNAL), every client (PUBLIC) "
                                     "or the clients of chosen plans (PLANS).")
    async def publish_article(self, info: Info, article_id: UUID, visibility: Visibility,
                              plans: list[Tier] | None = None,
                              expected_version: int | None = None) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WRITE_ARTICLES, None, desk.publish_article,
                          article_id=article_id, visibility=visibility.value,
                          plans=[p.value for p in plans or ()],
                          expected_version=expected_version)

    @strawberry.mutation
    async def revise_article(self, info: Info, input: ReviseArticleInput) -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WRITE_ARTICLES, None, desk.revise_article,
                          article_id=input.article_id, title=input.title, body=input.body,
                          language=input.language, topic=input.topic,
                          expected_version=input.expected_version)

    @strawberry.mutation
    async def archive_article(self, info: Info, article_id: UUID,
                              reason: str = "") -> CommandResult:
        desk = info.context.services.desk
        return await _run(info, Action.WRITE_ARTICLES, None, desk.archive_article,
                          article_id=article_id, reason=reason)

    @strawberry.mutation(description="Your vote: the article helped or not (one per reader).")
    async def vote_article(self, info: Info, article_id: UUID, helpful: bool) -> CommandResult:
        viewer = info.context.viewer
        authorize(viewer, Action.READ_KNOWLEDGE)
        services = info.context.services
        row = await services.read(services.articles.get, await readership(info),
                                  str(article_id))
        if row is None:
            raise NotFoundError(f"article {article_id} not found")
        return await _run(info, Action.READ_KNOWLEDGE, viewer.account_id,
                          services.desk.vote_article, article_id=article_id, helpful=helpful)
