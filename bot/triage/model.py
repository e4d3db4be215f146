"""The local triage model: TF-IDF features, a linear classifier, a calibrated confidence.

Trained by `python -m bot train`, loaded by the offline engine. Training is deterministic
(fixed folds, a deterministic solver, sorted vocabularies), so the same data gives the same
model, byte for byte. The confidence is the classifier's probability after temperature scaling
fitted on cross-validated predictions, so that "0.8" means right about 80 % of the time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from bot.domain import CATEGORIES
from bot.triage.data import DataError, LabelledTicket
from bot.triage.features import MARKERS, FeatureSpace
from bot.triage.intent_heads import intent_heads, two_rows
from bot.triage.metrics import classification_report, expected_calibration_error, fit_temperature

DEFAULT_BLOCKS = (
    {"analyzer": "word", "ngram_range": [1, 2], "min_df": 2, "sublinear_tf": True,
     "max_features": 150000},
    {"analyzer": "char_wb", "ngram_range": [2, 5], "min_df": 2, "sublinear_tf": True,
     "max_features": 200000},
)


PARALLEL_FROM = 2000  # tickets


@dataclass(frozen=True)
class TrainOptions:
    c: float = 10.0  # inverse regularisation of the logistic regression
    folds: int = 5  # cross-validation folds, for the calibration and the training report
    seed: int = 0
    blocks: tuple[dict, ...] = DEFAULT_BLOCKS
    subject_weight: int = 2
    threshold: float = 0.7  # reported in the cross-validation figures
    jobs: int = 0  # parallel fits; 0 = one per CPU core


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float  # calibrated probability of `category`
    probabilities: dict[str, float]
    priority: int | None  # None: the model has no priority head; the caller decides
    frustration: float | None  # probability the customer is frustrated; None: no such head
    evidence: tuple[str, ...]  # the words that weighed most for `category`
    # Probability of each escalation intent the model has a head for, and the words that
    # weighed most for it (what the note quotes the sentence around).
    intents: dict[str, float] = field(default_factory=dict)
    intent_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class TriageModel:
    features: FeatureSpace
    labels: list[str]
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    temperature: float = 1.0
    priority_levels: list[int] = field(default_factory=list)
    priority_coef: np.ndarray | None = None
    priority_intercept: np.ndarray | None = None
    frustration_coef: np.ndarray | None = None  # (2, features): not frustrated, frustrated
    frustration_intercept: np.ndarray | None = None
    # intent -> ((2, features) weights, (2,) intercept): not shown, shown
    intent_heads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # name, training data digest, cross-validation

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "local"))

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[Prediction]:
        """(subject, body) pairs -> predictions, in order."""
        if not pairs:
            return []
        x = self.features.transform(self.features.texts(pairs))
        logits = np.asarray(x @ self.coef.T) + self.intercept
        probs = softmax(logits / self.temperature, axis=1)
        priorities: list[int | None] = [None] * len(pairs)
        if self.priority_coef is not None:
            p_logits = np.asarray(x @ self.priority_coef.T) + self.priority_intercept
            priorities = [self.priority_levels[i] for i in p_logits.argmax(axis=1)]
        frustration: list[float | None] = [None] * len(pairs)
        if self.frustration_coef is not None:
            f_logits = np.asarray(x @ self.frustration_coef.T) + self.frustration_intercept
            frustration = [round(float(v), 4) for v in softmax(f_logits, axis=1)[:, 1]]
        intent_probs = {
            name: softmax(np.asarray(x @ coef.T) + intercept, axis=1)[:, 1]
            for name, (coef, intercept) in self.intent_heads.items()
        }
        out = []
        for row, (p, priority, frustrated) in enumerate(zip(probs, priorities, frustration, strict=True)):
            best = int(p.argmax())
            intents = {name: round(float(v[row]), 4) for name, v in intent_probs.items()}
            out.append(
                Prediction(
                    category=self.labels[best],
                    confidence=round(float(p[best]), 4),
                    probabilities={label: round(float(v), 4) for label, v in zip(self.labels, p, strict=True)},
                    priority=priority,
                    frustration=frustrated,
                    evidence=self._evidence(x.getrow(row), self.coef[best]),
                    intents=intents,
                    intent_terms={
                        name: self._evidence(x.getrow(row), self.intent_heads[name][0][1], limit=6)
                        for name in intents
                    },
                )
            )
        return out

    def _evidence(self, row, weights: np.ndarray, limit: int = 4) -> tuple[str, ...]:
        contributions = row.data * weights[row.indices]
        order = np.argsort(-contributions, kind="stable")
        words: list[str] = []
        for i in order:
            if contributions[i] <= 0 or len(words) == limit:
                break
            analyzer, term = self.features.term(int(row.indices[i]))
            if analyzer == "word" and term not in words and not MARKERS & set(term.split()):
                words.append(term)
        return tuple(words)


def train(
    tickets: Sequence[LabelledTicket],
    options: TrainOptions = TrainOptions(),
    progress: Callable[[str], None] = lambda message: None,
) -> TriageModel:
    labels, y, texts, folds = _prepare(tickets, options)
    started = time.monotonic()

    def fold_done(number: int) -> None:
        progress(f"fold {number}/{folds} done ({time.monotonic() - started:.1f} s)")

    final_job = delayed(_fit_final)(texts, y, [t.priority for t in tickets],
                                    [t.frustrated for t in tickets], options, len(labels),
                                    [t.intents for t in tickets])
    oof_logits, final = _out_of_fold(texts, y, folds, len(labels), options, fold_done, final_job)
    progress(f"final model trained ({time.monotonic() - started:.1f} s)")

    temperature = fit_temperature(oof_logits, y)
    model = TriageModel(
        features=final["space"],
        labels=labels,
        coef=final["coef"],
        intercept=final["intercept"],
        temperature=temperature,
        **final["heads"],
    )
    # No wall-clock time in the model's metadata: the same data must give the same files.
    model.meta["cross_validation"] = _cv_report(oof_logits, y, labels, temperature, folds, options)
    return model


def cross_validated(
    tickets: Sequence[LabelledTicket], options: TrainOptions = TrainOptions()
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(labels, true label index per ticket, calibrated out-of-fold probabilities): the
    predictions `train` reports on, for figures it does not compute (per group, per source)."""
    labels, y, texts, folds = _prepare(tickets, options)
    logits, _ = _out_of_fold(texts, y, folds, len(labels), options)
    return labels, y, softmax(logits / fit_temperature(logits, y), axis=1)


