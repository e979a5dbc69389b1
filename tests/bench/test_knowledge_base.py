"""Knowledge-base search: CARELOG_BENCH_ARTICLES (default 2,000) articles in English, German and
Russian, folded into the `knowledge_base` view, then searched as a client and as an agent's
suggestion (any word of a long case text). Median and p95 per query, on each backend."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import pytest

from api.runtime import Runtime
from projections.knowledge_base import Readership
from tests.bench.conftest import figure, size

pytestmark = pytest.mark.bench

ARTICLES = size("ARTICLES", 2_000)
QUERIES = 200
_TEXT = {
    "en": ("invoice password export report login webhook seat role dashboard sync order "
           "payment refund account settings security team delay error upgrade"),
    "de": ("Rechnung Passwort Export Bericht Anmeldung Zahlung Konto Einstellungen "
           "Sicherheit Fehler Verzögerung Rolle Benutzer Abrechnung"),
    "ru": ("счёт пароль экспорт отчёт вход оплата аккаунт настройки безопасность ошибка "
           "задержка роль пользователь"),
}
_WORDS = {language: text.split() for language, text in _TEXT.items()}


def test_search_latency(backend: str, runtime: Runtime) -> None:
    rng = random.Random(5)
    desk = runtime.desk
    for n in range(ARTICLES):
        language = rng.choice(["en", "en", "de", "ru"])
        words = _WORDS[language]
        article_id = desk.draft_article(
            title=" ".join(rng.sample(words, 4)).capitalize(),
            body=" ".join(rng.choice(words) for _ in range(120)), language=language,
            topic=rng.choice(words), actor="staff:bench").ids["articleId"]
        visibility = "plans" if n % 4 == 3 else rng.choice(["public", "public", "internal"])
        desk.publish_article(article_id=article_id, visibility=visibility,
                             plans=["vip"] if visibility == "plans" else [],
                             actor="staff:bench")
    runner = runtime.runner("knowledge_base")
    started = time.perf_counter()
    runner.rebuild()
    figure(backend, f"knowledge base: fold {ARTICLES:,} articles (rebuild)",
           time.perf_counter() - started, "s")
    view = runtime.services.articles
    def two_words() -> str:
        return " ".join(rng.sample(_WORDS[rng.choice(list(_WORDS))], 2))

    def case_text() -> str:
        return " ".join(rng.choice(_WORDS["en"]) for _ in range(40))

    cases: list[tuple[str, Readership, bool, Callable[[], str]]] = [
        ("client search, two words", Readership("standard"), False, two_words),
        ("agent suggestion, 40-word case text", Readership(), True, case_text)]
    for label, readers, any_word, text_of in cases:
        times, found = [], 0
        for _ in range(QUERIES):
            text = text_of()
            started = time.perf_counter()
            found += bool(view.search(readers, text, 10, any_word=any_word))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        assert found, f"{label}: no query found an article, so nothing real was timed"
        figure(backend, f"knowledge base: {label}, median", statistics.median(times), "ms")
        figure(backend, f"knowledge base: {label}, p95", times[int(len(times) * 0.95)], "ms")
