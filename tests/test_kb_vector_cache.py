"""The on-disk passage vector cache (bot.kb.vector_cache): hybrid ranking without embedding the
whole help center every time a worker builds its index."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from bot.demo import runner
from bot.kb.index import Index
from bot.kb.model import Article
from bot.kb.semantic import Embedder
from bot.kb.sources.files import load_articles
from bot.kb.vector_cache import VectorCache, passage_texts, text_key

HELP_CENTER = Path(__file__).resolve().parent / "fixtures" / "kb" / "help_center.jsonl"


class CountingModel:
    """Stands in for the NumPy MiniLM: a deterministic unit vector per text, every text counted."""

    calls: list[str] = []

    def __init__(self, *args, **kwargs):
        pass

    def encode(self, texts):
        CountingModel.calls.extend(texts)
        return np.stack([_vector(t) for t in texts]).astype(np.float32)


def _vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(16)
    return v / np.linalg.norm(v)


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setattr("bot.kb.minilm.MiniLM", CountingModel)
    CountingModel.calls = []
    return CountingModel.calls


@pytest.fixture
def articles():
    return load_articles(HELP_CENTER, "help")


def _cache_file(directory: Path) -> Path:
    return VectorCache.for_model(Embedder.packaged_model_id(), directory).path


def test_a_second_process_embeds_nothing_and_ranks_the_same(tmp_path, counting, articles):
    first = Index(articles, embedder=Embedder(cache_dir=tmp_path))
    passages = len(counting)
    assert passages == len(set(passage_texts(articles))) > 0
    assert _cache_file(tmp_path).exists()

    counting.clear()
    again = Index(articles, embedder=Embedder(cache_dir=tmp_path))  # a new worker: memory empty
    assert counting == []  # every passage came from the disk cache
    query = "how do I change the card my subscription is charged to"
    hits = again.search(query, 3)
    assert counting == [query]  # queries are embedded, never stored
    assert [(h.article.key, h.score) for h in hits] == [(h.article.key, h.score) for h in first.search(query, 3)]
    assert text_key(query) not in VectorCache(_cache_file(tmp_path), Embedder.packaged_model_id()).load()


def test_only_missing_passages_are_embedded_and_then_written(tmp_path, counting, articles):
    Index(articles[:2], embedder=Embedder(cache_dir=tmp_path))
    counting.clear()
    Index(articles, embedder=Embedder(cache_dir=tmp_path))
    new = set(passage_texts(articles)) - set(passage_texts(articles[:2]))
    assert set(counting) == new and len(counting) == len(new)
    stored = VectorCache(_cache_file(tmp_path), Embedder.packaged_model_id()).load()
    assert set(stored) == {text_key(t) for t in passage_texts(articles)}


def test_cached_vectors_are_another_models_never(tmp_path, counting, articles):
    Index(articles, embedder=Embedder(cache_dir=tmp_path))
    other = VectorCache(_cache_file(tmp_path), "another-model")
    assert other.load() == {}  # the file records its model


@pytest.mark.parametrize("damage", [b"", b"not a zip file at all", "truncated"])
def test_a_corrupt_cache_is_logged_and_rebuilt(tmp_path, counting, articles, damage, caplog):
    Index(articles, embedder=Embedder(cache_dir=tmp_path))
    path = _cache_file(tmp_path)
    path.write_bytes(path.read_bytes()[:200] if damage == "truncated" else damage)
    counting.clear()
    index = Index(articles, embedder=Embedder(cache_dir=tmp_path))  # no exception
    assert len(counting) == len(set(passage_texts(articles)))  # embedded again
    assert "unreadable" in caplog.text
    assert index.search("reset my password", 1)
    stored = VectorCache(path, Embedder.packaged_model_id()).load()
    assert set(stored) == {text_key(t) for t in passage_texts(articles)}  # and written back whole


def test_an_unwritable_cache_folder_only_costs_the_embedding(tmp_path, counting, articles, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    Index(articles, embedder=Embedder(cache_dir=blocker / "kb_vectors"))  # mkdir fails: logged
    assert "could not be written" in caplog.text


def _build(directory: str, first: int, barrier) -> None:
    articles = load_articles(HELP_CENTER, "help")
    many = [
        Article("help", f"{first}-{i}", "", f"Article {first}-{i}", f"Text number {i} of batch {first}.", "u")
        for i in range(40)
    ]
    embedder = Embedder(cache_dir=Path(directory))
    barrier.wait()
    for n in range(5):  # rebuilds, as after syncs, racing the other process's writes
        Index(articles + many[: 8 * (n + 1)], embedder=embedder)


def test_two_indexes_built_at_once_leave_a_readable_cache(tmp_path, counting):
    context = multiprocessing.get_context("fork")  # the fake model is patched in; fork keeps it
    barrier = context.Barrier(2)
    processes = [context.Process(target=_build, args=(str(tmp_path), n, barrier)) for n in (1, 2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    stored = VectorCache(_cache_file(tmp_path), Embedder.packaged_model_id()).load()
    help_center = {text_key(t) for t in passage_texts(load_articles(HELP_CENTER, "help"))}
    assert help_center <= set(stored)  # both wrote them: last writer wins, nothing is torn
    for vector in stored.values():
        assert vector.shape == (16,) and abs(float(np.linalg.norm(vector.astype(np.float32))) - 1) < 1e-2
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind
    # Every entry is right for its text, whichever process wrote it.
    texts = passage_texts(load_articles(HELP_CENTER, "help"))
    for text in texts:
        assert np.allclose(stored[text_key(text)].astype(np.float32), _vector(text), atol=1e-3)


def test_the_shipped_seed_covers_the_bundled_help_center_for_the_current_model():
    model_id = Embedder.packaged_model_id()
    seed = VectorCache(runner.SEED_VECTORS, model_id).load()
    texts = passage_texts(load_articles(runner.HELP_CENTER, "arduino"))
    assert len(texts) > 1500
    assert {text_key(t) for t in texts} <= set(seed)
    # float16, as close to the model's own float32 vectors as the cache promises
    sample = texts[:: len(texts) // 6][:6]
    from bot.kb.minilm import MiniLM

    fresh = MiniLM().encode(sample)
    stored = np.stack([seed[text_key(t)].astype(np.float32) for t in sample])
    cosines = (fresh * stored).sum(1) / np.linalg.norm(stored, axis=1)
    assert (cosines >= 0.999).all()


def test_the_demo_copies_the_seed_into_the_workers_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.kb.vector_cache.default_cache_dir", lambda: tmp_path)
    monkeypatch.delenv("KB_RANKING", raising=False)
    monkeypatch.delenv("KB_EMBEDDING_MODEL", raising=False)
    runner._seed_vector_cache()
    model_id = Embedder.packaged_model_id()
    copied = VectorCache(_cache_file(tmp_path), model_id).load()
    assert set(copied) == set(VectorCache(runner.SEED_VECTORS, model_id).load())
