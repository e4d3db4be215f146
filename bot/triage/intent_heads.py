"""The model's escalation-intent heads: one yes/no logistic regression per intent, on the same
features as the category, trained on the tickets labelled for intents (`intents` not None).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.intents import INTENTS

# The intents the model learns to detect (frustration has its own head, trained on the
# `frustrated` flag, which more data carries).
DETECTED_INTENTS: tuple[str, ...] = tuple(i for i in INTENTS if i != "frustrated")
MIN_INTENT_POSITIVES = 10


def intent_heads(x, intents, c: float) -> dict:
    """One yes/no head per intent, on the tickets labelled for intents. Balanced class weights:
    a missed refund costs more than a needless look, and the threshold (config/offline.yaml,
    tuned on development tickets) sets the trade-off."""
    known = [i for i, shown in enumerate(intents) if shown is not None]
    heads = {}
    for name in DETECTED_INTENTS:
        labels = [int(name in intents[i]) for i in known]
        if sum(labels) < MIN_INTENT_POSITIVES or len(labels) - sum(labels) < MIN_INTENT_POSITIVES:
            continue
        clf = LogisticRegression(C=c, max_iter=3000, solver="lbfgs", class_weight="balanced")
        coef, intercept = two_rows(clf.fit(x[known], labels))
        heads[name] = (coef.astype(np.float32), intercept.astype(np.float32))
    return heads


def two_rows(clf: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """A yes/no model as (2, features) weights and (2,) intercepts: opposite halves, which give
    the same probabilities under softmax. Every two-class head of the model is stored this way
    (the intents, frustration, a two-category model)."""
    row, bias = clf.coef_[0], clf.intercept_[0]
    return np.vstack([-row / 2, row / 2]), np.array([-bias / 2, bias / 2])
