"""Train the bundled triage model from the recipe in config/training/default.yaml.

    python -m bot.triage.build_default [--recipe FILE] [--out DIR]   (or: make model)

Reproducible: the recipe fixes the files, the mapping, the per-intent sample (seeded) and the
training options, and training itself is deterministic.
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections import Counter
from pathlib import Path

import click
import yaml

from bot.settings import DEFAULT_MODEL_DIR, PROJECT_ROOT
from bot.triage.data import DROP, Columns, DataError, LabelledTicket, read_tickets
from bot.triage.model import TrainOptions, train
from bot.triage.model_io import save_model

DEFAULT_RECIPE = PROJECT_ROOT / "config" / "training" / "default.yaml"


def load_recipe(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            recipe = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the recipe {path}: {exc}") from None
    if not isinstance(recipe, dict) or not recipe.get("sources"):
        raise DataError(f"{path}: a recipe needs `sources`")
    return recipe


def assemble(recipe: dict, root: Path = PROJECT_ROOT) -> tuple[list[LabelledTicket], dict]:
    """The training tickets, and a summary of where they came from."""
    rng = random.Random(int(recipe.get("seed", 0)))
    cap = int(recipe.get("per_intent", 0)) or None
    tickets: list[LabelledTicket] = []
    summary: dict = {}
    for source in recipe["sources"]:
        path = root / source["file"]
        mapping = source.get("mapping")
        if mapping is None:  # our own tickets: already labelled with our categories
            chosen = read_tickets(path)
        else:
            text_cols = tuple(source["text"])
            # Read with each intent standing for itself (an intent the recipe does not name is
            # refused as an unknown label), to keep the intents apart: the cap is per intent.
            # Chat-like one-liners: the text is the body, as a customer's message would be.
            columns = Columns(text_cols, source["label"], first_is_subject=False)
            by_intent: dict[str, list[LabelledTicket]] = {}
            for ticket in read_tickets(path, columns, {label: label for label in mapping}):
                by_intent.setdefault(ticket.category, []).append(ticket)
            # `intents`: which escalation intents a source intent shows. A source with this
            # section is labelled for all of them: an intent it does not list shows none.
            signals = source.get("intents")
            chosen = []
            for intent in sorted(by_intent):
                category = mapping[intent]
                if category in (None, DROP):
                    continue
                examples = by_intent[intent]
                if cap and len(examples) > cap:
                    examples = rng.sample(examples, cap)
                shown = None if signals is None else frozenset(signals.get(intent) or ())
                chosen += [
                    LabelledTicket(t.subject, t.body, category, intents=shown) for t in examples
                ]
        tickets += chosen
        summary[source["file"]] = dict(sorted(Counter(t.category for t in chosen).items()))
    return tickets, summary


def build(recipe_path: Path = DEFAULT_RECIPE, out: Path = DEFAULT_MODEL_DIR, progress=print) -> dict:
    recipe = load_recipe(recipe_path)
    tickets, summary = assemble(recipe)
    options = TrainOptions(**(recipe.get("train") or {}))
    model = train(tickets, options, progress=progress)
    model.meta.update(
        name=str(recipe.get("name", "triage-default")),
        recipe_version=str(recipe.get("version", "")),
        training_data={
            "n": len(tickets),
            "sha256": data_digest(tickets),
            "sources": summary,
        },
    )
    save_model(model, out)
    return model.meta


def data_digest(tickets) -> str:
    h = hashlib.sha256()
    for t in tickets:
        intents = ",".join(sorted(t.intents)) if t.intents is not None else "?"
        h.update(f"{t.category}\x1f{t.subject}\x1f{t.body}\x1f{intents}\x1e".encode())
    return h.hexdigest()[:16]


@click.command(help="Train the bundled triage model from its recipe.")
@click.option("--recipe", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=DEFAULT_RECIPE, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_MODEL_DIR, show_default=True)
def main(recipe: Path, out: Path) -> None:
    try:
        meta = build(recipe, out, progress=lambda m: click.echo(m, err=True))
    except DataError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    cv = meta["cross_validation"]
    click.echo(
        f"wrote {out}: {meta['training_data']['n']} tickets, cross-validated accuracy "
        f"{cv['accuracy']}, macro-F1 {cv['macro_f1']}, ECE {cv['ece']}"
    )


if __name__ == "__main__":
    main()
