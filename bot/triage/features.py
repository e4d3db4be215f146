"""Ticket text -> sparse TF-IDF features, in a form that is saved as plain data (no pickle).

A block is one TF-IDF space (word n-grams, character n-grams). Training fits it with
scikit-learn; what is kept is the vocabulary in index order and the idf weights, and
`transform` recomputes scikit-learn's TF-IDF from them exactly (tested against
`TfidfVectorizer`), so a saved model loads into any scikit-learn version without unpickling code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from bot.reply_text import new_text

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_NUMBER = re.compile(r"\b\d[\d.,:/-]*\b")
# What prepare() puts in place of code, links, addresses and numbers: never shown as evidence.
MARKERS = frozenset({"codeblock", "urlmarker", "emailmarker", "0"})
MAX_BODY_CHARS = 4000  # beyond this, long logs add noise and cost, not signal


def prepare(subject: str, body: str, subject_weight: int = 2) -> str:
    """The text the model sees: the subject (repeated, as it is the densest part) and the body
    with code blocks, URLs, e-mail addresses and numbers reduced to markers, and without the
    earlier mail a reply quotes (bot.reply_text).

    Generic on purpose: it runs on support tickets and on GitHub issues alike.
    """
    body = _HTML_COMMENT.sub(" ", new_text(body or ""))
    body = _QUOTED_LINE.sub(" ", body)
    body = _CODE_BLOCK.sub(" codeblock ", body)
    body = body[:MAX_BODY_CHARS]
    subject = subject or ""
    # Only the parts there are: separators around an empty subject would be a feature of
    # their own (and one that public one-line datasets, with no subjects, all share).
    text = " . ".join(part for part in [subject] * subject_weight + [body] if part.strip())
    text = _URL.sub(" urlmarker ", text)
    text = _EMAIL.sub(" emailmarker ", text)
    return _NUMBER.sub(" 0 ", text)


@dataclass
class Block:
    """One fitted TF-IDF space."""

    params: dict  # analyzer, ngram_range, min_df, max_df, max_features, lowercase, sublinear_tf
    vocabulary: list[str] = field(default_factory=list)  # term of each column
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _counter: CountVectorizer | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        vectorizer = TfidfVectorizer(dtype=np.float64, **_sklearn_params(self.params))
        matrix = vectorizer.fit_transform(texts)
        terms = vectorizer.get_feature_names_out()
        self.vocabulary = [str(t) for t in terms]
        self.idf = vectorizer.idf_.astype(np.float64)
        self._counter = None
        return matrix.tocsr()

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        if self._counter is None:
            params = _sklearn_params(self.params)
            for key in ("min_df", "max_df", "max_features", "sublinear_tf"):
                params.pop(key, None)
            self._counter = CountVectorizer(
                vocabulary={term: i for i, term in enumerate(self.vocabulary)}, dtype=np.float64, **params
            )
        counts = self._counter.transform(texts).tocsr()
        if self.params.get("sublinear_tf"):
            counts.data = np.log(counts.data) + 1.0
        weighted = counts @ sparse.diags(self.idf)
        return normalize(weighted, norm="l2", copy=False).tocsr()


def _sklearn_params(params: dict) -> dict:
    out = dict(params)
    if "ngram_range" in out:
        out["ngram_range"] = tuple(out["ngram_range"])
    return out


class FeatureSpace:
    """Several blocks side by side: one row per ticket."""

    def __init__(self, blocks: list[Block], subject_weight: int = 2):
        self.blocks = blocks
        self.subject_weight = subject_weight

    @classmethod
    def from_params(cls, block_params: list[dict], subject_weight: int = 2) -> FeatureSpace:
        return cls([Block(dict(p)) for p in block_params], subject_weight)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blocks)

    def texts(self, pairs) -> list[str]:
        return [prepare(subject, body, self.subject_weight) for subject, body in pairs]

    def fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        return sparse.hstack([b.fit_transform(texts) for b in self.blocks], format="csr")

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        return sparse.hstack([b.transform(texts) for b in self.blocks], format="csr")

    def term(self, column: int) -> tuple[str, str]:
        """(analyzer, term) of a column: to explain a prediction."""
        for block in self.blocks:
            if column < block.size:
                return block.params.get("analyzer", "word"), block.vocabulary[column]
            column -= block.size
        raise IndexError(column)
