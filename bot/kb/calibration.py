"""Calibrated relevance: the probability that a retrieved article is a right source. Pure.

A raw BM25 or fused score says how well an article matches, not whether it answers the ticket:
the score of a right article varies with the ticket's length and wording. A small logistic
model turns three features of each hit into a probability:

- `score`: the normalised ranking score: BM25 relevance (0..1, `Hit.lexical`), or with
  embeddings the fused score (cosine + lexical weight × BM25 relevance). Neither grows with
  the size of the help center, as raw BM25 does, so a calibration carries over;
- `margin`: that score minus the next article's (a clear winner is more often right);
- `title`: the share of the article's title words (stemmed) that the ticket itself contains
  (expansion words not counted).

It is fitted (`python -m bot kb calibrate`) on questions with known answers, and unanswerable
ones, over the top three hits of each: the label is "this article is one of the question's
answers". The coefficients are data, in `config/kb_calibration.yaml`, one model per ranking
(`bm25`, `hybrid`), since the scores differ. The policy's `knowledge.min_relevance` is then a
probability: an article is a source when it is at least that likely to be a right one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

FEATURES = ("score", "margin", "title")
DEPTH = 3  # hits per question used for fitting: the policy's max_sources


class CalibrationFileError(ValueError):
    pass


@dataclass(frozen=True)
class Calibration:
    """P(right source) = sigmoid(intercept + sum(coef * (x - mean) / scale))."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.intercept + sum(
            c * (values[name] - m) / s
            for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )
        return 1 / (1 + math.exp(-z)) if z > -500 else 0.0

    def as_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "coef": [round(v, 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
        }


def fit(rows: Sequence[Mapping[str, float]], labels: Sequence[int], c: float = 1.0) -> Calibration:
    """A logistic regression (scikit-learn, L2, standardised features) over feature rows."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise ValueError("calibration needs both right and wrong hits")
    x = np.array([[row[name] for name in FEATURES] for row in rows], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, np.array(labels))
    return Calibration(
        FEATURES, tuple(map(float, mean)), tuple(map(float, scale)),
        tuple(map(float, model.coef_[0])), float(model.intercept_[0]),
    )


def parse_calibration(data: object, source: str = "calibration") -> dict[str, Calibration]:
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{source}: expected a mapping of ranking -> model")
    models = {}
    for ranking, model in data.items():
        if ranking == "fitted_on":
            continue
        try:
            features = tuple(str(f) for f in model["features"])
            parts = [tuple(float(v) for v in model[key]) for key in ("mean", "scale", "coef")]
            if set(features) - set(FEATURES) or any(len(p) != len(features) for p in parts):
                raise ValueError(f"features must be among {', '.join(FEATURES)}, one value each")
            if any(s <= 0 for s in parts[1]):
                raise ValueError("scales must be positive")
            models[str(ranking)] = Calibration(features, parts[0], parts[1], parts[2], float(model["intercept"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationFileError(f"{source}: {ranking}: {exc}") from None
    return models


def load_calibration(path: str | Path) -> dict[str, Calibration]:
    """The models in `path` by ranking; none when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationFileError(f"{path}: {exc}") from None
    return parse_calibration(data, str(path))


def save_calibration(path: str | Path, models: Mapping[str, Calibration], note: str) -> None:
    header = (
        "# Calibrated relevance (bot/kb/calibration.py; README, \"Knowledge base\"): one logistic\n"
        "# model per ranking. Written by `python -m bot kb calibrate`; refit it for another help\n"
        "# center or embedding model.\n"
    )
    data: dict[str, object] = {"fitted_on": note}
    data.update({ranking: model.as_dict() for ranking, model in sorted(models.items())})
    Path(path).write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
