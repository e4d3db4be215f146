r"""Triage decisions on the independent evaluation tickets (tests/eval/): category, and the
escalation intents the policy requires (the policy's keyword lists plus the local engine's
detector, as the rules combine them), per intent and per language.

    python bench/decision_quality.py                 # the development half: tune on this
    python bench/decision_quality.py --split test    # the test half: report once, never tune
    python bench/decision_quality.py --model DIR --policy FILE --offline-config FILE

`--model`, `--policy` and `--offline-config` measure another engine or policy on the same
tickets, e.g. the ones a release shipped with (the "before" figures of the README).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL = ROOT / "tests" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "test2"), default="dev")
    parser.add_argument("--model", default=str(ROOT / "bot" / "triage" / "default_model"))
    parser.add_argument("--policy", default=str(ROOT / "config" / "policy.yaml"))
    parser.add_argument("--offline-config", default=str(ROOT / "config" / "offline.yaml"))
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args()

    from bot.llm.offline import OfflineEngine
    from bot.policy import load_policy
    from bot.triage.data import read_tickets
    from bot.triage.evaluate import evaluate_engine

    tickets = []
    for path in sorted(EVAL.glob(f"tickets_*_{args.split}.jsonl")):
        tickets += read_tickets(path)
    policy = load_policy(args.policy)
    engine = OfflineEngine.from_files(args.offline_config, args.model)
    started = time.perf_counter()
    report = evaluate_engine(engine, tickets, policy.confidence_threshold, policy=policy)
    ms = (time.perf_counter() - started) * 1000 / len(tickets)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"{len(tickets)} tickets ({args.split}), model {engine.model}, policy {policy.version}, "
          f"{ms:.1f} ms a ticket\n")
    print(f"category: accuracy {report['accuracy']}, macro-F1 {report['macro_f1']}")
    intents = report["intents"]
    print(f"\n{'intent':12s} {'n':>4s} {'recall':>7s} {'precision':>9s}   keywords alone (r/p)   local alone (r/p)")
    for name, entry in intents["per_intent"].items():
        kw, local = entry.get("keywords_alone", {}), entry.get("local_alone", {})
        print(f"{name:12s} {entry['positives']:4d} {entry['recall']!s:>7s} {entry['precision']!s:>9s}"
              f"   {kw.get('recall')!s:>6s} / {kw.get('precision')!s:<10s}"
              f"   {local.get('recall')!s:>6s} / {local.get('precision')!s}")
    print(f"\n{'language':9s} {'n':>4s} {'category acc':>12s} {'all intents found':>18s} "
          f"{'escalation r/p':>15s}")
    by_language = _category_by_language(tickets, engine)
    for language, entry in intents["per_language"].items():
        esc = entry["escalation"]
        print(f"{language:9s} {entry['n']:4d} {by_language.get(language, 0):12.3f} "
              f"{entry['all_intents_found']!s:>18s} {esc['recall']!s:>7s}/{esc['precision']!s}")
    print("\nmissed (first few per intent):")
    for name, entry in intents["per_intent"].items():
        for line in entry["missed"][:4]:
            print(f"  {name:10s} {line}")
    print("false alarms (first few per intent):")
    for name, entry in intents["per_intent"].items():
        for line in entry["false_alarms"][:3]:
            print(f"  {name:10s} {line}")


def _category_by_language(tickets, engine) -> dict[str, float]:
    predictions = engine.classifier.predict([(t.subject, t.body) for t in tickets])
    totals: dict[str, list[int]] = {}
    for ticket, prediction in zip(tickets, predictions, strict=True):
        right = totals.setdefault(ticket.language or "?", [0, 0])
        right[0] += prediction.category == ticket.category
        right[1] += 1
    return {language: hits / n for language, (hits, n) in totals.items()}


if __name__ == "__main__":
    main()
