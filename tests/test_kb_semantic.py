"""Hybrid retrieval (KB_RANKING=hybrid) with the real embedding model: BM25 fused with
all-MiniLM-L6-v2 sentence embeddings, run in NumPy from the weights shipped in bot/kb/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db import make_engine
from bot.errors import SettingsError
from bot.kb.calibration import load_calibration
from bot.kb.index import Index, IndexParams
from bot.kb.model import Article, SyncBatch
from bot.kb.retrieval import KnowledgeBase, choose_sources
from bot.kb.semantic import Embedder
from bot.kb.sources.files import load_articles
from bot.kb.store import ArticleStore
from bot.runtime import check_configuration
from bot.settings import Settings

HELP_CENTER = Path(__file__).resolve().parent / "fixtures" / "kb" / "help_center.jsonl"
SAMPLE = {"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s"}


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


@pytest.fixture(scope="module")
def articles():
    return load_articles(HELP_CENTER, "help")


def test_vectors_are_unit_length_and_cached_by_text(embedder):
    before = embedder.encoded
    first = embedder.encode(["reset my password", "export a report as CSV"])
    again = embedder.encode(["export a report as CSV", "reset my password"])
    assert first.shape[0] == 2 and abs(float((first[0] ** 2).sum()) - 1) < 1e-4
    assert embedder.encoded - before == 2  # the second call ran nothing through the model
    assert (again[1] == first[0]).all()


def test_a_paraphrase_with_no_shared_word_is_ranked_but_never_a_source_alone(embedder, articles):
    question = "I cannot remember the secret phrase for my profile"
    assert Index(articles).search(question, 3) == []  # no word in common with any article
    hits = Index(articles, embedder=embedder).search(question, 3)
    assert hits[0].article.article_id == "102"  # "Reset a forgotten password"
    assert hits[0].relevance == 0.0  # the threshold still needs the help center's own words
    assert choose_sources(hits, min_relevance=0.3, limit=3) == ()


def test_fusion_keeps_bm25_relevance_for_lexical_matches(embedder, articles):
    question = "how do I change the card my subscription is charged to"
    lexical = Index(articles).search(question, 3)
    hybrid = Index(articles, embedder=embedder).search(question, 3)
    assert hybrid[0].article.article_id == lexical[0].article.article_id == "101"
    assert hybrid[0].relevance == lexical[0].relevance > 0.3


def test_fused_score_is_cosine_plus_weighted_bm25_relevance(embedder, articles):
    index = Index(articles, embedder=embedder, params=IndexParams(lexical_weight=0.5))
    hits = index.search("how do I change the card my subscription is charged to", 3)
    for hit in hits:
        assert hit.similarity is not None
        assert hit.score == pytest.approx(hit.similarity + 0.5 * hit.lexical)
        assert hit.features["score"] == hit.score  # hybrid: the calibration weighs the fused score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_from_settings_loads_the_rankings_calibration_and_the_synonyms(tmp_path):
    from bot.kb.calibration import Calibration, save_calibration

    policy = tmp_path / "policy.yaml"
    policy.write_text("")
    (tmp_path / "kb_synonyms.yaml").write_text("en:\n  greyed out: [detected]\n")
    hybrid = Calibration(("score",), (0.5,), (0.1,), (1.0,), 0.0)
    save_calibration(tmp_path / "kb_calibration.yaml",
                     {"hybrid": hybrid, "bm25": Calibration(("score",), (0,), (1,), (1,), 0)}, "t")
    settings = Settings.from_env({**SAMPLE, "KB_RANKING": "hybrid", "POLICY_FILE": str(policy)})
    knowledge = KnowledgeBase.from_settings(settings, None, "en")
    assert knowledge.calibration == load_calibration(tmp_path / "kb_calibration.yaml")["hybrid"]
    assert knowledge.expansion.query_terms("greyed out", "en")["detect"] == 0.5  # default weight


def test_the_worker_index_embeds_only_changed_passages_on_rebuild(database_url, articles):
    store = ArticleStore(make_engine(database_url))
    store.replace_all("help", articles)
    embedder = Embedder()
    knowledge = KnowledgeBase(store, embedder=embedder)
    knowledge.refresh()
    first = embedder.encoded
    assert first >= len(articles)
    store.apply("help", SyncBatch(upserts=(Article("help", "104", "", "Invoices in Swiss francs",
                                                   "Invoices can be issued in CHF.", "u"),)))
    assert knowledge.refresh() is True
    assert embedder.encoded == first + 1  # one new passage; the others came from the cache
    hits = knowledge.search("can my invoice be in Swiss francs", k=1)
    assert hits[0].article.article_id == "104"


def test_hybrid_settings(tmp_path):
    settings = Settings.from_env({**SAMPLE, "KB_RANKING": "hybrid"})
    assert settings.kb_ranking == "hybrid"
    check_configuration(settings)  # the packaged model loads
    with pytest.raises(SettingsError, match="KB_RANKING must be one of bm25, hybrid"):
        Settings.from_env({**SAMPLE, "KB_RANKING": "semantic"})
    missing = Settings.from_env({**SAMPLE, "KB_RANKING": "hybrid",
                                 "KB_EMBEDDING_MODEL": str(tmp_path / "nope")})
    with pytest.raises(SettingsError, match="KB_EMBEDDING_MODEL: no such model folder"):
        check_configuration(missing)
    default = KnowledgeBase.from_settings(Settings.from_env(SAMPLE), None, "en").embedder
    assert isinstance(default, Embedder) and default.disk is not None  # hybrid by default, cached
    bm25 = Settings.from_env({**SAMPLE, "KB_RANKING": "bm25"})
    assert KnowledgeBase.from_settings(bm25, None, "en").embedder is None