def _out_of_fold(texts, y, folds, classes, options, fold_done=lambda number: None, extra_job=None):
    """Out-of-fold logits of each ticket, and the result of `extra_job` (the final fit).

    The folds and the final model are independent fits: they run side by side, one per core.
    Each is deterministic, so the result does not depend on the number of cores.
    """
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=options.seed).split(texts, y))
    jobs = [delayed(_fit_fold)([texts[i] for i in tr], y[tr], [texts[i] for i in te], options, classes)
            for tr, te in splits]
    if extra_job is not None:
        jobs.append(extra_job)
    workers = max(1, min(options.jobs or os.cpu_count() or 1, len(jobs)))
    if len(texts) < PARALLEL_FROM:
        workers = 1  # starting worker processes costs more than it saves on small data
    logits, extra = np.zeros((len(texts), classes)), None
    for number, result in enumerate(Parallel(n_jobs=workers, return_as="generator")(jobs), start=1):
        if number <= folds:
            logits[splits[number - 1][1]] = result
            fold_done(number)
        else:
            extra = result
    return logits, extra


def _prepare(tickets, options: TrainOptions):
    labels = [c for c in CATEGORIES if any(t.category == c for t in tickets)]
    if len(labels) < 2:
        raise DataError("training needs tickets of at least two categories")
    y = np.array([labels.index(t.category) for t in tickets])
    smallest = int(np.bincount(y).min())
    if smallest < 2:
        rare = [labels[i] for i, n in enumerate(np.bincount(y)) if n < 2]
        raise DataError(f"each category needs at least 2 tickets; too few for {', '.join(rare)}")
    folds = max(2, min(options.folds, smallest))
    texts = FeatureSpace.from_params(list(options.blocks), options.subject_weight).texts(
        [(t.subject, t.body) for t in tickets]
    )
    return labels, y, texts, folds


