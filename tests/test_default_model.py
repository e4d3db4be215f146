"""The bundled model is what its recipe makes, from data the project may ship, and it is as
good on tickets it never saw as the README says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.settings import DEFAULT_MODEL_DIR, PROJECT_ROOT
from bot.triage.build_default import DEFAULT_RECIPE, assemble, build, data_digest, load_recipe
from bot.triage.data import read_tickets
from bot.triage.model_io import load_model

CORPUS = PROJECT_ROOT / "bot" / "triage" / "corpus"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("default_model")
    build(DEFAULT_RECIPE, out, progress=lambda message: None)
    return out


def test_the_recipe_rebuilds_the_bundled_model(rebuilt):
    bundled = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
    again = json.loads((rebuilt / "model.json").read_text())
    assert again["training_data"] == bundled["training_data"]  # same tickets, same sample
    assert again["recipe_version"] == bundled["recipe_version"]
    # Same machine as the one that built it: byte for byte. Elsewhere a CPU's floating-point
    # kernels may differ in the last bit, so the decisions are compared, not the bytes.
    model, fresh = load_model(DEFAULT_MODEL_DIR), load_model(rebuilt)
    tickets = read_tickets(CORPUS / "eval_test.jsonl") + read_tickets(CORPUS / "eval_dev.jsonl")
    pairs = [(t.subject, t.body) for t in tickets]
    for a, b in zip(model.predict(pairs), fresh.predict(pairs), strict=True):
        assert a.category == b.category
        assert abs(a.confidence - b.confidence) < 1e-3


def test_the_training_data_is_only_what_the_project_may_ship():
    recipe = load_recipe(DEFAULT_RECIPE)
    files = {Path(source["file"]).name for source in recipe["sources"]}
    assert files == {
        "banking77.csv", "bitext.csv", "written.jsonl", "varied_en.jsonl", "varied_es_fr_de.jsonl",
        "varied_pt_it_nl.jsonl", "varied2_en_es_fr_de.jsonl", "varied2_pt_it_nl_en.jsonl",
    }
    assert not any("nlbse" in str(p).lower() for p in PROJECT_ROOT.joinpath("bot").rglob("*"))
    # The evaluation sets (the project's own, and the independent ones) are never trained on,
    # nor are the demo's tickets.
    tickets, _ = assemble(recipe)
    training = {_words(t.subject, t.body) for t in tickets}
    held_out_files = [CORPUS / "eval_dev.jsonl", CORPUS / "eval_test.jsonl",
                      *sorted((PROJECT_ROOT / "tests" / "eval").glob("tickets_*.jsonl"))]
    for path in held_out_files:
        held_out = {_words(t.subject, t.body) for t in read_tickets(path)}
        shared = {words for words in training & held_out if len(words.split()) > 3}
        assert not shared, path.name  # both sets have a bare "hello?", written independently
    demo = json.loads((PROJECT_ROOT / "bot" / "demo" / "sample_helpdesk.json").read_text())
    demo_texts = {_words(t["subject"], t["description"]) for t in demo["tickets"]}
    assert not demo_texts & training
    assert data_digest(tickets) == json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())[
        "training_data"]["sha256"]


def _words(subject: str, body: str) -> str:
    return " ".join(f"{subject} {body}".casefold().split())


def test_every_category_is_learned_from_our_own_tickets_too():
    _, summary = assemble(load_recipe(DEFAULT_RECIPE))
    written = summary["bot/triage/corpus/written.jsonl"]
    assert set(written) == {"Billing", "Technical", "Feature request", "Bug report", "Account access", "Other"}
    # The public sets have no feature requests or bug reports at all.
    for public in ("bot/triage/corpus/banking77.csv", "bot/triage/corpus/bitext.csv"):
        assert "Feature request" not in summary[public] and "Bug report" not in summary[public]


@pytest.mark.parametrize("name", ["eval_dev.jsonl", "eval_test.jsonl"])
def test_held_out_figures_hold(name):
    """Floors a little under the README's figures: a model change that loses them fails here."""
    from bot.llm.offline import OfflineEngine
    from bot.triage.evaluate import evaluate_engine

    engine = OfflineEngine.from_files(PROJECT_ROOT / "config" / "offline.yaml", DEFAULT_MODEL_DIR)
    report = evaluate_engine(engine, read_tickets(CORPUS / name), threshold=0.7)
    assert report["macro_f1"] >= 0.78
    assert report["ece"] <= 0.12
    assert report["above_threshold"]["accuracy"] >= 0.9
    assert report["language"]["accuracy"] >= 0.95
    assert report["frustrated"]["precision"] >= 0.7 and report["frustrated"]["recall"] >= 0.8


def test_intent_figures_hold_on_the_independent_development_tickets():
    """Floors a little under the README's development figures (the test half is measured, never
    asserted on: a floor there would invite tuning on it)."""
    from bot.llm.offline import OfflineEngine
    from bot.policy import load_policy
    from bot.triage.evaluate import evaluate_engine

    engine = OfflineEngine.from_files(PROJECT_ROOT / "config" / "offline.yaml", DEFAULT_MODEL_DIR)
    tickets = [t for path in sorted((PROJECT_ROOT / "tests" / "eval").glob("tickets_*_dev.jsonl"))
               for t in read_tickets(path)]
    policy = load_policy(PROJECT_ROOT / "config" / "policy.yaml")
    report = evaluate_engine(engine, tickets, threshold=0.7, policy=policy)
    assert report["macro_f1"] >= 0.8
    per_intent = report["intents"]["per_intent"]
    for intent, recall in {"security": 0.9, "legal": 0.9, "refund": 0.9, "churn": 0.7,
                           "frustrated": 0.85}.items():
        assert per_intent[intent]["recall"] >= recall, intent
        assert per_intent[intent]["precision"] >= 0.45, intent
    # Every language's tickets that need an escalation get one.
    for language, entry in report["intents"]["per_language"].items():
        assert entry["escalation"]["recall"] >= 0.85, language
