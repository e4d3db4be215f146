"""How long training the local triage model takes on 10,000 short tickets, on this machine.

The issue's budget: under 2 minutes on 2 CPU cores. The tickets are BANKING77's 10,003 real
customer questions (bundled, CC BY 4.0), with the default recipe's intent -> category mapping
(intents the recipe leaves out become "Other", so all 10,003 are used). Baseline, in the same
process: word n-grams only with the same classifier, the cheapest reasonable model.

    python bench/train_speed.py [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[: args.cores])
    from threadpoolctl import threadpool_limits

    from bot.settings import PROJECT_ROOT
    from bot.triage.build_default import DEFAULT_RECIPE, load_recipe
    from bot.triage.data import Columns, LabelledTicket, read_tickets
    from bot.triage.model import DEFAULT_BLOCKS, TrainOptions, train

    recipe = load_recipe(DEFAULT_RECIPE)
    source = next(s for s in recipe["sources"] if s["file"].endswith("banking77.csv"))
    mapping = {intent: category or "Other" for intent, category in source["mapping"].items()}
    raw = read_tickets(PROJECT_ROOT / source["file"], Columns(("text",), "category", False),
                       {k: k for k in mapping})
    tickets = [LabelledTicket(t.subject, t.body, mapping[t.category]) for t in raw]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{len(tickets)} tickets, {cores} CPU core(s)")
    word_only = tuple(b for b in DEFAULT_BLOCKS if b["analyzer"] == "word")
    with threadpool_limits(limits=args.cores):
        for label, options in (
            ("baseline: word n-grams only", TrainOptions(blocks=word_only)),
            ("default recipe (what `python -m bot train` runs)", TrainOptions()),
        ):
            started = time.perf_counter()
            model = train(tickets, options)
            seconds = time.perf_counter() - started
            cv = model.meta["cross_validation"]
            print(f"{label:50s} {seconds:6.1f} s   5-fold accuracy {cv['accuracy']:.3f}  "
                  f"macro-F1 {cv['macro_f1']:.3f}  ECE {cv['ece']:.3f}  features {model.features.size}")
    print("budget: 120 s")


if __name__ == "__main__":
    main()