def _fit_fold(train_texts, train_y, test_texts, options: TrainOptions, classes: int) -> np.ndarray:
    """Out-of-fold logits: for the calibration and the cross-validated figures."""
    with threadpool_limits(limits=1):  # see _fit_final
        return _fold_logits(train_texts, train_y, test_texts, options, classes)


def _fold_logits(train_texts, train_y, test_texts, options: TrainOptions, classes: int) -> np.ndarray:
    space = FeatureSpace.from_params(list(options.blocks), options.subject_weight)
    clf = _classifier(options).fit(space.fit_transform(train_texts), train_y)
    coef, intercept = _multiclass(clf, classes)  # stratified folds: every class is present
    return np.asarray(space.transform(test_texts) @ coef.T) + intercept


def _fit_final(texts, y, priorities, flags, options: TrainOptions, classes: int, intents=None) -> dict:
    """The model on all the data, with its priority, frustration and intent heads where the
    data has those labels."""
    # One BLAS thread: a multi-threaded sum can round differently with the number of threads,
    # and the same data must give the same model whether it runs here or in a worker process.
    with threadpool_limits(limits=1):
        return _final_model(texts, y, priorities, flags, options, classes, intents or [])


def _final_model(texts, y, priorities, flags, options: TrainOptions, classes: int, intents) -> dict:
    space = FeatureSpace.from_params(list(options.blocks), options.subject_weight)
    x = space.fit_transform(texts)
    coef, intercept = _multiclass(_classifier(options).fit(x, y), classes)
    heads: dict = {}
    if _has_priorities(priorities):
        levels = sorted({p for p in priorities if p is not None})
        known = [i for i, p in enumerate(priorities) if p is not None]
        p_coef, p_intercept = _multiclass(
            _classifier(options).fit(x[known], [levels.index(priorities[i]) for i in known]), len(levels)
        )
        heads.update(priority_levels=levels, priority_coef=p_coef.astype(np.float32),
                     priority_intercept=p_intercept.astype(np.float32))
    known = [i for i, f in enumerate(flags) if f is not None]
    if len(known) >= 50 and 10 <= sum(flags[i] for i in known) <= len(known) - 10:
        # Only where the data says; other tickets (public sets without the label) are left out.
        f_coef, f_intercept = _multiclass(
            _classifier(options).fit(x[known], [int(flags[i]) for i in known]), 2
        )
        heads.update(frustration_coef=f_coef.astype(np.float32),
                     frustration_intercept=f_intercept.astype(np.float32))
    heads["intent_heads"] = intent_heads(x, intents, options.c)
    return {"space": space, "coef": coef.astype(np.float32),
            "intercept": intercept.astype(np.float32), "heads": heads}


def _classifier(options: TrainOptions) -> LogisticRegression:
    # lbfgs is deterministic for a given input; multinomial loss is the default for >2 classes.
    return LogisticRegression(C=options.c, max_iter=3000, solver="lbfgs")


def _multiclass(clf: LogisticRegression, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, features) weights; a two-class model's single row becomes two opposite rows,
    which gives the same probabilities under softmax."""
    if classes == 2:
        return two_rows(clf)
    return clf.coef_, clf.intercept_


def _has_priorities(priorities: list[int | None]) -> bool:
    known = [p for p in priorities if p is not None]
    # Half the tickets at least, and two levels: otherwise the urgency lexicon does better.
    return len(known) >= max(10, len(priorities) // 2) and len(set(known)) >= 2


def _cv_report(logits, y, labels, temperature, folds, options) -> dict:
    raw = softmax(logits, axis=1)
    calibrated = softmax(logits / temperature, axis=1)
    predicted = calibrated.argmax(axis=1)
    report = classification_report(
        [labels[i] for i in y],
        [labels[i] for i in predicted],
        calibrated.max(axis=1),
        labels,
        options.threshold,
    )
    report["folds"] = folds
    report["temperature"] = temperature
    report["ece_before_calibration"] = round(
        expected_calibration_error(raw.max(axis=1), predicted == y), 4
    )
    return report
