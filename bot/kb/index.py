"""A BM25 index over article passages, one per language, optionally fused with sentence
embeddings. Pure and in memory.

BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework", 2009) with the usual
k1 = 1.2, b = 0.75. Each passage is indexed with its article's title (repeated
`title_weight` times) and section, because titles name the problem an article solves. The
query's words may be weighted, and expanded with help-center wording (`bot.kb.expansion`).
Articles are ranked by their best passage.

`lexical` is BM25 normalised to 0..1: the raw score divided by the most the query's
`CEILING_TERMS` most informative words could score (each saturated in a passage), capped at 1.
Words no article contains count too, so a question about something the help center never
mentions scores low.

With an embedder (hybrid ranking) every passage scores its cosine similarity to the query plus
`lexical_weight` times its `lexical`; measured on the development tickets, this linear fusion
ranked better than reciprocal rank fusion of the two rankings.

`relevance`, what the policy's `min_relevance` is compared with, is the calibrated probability
that the article is a right source (`bot.kb.calibration`) when a calibration is given, and
`lexical` otherwise.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.kb.calibration import Calibration
from bot.kb.chunks import Passage, split_passages
from bot.kb.expansion import NO_EXPANSION, Expansion
from bot.kb.model import Article
from bot.kb.tokens import language_of, tokenize

CEILING_TERMS = 10


@dataclass(frozen=True)
class Hit:
    article: Article
    passage: Passage
    score: float  # the ranking score: raw BM25, or the fused score with embeddings
    relevance: float  # 0..1, what `min_relevance` is compared with (calibrated: a probability)
    lexical: float = 0.0  # BM25 / the query's maximum possible BM25, 0..1
    similarity: float | None = None  # cosine similarity of passage and query (embeddings)
    features: Mapping[str, float] = field(default_factory=dict, compare=False)  # calibration's


@dataclass(frozen=True)
class IndexParams:
    k1: float = 1.2
    b: float = 0.75
    title_weight: int = 2
    passage_words: int = 120
    lexical_weight: float = 1.0  # with embeddings: fused = cosine + lexical_weight * lexical


class _LanguageIndex:
    def __init__(self, passages: list[Passage], language: str, params: IndexParams, embedder=None):
        self.language = language
        self.embedder = embedder
        self.params = params
        self.passages = passages
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: list[int] = []
        heading_terms: dict[tuple[str, str, str], list[str]] = {}  # once per article
        self.title_terms: dict[tuple[str, str, str], frozenset[str]] = {}
        for doc_id, passage in enumerate(passages):
            article = passage.article
            if article.key not in heading_terms:
                title = tokenize(article.title, language)
                self.title_terms[article.key] = frozenset(title)
                heading_terms[article.key] = title * params.title_weight + tokenize(article.section, language)
            terms = heading_terms[article.key] + tokenize(passage.text, language)
            self.lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                self.postings[term].append((doc_id, tf))
        self.average = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        n = len(passages)
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self.idf = {
            term: math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self.postings.items()
        }
        self.vectors = (
            embedder.encode([f"{p.article.title}. {p.text}" for p in passages], persist=True)
            if embedder else None
        )

    def search(self, query: str, k: int, expansion: Expansion) -> list[Hit]:
        """The top k articles, each with its calibration features (one more is ranked, for
        the last one's margin)."""
        terms = expansion.query_terms(query, self.language)
        hits = self._bm25(terms, k + 1) if self.vectors is None else self._fused(query, terms, k + 1)
        own = frozenset(tokenize(query, self.language))  # the ticket's words, not the additions
        return [replace(hit, features=self.features(hits, i, own)) for i, hit in enumerate(hits[:k])]

    def features(self, hits: list[Hit], i: int, words: frozenset[str]) -> dict[str, float]:
        """What the calibration weighs for hits[i] (see bot.kb.calibration.FEATURES). Scores
        are the normalised ones (`lexical`, or the fused score), so that a calibration carries
        over to a help center of another size."""
        hit = hits[i]
        title = self.title_terms.get(hit.article.key, frozenset())
        following = hits[i + 1] if i + 1 < len(hits) else None
        return {
            "score": self._strength(hit),
            "margin": self._strength(hit) - (self._strength(following) if following else 0.0),
            "title": len(title & words) / len(title) if title else 0.0,
        }

    def _strength(self, hit: Hit) -> float:
        return hit.lexical if self.vectors is None else hit.score

    def _passage_scores(self, terms: Mapping[str, float]) -> tuple[dict[int, float], float]:
        """BM25 of every passage matching a query term, and the query's ceiling."""
        k1, b = self.params.k1, self.params.b
        scores: dict[int, float] = defaultdict(float)
        weights = []
        for term, qtf in terms.items():
            idf = self.idf.get(term)
            # A word no article has still counts towards the ceiling: a question about
            # something the help center never mentions must not look well answered.
            weights.append((self.unseen_idf if idf is None else idf) * (k1 + 1) * qtf)
            if idf is None:
                continue
            for doc_id, tf in self.postings[term]:
                norm = k1 * (1 - b + b * self.lengths[doc_id] / self.average)
                scores[doc_id] += qtf * idf * tf * (k1 + 1) / (tf + norm)
        return scores, sum(sorted(weights, reverse=True)[:CEILING_TERMS])

    def _bm25(self, terms: Mapping[str, float], limit: int | None) -> list[Hit]:
        if not terms or not self.passages:
            return []
        scores, ceiling = self._passage_scores(terms)
        best: dict[tuple[str, str, str], tuple[float, int]] = {}
        for doc_id, score in scores.items():
            key = self.passages[doc_id].article.key
            if key not in best or score > best[key][0]:
                best[key] = (score, doc_id)
        ranked = sorted(best.values(), key=lambda item: (-item[0], item[1]))[:limit]
        hits = []
        for score, doc_id in ranked:
            lexical = min(1.0, score / ceiling) if ceiling else 0.0
            hits.append(Hit(self.passages[doc_id].article, self.passages[doc_id], score, lexical, lexical))
        return hits

    def _fused(self, query: str, terms: Mapping[str, float], k: int) -> list[Hit]:
        """Every passage scored by its cosine similarity to the query plus `lexical_weight`
        times its BM25 relevance; an article ranks by its best passage."""
        similarities = self.embedder.similarities(query, self.vectors)
        scores, ceiling = self._passage_scores(terms) if terms else ({}, 0.0)
        weight = self.params.lexical_weight
        best: dict[tuple[str, str, str], tuple[float, int, float, float]] = {}
        for doc_id, passage in enumerate(self.passages):
            lexical = min(1.0, scores.get(doc_id, 0.0) / ceiling) if ceiling else 0.0
            similarity = float(similarities[doc_id])
            fused = similarity + weight * lexical
            key = passage.article.key
            if key not in best or fused > best[key][0]:
                best[key] = (fused, doc_id, lexical, similarity)
        ranked = sorted(best.values(), key=lambda item: (-item[0], item[1]))[:k]
        return [
            Hit(self.passages[doc_id].article, self.passages[doc_id], fused, lexical, lexical, similarity)
            for fused, doc_id, lexical, similarity in ranked
        ]


class Index:
    """All articles, split by language: a query searches its own language's articles, or the
    default language's when there are none in its language."""

    def __init__(
        self,
        articles: Iterable[Article],
        default_language: str = "en",
        params: IndexParams | None = None,
        embedder=None,  # bot.kb.semantic.Embedder: hybrid ranking
        expansion: Expansion = NO_EXPANSION,
        calibration: Calibration | None = None,
    ):
        self.params = params or IndexParams()
        self.expansion = expansion
        self.calibration = calibration
        self.default_language = default_language
        by_language: dict[str, list[Passage]] = defaultdict(list)
        self.article_count = 0
        for article in articles:
            self.article_count += 1
            language = language_of(article.locale, default_language)
            by_language[language].extend(split_passages(article, target=self.params.passage_words))
        self._indexes = {
            language: _LanguageIndex(passages, language, self.params, embedder)
            for language, passages in by_language.items()
        }

    @property
    def languages(self) -> Sequence[str]:
        return sorted(self._indexes)

    def search(self, query: str, k: int = 3, language: str | None = None) -> list[Hit]:
        index = self._indexes.get(language or self.default_language) or self._indexes.get(
            self.default_language
        )
        if index is None:
            return []
        hits = index.search(query, k, self.expansion)
        if self.calibration is None:
            return hits
        return [replace(hit, relevance=self.calibration.probability(hit.features)) for hit in hits]
