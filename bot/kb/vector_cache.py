"""Passage vectors kept on disk, so a worker building its index embeds only passages it has never
seen: one `.npz` file per embedding model, under `instance/kb_vectors/` by default.

An entry is keyed by the sha256 of the text embedded (the passage with its article's title), and
the file records the model's id, so a vector is only ever reused for the same text and the same
model. Vectors are stored as float16 (cosine to the float32 vector above 0.9999); the embedder
rounds the vectors it computes the same way, so rankings do not depend on whether a vector came
from the cache.

Writes go to a temporary file in the same folder, then `os.replace`: readers see the old file or
the new one, never half of one. Several processes may write at once: each merges what is on disk
when it writes, and the last one wins (entries are content-addressed, so nothing wrong is ever
read, at worst a few vectors are computed again). A file that cannot be read is logged and
replaced at the next write. Deleting the folder is always safe: it only costs the embedding time.

`python -m bot.kb.vector_cache ARTICLES OUT` writes a seed file for a help center (see `seed`);
the demo ships one for the Arduino Help Center (bot/demo/kb_arduino/vectors-minilm.npz).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    from bot.settings import INSTANCE_DIR

    return INSTANCE_DIR / "kb_vectors"


class VectorCache:
    """The vectors of one embedding model, in one file: {sha256 of text: float16 unit vector}
    (in the file: `keys`, the (n, 32) uint8 digests, and `vectors`, (n, dim) float16)."""

    def __init__(self, path: Path, model_id: str):
        self.path = Path(path)
        self.model_id = model_id

    @classmethod
    def for_model(cls, model_id: str, directory: Path | None = None) -> VectorCache:
        name = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]
        return cls((directory or default_cache_dir()) / f"{name}.npz", model_id)

    def load(self) -> dict[str, np.ndarray]:
        """Every entry on disk; {} when there is no file, or it is unreadable or another model's."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT or str(data["model"]) != self.model_id:
                    log.warning("vector cache %s is for another model or format: ignored", self.path)
                    return {}
                keys, vectors = data["keys"], data["vectors"]
            if vectors.ndim != 2 or keys.shape != (len(vectors), 32):
                raise ValueError(f"keys of shape {keys.shape} for vectors of shape {vectors.shape}")
            return {k.tobytes().hex(): v for k, v in zip(keys, vectors, strict=True)}
        except FileNotFoundError:
            return {}
        except Exception as exc:  # noqa: BLE001 - any damage: embed again, never stop the worker
            log.warning("vector cache %s is unreadable (%s): it will be rebuilt", self.path, exc)
            return {}

    def add(self, entries: Mapping[str, np.ndarray]) -> bool:
        """Merge `entries` into the file (atomically). False, logged, when it cannot be written."""
        if not entries:
            return True
        merged = self.load()
        merged.update(entries)
        return self.write(merged)

    def write(self, entries: Mapping[str, np.ndarray]) -> bool:
        """Replace the file with exactly `entries` (atomically)."""
        keys = sorted(entries)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    save: Any = np.savez  # its stubs take **kwds for allow_pickle only
                    save(
                        out,
                        format=np.array(FORMAT),
                        model=np.array(self.model_id),
                        keys=np.array([list(bytes.fromhex(k)) for k in keys], dtype=np.uint8).reshape(-1, 32),
                        vectors=np.stack([np.asarray(entries[k]) for k in keys]).astype(np.float16)
                        if keys else np.zeros((0, 0), dtype=np.float16),
                    )
                os.chmod(temp, 0o644)  # mkstemp's 0600 would hide it from other users' workers
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("vector cache %s could not be written (%s)", self.path, exc)
            return False
        return True

    def merge_from(self, seed: Path) -> int:
        """Add a seed file's entries (same model only) that this cache lacks; returns how many."""
        entries = VectorCache(seed, self.model_id).load()
        have = self.load()
        missing = {k: v for k, v in entries.items() if k not in have}
        if missing and self.add(missing):
            return len(missing)
        return 0


def passage_texts(articles: Iterable[Any], passage_words: int | None = None) -> list[str]:
    """The texts an index embeds for these articles (as `bot.kb.index` makes them)."""
    from bot.kb.chunks import split_passages
    from bot.kb.index import IndexParams

    words = passage_words or IndexParams().passage_words
    return [f"{p.article.title}. {p.text}" for a in articles for p in split_passages(a, target=words)]


def seed(articles_file: Path, out: Path) -> tuple[int, int]:
    """Embed every passage of a JSONL/Markdown help center with the packaged model into `out`
    (reusing the vectors `out` already has, dropping the others). Returns (passages, newly embedded)."""
    from bot.kb.semantic import Embedder
    from bot.kb.sources.files import load_articles

    embedder = Embedder()
    cache = VectorCache(out, embedder.model_id)
    texts = list(dict.fromkeys(passage_texts(load_articles(articles_file, "seed"))))
    have = cache.load()
    todo = [t for t in texts if text_key(t) not in have]
    entries = {text_key(t): have[text_key(t)] for t in texts if text_key(t) in have}
    if todo:
        entries.update(zip((text_key(t) for t in todo), embedder.encode(todo), strict=True))
    cache.write(entries)  # exactly this help center's passages
    return len(texts), len(todo)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m bot.kb.vector_cache ARTICLES.jsonl OUT.npz")
    passages, embedded = seed(Path(argv[0]), Path(argv[1]))
    size = Path(argv[1]).stat().st_size
    print(f"{argv[1]}: {passages} passages ({embedded} embedded now), {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
