"""Read model `knowledge_base`: the articles, who may read each, and full-text search.

Search runs in each article's own language. PostgreSQL keeps a generated `tsvector` column made
with the article's text search configuration ('english', 'german', 'russian'...; 'simple' for a
language it has none for). SQLite keeps two FTS5 indexes beside the table, filled by triggers:
one with the Porter stemmer for English articles, one of plain Unicode words (diacritics
folded) for every other language; a query asks each article in the index of its language.

Who may read is part of every query (`Readership`): a client never gets a row it may not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.article import ArticleStatus, Visibility
from projections.paging import Page, check_first, decode_cursor, encode_cursor
from projections.projection import Projection, handles
from projections.rows import Rows
from projections.schema import Column, Dialect, Table
from projections.store import ViewStore

SEARCH_CONFIGS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish",
    "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}
"""PostgreSQL's text search configuration for each ISO 639-1 language it has one for."""
FALLBACK_CONFIG = "simple"
STEMMED_LANGUAGE = "en"
"""The language SQLite searches with the Porter stemmer (English only)."""

_WORD = re.compile(r"\w+")
MAX_TERMS = 32
"""Words of a query or of a text to suggest for that are searched (the first ones)."""


def search_config(language: str) -> str:
    return SEARCH_CONFIGS.get(language, FALLBACK_CONFIG)


def search_terms(text: str, *, minimum: int = 1) -> list[str]:
    """The distinct words of `text`, lower-cased, in order, at least `minimum` long."""
    words = [w for w in _WORD.findall(text.lower().replace("_", " ")) if len(w) >= minimum]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _tsvector(column: str, weight: str) -> str:
    configs = " ".join(f"WHEN '{c}' THEN '{c}'::regconfig" for c in sorted(
        set(SEARCH_CONFIGS.values())))
    return (f"setweight(to_tsvector(CASE search_config {configs} ELSE "
            f"'{FALLBACK_CONFIG}'::regconfig END, coalesce({column}, '')), '{weight}')")


