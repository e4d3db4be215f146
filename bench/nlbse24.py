r"""The local triage model on the NLBSE'24 issue-classification data, against the competition's
published SetFit baseline (mean per-repository macro-F1 0.827 on its held-out test split).

Stratified 5-fold cross-validation on the competition's training split, one model for all five
repositories (as `python -m bot train` would train it), figures pooled and per repository.

The data is public: the NLBSE'24 tool competition's repository,
https://github.com/nlbse2024/issue-report-classification, file `data/issues_train.csv` (1,500
issues; the copy measured in README.md is identical to the file at commit 2927bc67, 2024-01-22).
It has no license (the repository's LICENSE file is empty), so it is never copied into this
project: download it and pass its path.

    curl -fsSLo /tmp/issues_train.csv \
        https://raw.githubusercontent.com/nlbse2024/issue-report-classification/main/data/issues_train.csv
    python bench/nlbse24.py /tmp/issues_train.csv

With `--test data/issues_test.csv` (the competition's held-out split, 1,500 issues, same
repository) it trains once on the whole training split and reports on the test split: the
same protocol as the published baseline.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SETFIT = {"facebook/react": 0.8718, "tensorflow/tensorflow": 0.8644, "microsoft/vscode": 0.8262,
          "bitcoin/bitcoin": 0.7555, "opencv/opencv": 0.8173}
MAPPING = ["bug=Bug report", "feature=Feature request", "question=Technical"]


def _issues(path: str):
    import numpy as np

    from bot.triage.data import Columns, parse_mapping, read_tickets

    tickets = read_tickets(path, Columns(("title", "body"), "label"), parse_mapping(MAPPING))
    csv.field_size_limit(10**9)
    with open(path, encoding="utf-8", newline="") as fh:
        repos = np.array([row["repo"] for row in csv.DictReader(fh)])
    assert len(repos) == len(tickets)
    return tickets, repos


def main(path: str, test_path: str | None = None) -> None:
    import numpy as np

    from bot.triage.metrics import classification_report
    from bot.triage.model import TrainOptions, cross_validated, train

    tickets, repos = _issues(path)
    started = time.perf_counter()
    if test_path:
        model = train(tickets, TrainOptions())
        test, repos = _issues(test_path)
        predictions = model.predict([(t.subject, t.body) for t in test])
        labels = model.labels
        y = np.array([labels.index(t.category) for t in test])
        probs = np.array([[p.probabilities[label] for label in labels] for p in predictions])
        protocol = f"trained on {len(tickets)} issues, tested on the {len(test)} of the test split"
    else:
        labels, y, probs = cross_validated(tickets, TrainOptions())
        protocol = f"{len(tickets)} issues, 5-fold cross-validation"
    seconds = time.perf_counter() - started
    predicted = probs.argmax(axis=1)

    def report(mask):
        return classification_report([labels[i] for i in y[mask]], [labels[i] for i in predicted[mask]],
                                     probs[mask].max(axis=1), labels, 0.7)

    print(f"{protocol}, one model for all repositories ({seconds:.0f} s)\n")
    print(f"{'repository':24s} {'macro-F1':>9s} {'SetFit (test split)':>20s}")
    per_repo = []
    for repo in SETFIT:
        f1 = report(repos == repo)["macro_f1"]
        per_repo.append(f1)
        print(f"{repo:24s} {f1:9.3f} {SETFIT[repo]:20.3f}")
    overall = report(np.ones(len(y), dtype=bool))
    print(f"{'mean of repositories':24s} {np.mean(per_repo):9.3f} {np.mean(list(SETFIT.values())):20.3f}")
    print(f"{'pooled':24s} {overall['macro_f1']:9.3f}")
    print(f"\naccuracy {overall['accuracy']:.3f}, ECE {overall['ece']:.3f}, "
          f"share at confidence >= 0.7: {overall['above_threshold']['share']:.2f} "
          f"(accuracy there {overall['above_threshold']['accuracy']:.3f})")
    for label in labels:
        c = overall["per_class"][label]
        print(f"  {label:16s} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("issues_train", help="path of the competition's data/issues_train.csv (see above)")
    parser.add_argument("--test", help="path of its data/issues_test.csv: report on the test split")
    arguments = parser.parse_args()
    main(arguments.issues_train, arguments.test)
