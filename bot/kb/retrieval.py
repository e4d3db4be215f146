"""Retrieval in the pipeline: the query made from a ticket, and the sources chosen for it.

`KnowledgeBase` holds the index a worker loaded; before each search it asks the store for its
revision (one small query) and rebuilds the index when a sync or an import changed anything.
`from_settings` also loads the query expansion table (`kb_synonyms.yaml`) and the relevance
calibration (`kb_calibration.yaml`) from the policy file's folder, when they are there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from bot.decisions import SourceArticle
from bot.domain import Ticket
from bot.kb.calibration import Calibration, load_calibration
from bot.kb.expansion import NO_EXPANSION, Expansion, load_synonyms
from bot.kb.index import Hit, Index, IndexParams
from bot.kb.model import Article
from bot.kb.query import QUERY_WORDS, ticket_query
from bot.kb.store import ArticleStore

log = logging.getLogger(__name__)

__all__ = ["QUERY_WORDS", "KnowledgeBase", "build_query", "choose_sources"]
SYNONYMS_FILE = "kb_synonyms.yaml"
CALIBRATION_FILE = "kb_calibration.yaml"


def build_query(ticket: Ticket, category_terms: str = "") -> str:
    """Subject (twice: it is the customer's own summary), the body's opening without greeting,
    signature, quoted or forwarded mail and markup, and the policy's words for the category."""
    return ticket_query(ticket.subject, ticket.description, category_terms)


def choose_sources(hits: Iterable[Hit], min_relevance: float, limit: int) -> tuple[SourceArticle, ...]:
    chosen = [hit for hit in hits if hit.relevance >= min_relevance][:limit]
    return tuple(
        SourceArticle(
            number=i,
            source=hit.article.source,
            article_id=hit.article.article_id,
            title=hit.article.title,
            url=hit.article.url,
            passage=hit.passage.text,
            relevance=hit.relevance,
            section=hit.article.section,
            locale=hit.article.locale,
        )
        for i, hit in enumerate(chosen, start=1)
    )


class KnowledgeBase:
    """The worker's index over the store's articles, rebuilt when the store changes."""

    def __init__(
        self,
        store: ArticleStore | None = None,
        *,
        locales: Iterable[str] = (),
        default_language: str = "en",
        params: IndexParams | None = None,
        articles: Iterable[Article] | None = None,
        embedder=None,  # bot.kb.semantic.Embedder for hybrid ranking; None: BM25 alone
        expansion: Expansion = NO_EXPANSION,
        calibration: Calibration | None = None,
    ):
        self.store = store
        self.locales = tuple(locales)
        self.default_language = default_language
        self.params = params or IndexParams()
        self.embedder = embedder
        self.expansion = expansion
        self.calibration = calibration
        self._lock = threading.Lock()
        self._revision: object = None
        self._index = self._build(articles or ())

    def _build(self, articles: Iterable[Article]) -> Index:
        return Index(articles, self.default_language, self.params, self.embedder,
                     self.expansion, self.calibration)

    @property
    def article_count(self) -> int:
        return self._index.article_count

    def refresh(self) -> bool:
        """Rebuild if the store changed since the last build. Returns True when it rebuilt."""
        if self.store is None:
            return False
        revision = self.store.revision()
        if revision == self._revision:
            return False
        with self._lock:
            if revision == self._revision:
                return False
            started = time.monotonic()
            articles = self.store.articles(self.locales or None)
            self._index = self._build(articles)
            self._revision = revision
            log.info(
                "knowledge index built: %d articles in %.2f s",
                len(articles),
                time.monotonic() - started,
            )
        return True

    def search(self, query: str, k: int = 3, language: str | None = None) -> list[Hit]:
        self.refresh()
        return self._index.search(query, k, language)

    @classmethod
    def from_settings(cls, settings, store: ArticleStore | None, default_language: str, **kwargs):
        """Hybrid (KB_RANKING=hybrid, the default: the embedding model loads here, once, and
        passage vectors are cached in instance/kb_vectors/) or BM25 alone, with
        the expansion table and the ranking's calibration found beside the policy file."""
        embedder = None
        if settings.kb_ranking == "hybrid":
            from bot.kb.semantic import Embedder
            from bot.kb.vector_cache import default_cache_dir

            embedder = Embedder(settings.kb_embedding_model or None, cache_dir=default_cache_dir())
        config = Path(settings.policy_file).parent
        kwargs.setdefault("expansion", load_synonyms(config / SYNONYMS_FILE, missing_ok=True))
        kwargs.setdefault("calibration", load_calibration(config / CALIBRATION_FILE).get(settings.kb_ranking))
        return cls(store, locales=settings.kb_locales, default_language=default_language,
                   embedder=embedder, **kwargs)

    def sources_for(
        self,
        ticket: Ticket,
        *,
        language: str | None,
        category_terms: str,
        min_relevance: float,
        limit: int,
    ) -> tuple[SourceArticle, ...]:
        hits = self.search(build_query(ticket, category_terms), k=limit, language=language)
        return choose_sources(hits, min_relevance, limit)