def _fts5(name: str, tokenizer: str) -> tuple[tuple[Dialect, str], ...]:
    """An external-content FTS5 index of the articles, kept by triggers, rebuilt on start (so
    a table made again, by a rebuild of the view, never leaves it stale)."""
    fields = "title, topic, body"
    new = "new.title, new.topic, new.body"
    old = "old.title, old.topic, old.body"
    remove = f"INSERT INTO {name} ({name}, rowid, {fields}) VALUES ('delete', old.rowid, {old});"
    add = f"INSERT INTO {name} (rowid, {fields}) VALUES (new.rowid, {new});"
    return (
        ("sqlite", f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5({fields}, "
                   f"content='kb_articles', tokenize='{tokenizer}')"),
        ("sqlite", f"CREATE TRIGGER IF NOT EXISTS {name}_inserted AFTER INSERT ON kb_articles "
                   f"BEGIN {add} END"),
        ("sqlite", f"CREATE TRIGGER IF NOT EXISTS {name}_deleted AFTER DELETE ON kb_articles "
                   f"BEGIN {remove} END"),
        ("sqlite", f"CREATE TRIGGER IF NOT EXISTS {name}_updated AFTER UPDATE ON kb_articles "
                   f"BEGIN {remove} {add} END"),
        ("sqlite", f"INSERT INTO {name} ({name}) VALUES ('rebuild')"),
    )


ARTICLES = Table(
    "kb_articles",
    columns=(
        Column("id"), Column("title"), Column("body"), Column("language"),
        Column("search_config"), Column("topic"), Column("status"), Column("visibility"),
        Column("plans"), Column("helpful", "int"), Column("unhelpful", "int"),
        Column("drafted_at", "timestamp"), Column("published_at", "timestamp"),
        Column("updated_at", "timestamp"), Column("updated_by"), Column("version", "int"),
        Column("position", "int"),
    ),
    key=("id",),
    indexes=(("status", "title", "id"), ("topic",)),
    beside=(
        ("postgres", "ALTER TABLE kb_articles ADD COLUMN IF NOT EXISTS search tsvector "
                     f"GENERATED ALWAYS AS ({_tsvector('title', 'A')} || "
                     f"{_tsvector('topic', 'A')} || {_tsvector('body', 'B')}) STORED"),
        ("postgres", "CREATE INDEX IF NOT EXISTS kb_articles_search_idx ON kb_articles "
                     "USING GIN (search)"),
        *_fts5("kb_articles_stemmed", "porter unicode61 remove_diacritics 2"),
        *_fts5("kb_articles_words", "unicode61 remove_diacritics 2"),
    ),
)
_COLUMNS = ", ".join(f"a.{c}" for c in ARTICLES.column_names)
_TYPES = ARTICLES.column_types


def _plans_text(plans: Iterable[str]) -> str:
    """Plans as `,vip,business,`: one plan is found with LIKE '%,vip,%'."""
    return "," + ",".join(plans) + "," if plans else ""


def plans_of(row: dict[str, Any]) -> list[str]:
    return [p for p in (row["plans"] or "").split(",") if p]


class KnowledgeBaseProjection(Projection):
    name = "knowledge_base"
    version = 1
    tables = (ARTICLES,)

    def reads(self, topic: str, event: Any) -> Iterable[tuple[Table, tuple[Any, ...]]]:
        if topic != "carelog:Article.Drafted":
            yield ARTICLES, (str(event.originator_id),)

    def _article(self, rows: Rows, e: Any) -> dict[str, Any]:
        row = rows.get(ARTICLES, str(e.originator_id))
        if row is None:
            raise LookupError(f"article {e.originator_id} has no Drafted event before {e}")
        return row

    def _save(self, rows: Rows, row: dict[str, Any], e: Any, position: int) -> None:
        row.update(version=e.originator_version, updated_at=e.occurred_at, updated_by=e.actor,
                   position=position)
        rows.put(ARTICLES, row)

    @handles("carelog:Article.Drafted")
    def drafted(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {
            "id": str(e.originator_id), "title": e.title, "body": e.body,
            "language": e.language, "search_config": search_config(e.language),
            "topic": e.topic, "status": ArticleStatus.DRAFT.value, "visibility": None,
            "plans": "", "helpful": 0, "unhelpful": 0, "drafted_at": e.occurred_at,
            "published_at": None}, e, position)

    @handles("carelog:Article.Published")
    def published(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._article(rows, e), "status": ArticleStatus.PUBLISHED.value,
                          "visibility": e.visibility, "plans": _plans_text(e.plans),
                          "published_at": e.occurred_at}, e, position)

    @handles("carelog:Article.Revised")
    def revised(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._article(rows, e), "title": e.title, "body": e.body,
                          "language": e.language, "search_config": search_config(e.language),
                          "topic": e.topic}, e, position)

    @handles("carelog:Article.Archived")
    def archived(self, e: Any, rows: Rows, position: int) -> None:
        self._save(rows, {**self._article(rows, e), "status": ArticleStatus.ARCHIVED.value},
                   e, position)

    @handles("carelog:Article.Voted")
    def voted(self, e: Any, rows: Rows, position: int) -> None:
        row = self._article(rows, e)
        counts = {"helpful": row["helpful"], "unhelpful": row["unhelpful"]}
        if e.previous is not None:
            counts["helpful" if e.previous else "unhelpful"] -= 1
        counts["helpful" if e.helpful else "unhelpful"] += 1
        self._save(rows, {**row, **counts}, e, position)


@dataclass(frozen=True, slots=True)
class Readership:
    """Who is reading. Staff (`plan` None) may read every article; a client only published
    ones that are public or for its plan, whatever else it asks for."""

    plan: str | None = None

    @property
    def staff(self) -> bool:
        return self.plan is None

    def where(self, statuses: tuple[str, ...]) -> tuple[str, list[Any]]:
        """The SQL condition on `a` (kb_articles) and its parameters."""
        if self.plan is not None:
            return ("a.status = ? AND (a.visibility = ? OR (a.visibility = ? AND a.plans LIKE ?))",
                    [ArticleStatus.PUBLISHED.value, Visibility.PUBLIC.value,
                     Visibility.PLANS.value, f"%,{self.plan},%"])
        if not statuses:
            return "a.status <> ?", [ArticleStatus.ARCHIVED.value]
        return f"a.status IN ({', '.join('?' * len(statuses))})", list(statuses)


