"""Evaluation figures for a classifier with a confidence: pure functions over plain lists.

Calibration is what the rules rely on (the 0.7 threshold, the hybrid's bar), so it is
measured, not assumed: expected calibration error over equal-width confidence bins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

ECE_BINS = 10


def classification_report(
    truth: Sequence[str],
    predicted: Sequence[str],
    confidence: Sequence[float],
    labels: Sequence[str],
    threshold: float,
) -> dict:
    """n, accuracy, macro_f1, per-class P/R/F1, confusion matrix, confidence figures."""
    n = len(truth)
    if n == 0:
        raise ValueError("nothing to evaluate")
    truth_a, pred_a = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    conf = np.asarray(confidence, dtype=float)
    correct = truth_a == pred_a
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t], index[p]] += 1
    per_class, f1s = {}, []
    for i, label in enumerate(labels):
        tp, predicted_n, support = matrix[i, i], matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": _r(precision),
            "recall": _r(recall),
            "f1": _r(f1),
            "support": int(support),
        }
        if support:  # macro-F1 over the classes present in the data, as scikit-learn does
            f1s.append(f1)
    above = conf >= threshold
    return {
        "n": n,
        "accuracy": _r(correct.mean()),
        "macro_f1": _r(float(np.mean(f1s))),
        "per_class": per_class,
        "confusion": {"labels": list(labels), "matrix": matrix.tolist()},
        "mean_confidence": _r(conf.mean()),
        "ece": _r(expected_calibration_error(conf, correct)),
        "threshold": threshold,
        "above_threshold": {
            "share": _r(above.mean()),
            "n": int(above.sum()),
            "accuracy": _r(correct[above].mean()) if above.any() else None,
        },
        "below_threshold_accuracy": _r(correct[~above].mean()) if (~above).any() else None,
    }


def expected_calibration_error(confidence, correct, bins: int = ECE_BINS) -> float:
    """Sum over equal-width bins of (share of tickets in bin) x |accuracy - mean confidence|."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 goes to the first bin.
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(hit[members].mean() - conf[members].mean())
    return float(total)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The T minimising the log loss of softmax(logits / T) (Guo et al., 2017).

    One parameter, fitted on out-of-fold predictions: it changes confidence, never the ranking
    of categories, so accuracy is untouched.
    """

    def loss(t: float) -> float:
        return -float(np.mean(log_softmax(logits / t, axis=1)[np.arange(len(targets)), targets]))

    result = minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded", options={"xatol": 1e-4})
    return round(float(result.x), 4)


def _r(value) -> float:
    return round(float(value), 4)