_ORDER = "TITLE"


class KnowledgeBaseView:
    """Queries on the `knowledge_base` read model, always through a `Readership`."""

    projection = KnowledgeBaseProjection.name

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def page(self, readers: Readership, first: int, after: str | None,
             statuses: tuple[str, ...] = ()) -> Page:
        """Articles by title."""
        check_first(first)
        where, params = readers.where(statuses)
        if after is not None:
            title, ident = decode_cursor(after, _ORDER, 2)
            where += " AND (a.title > ? OR (a.title = ? AND a.id > ?))"
            params += [title, title, ident]
        with self.store.reader() as tx:
            rows = tx.fetch_all(f"SELECT {_COLUMNS} FROM kb_articles a WHERE {where} "
                                "ORDER BY a.title, a.id LIMIT ?", [*params, first + 1])
            found = [tx.decode(r, _TYPES) for r in rows]
        return Page(found[:first], len(found) > first)

    @staticmethod
    def cursor(row: dict[str, Any]) -> str:
        return encode_cursor(_ORDER, [row["title"], row["id"]])

    def get(self, readers: Readership, article_id: str) -> dict[str, Any] | None:
        where, params = readers.where(tuple(ArticleStatus))
        with self.store.reader() as tx:
            row = tx.fetch_one(f"SELECT {_COLUMNS} FROM kb_articles a WHERE a.id = ? AND {where}",
                               [article_id, *params])
            return None if row is None else tx.decode(row, _TYPES)

    def search(self, readers: Readership, text: str, first: int, offset: int = 0, *,
               any_word: bool = False,
               statuses: tuple[str, ...] = (ArticleStatus.PUBLISHED.value,),
               ) -> list[dict[str, Any]]:
        """The best matches first (each with its `score`), each article matched in its own
        language. All words must match, or with `any_word` any (ranked by how well)."""
        check_first(first)
        terms = search_terms(text, minimum=3 if any_word else 1)
        if not terms:
            return []
        where, params = readers.where(statuses)
        with self.store.reader() as tx:
            if tx.dialect == "postgres":
                query = (" or " if any_word else " ").join(t for t in terms if t != "or")
                # The query is parsed once per language there are articles in, not per row.
                rows = tx.fetch_all(
                    "WITH q AS (SELECT c.config, websearch_to_tsquery(c.config::regconfig, ?) "
                    "AS query FROM (SELECT DISTINCT search_config AS config FROM kb_articles) c) "
                    f"SELECT {_COLUMNS}, ts_rank(a.search, q.query) AS score "
                    "FROM kb_articles a JOIN q ON q.config = a.search_config "
                    f"WHERE a.search @@ q.query AND {where} "
                    "ORDER BY score DESC, a.id LIMIT ? OFFSET ?",
                    [query, *params, first, offset])
            else:
                match = (" OR " if any_word else " ").join(f'"{t}"*' for t in terms)
                ranked = []
                for index, same in (("kb_articles_stemmed", "="), ("kb_articles_words", "<>")):
                    ranked.append(
                        f"SELECT {_COLUMNS}, -m.rank AS score FROM (SELECT rowid AS rid, "
                        f"bm25({index}, 10.0, 10.0, 1.0) AS rank FROM {index} "
                        f"WHERE {index} MATCH ?) m JOIN kb_articles a ON a.rowid = m.rid "
                        f"WHERE a.language {same} ? AND {where}")
                rows = tx.fetch_all(
                    f"{ranked[0]} UNION ALL {ranked[1]} ORDER BY score DESC, id LIMIT ? OFFSET ?",
                    [match, STEMMED_LANGUAGE, *params, match, STEMMED_LANGUAGE, *params,
                     first, offset])
            return [tx.decode(r, _TYPES) for r in rows]

    def covered_topics(self) -> set[str]:
        """The topics (lower-cased) that a published article covers."""
        with self.store.reader() as tx:
            rows = tx.fetch_all("SELECT DISTINCT topic FROM kb_articles "
                                "WHERE status = ? AND topic IS NOT NULL",
                                [ArticleStatus.PUBLISHED.value])
        return {str(r["topic"]).lower() for r in rows}
