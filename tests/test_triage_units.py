"""The pure parts of the local triage model: metrics, calibration, features saved as data,
input readers, and LLM prices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, precision_recall_fscore_support

from bot.decisions import Usage
from bot.errors import SettingsError
from bot.llm.pricing import PriceTable
from bot.triage.data import Columns, DataError, parse_mapping, read_tickets
from bot.triage.features import Block, prepare
from bot.triage.metrics import classification_report, expected_calibration_error, fit_temperature

LABELS = ["Billing", "Technical", "Other"]


# -- metrics ---------------------------------------------------------------------------------


def test_report_agrees_with_scikit_learn():
    rng = np.random.default_rng(3)
    truth = list(rng.choice(LABELS, 200))
    predicted = [t if rng.random() < 0.7 else rng.choice(LABELS) for t in truth]
    report = classification_report(truth, predicted, [0.8] * 200, LABELS, threshold=0.7)
    assert report["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-4)
    p, r, f, support = precision_recall_fscore_support(truth, predicted, labels=LABELS)
    for i, label in enumerate(LABELS):
        assert report["per_class"][label] == {"precision": pytest.approx(p[i], abs=1e-4),
                                              "recall": pytest.approx(r[i], abs=1e-4),
                                              "f1": pytest.approx(f[i], abs=1e-4),
                                              "support": support[i]}
    matrix = np.array(report["confusion"]["matrix"])
    assert matrix.sum() == 200 and np.trace(matrix) == sum(t == q for t, q in zip(truth, predicted, strict=True))


def test_share_and_accuracy_above_the_threshold():
    truth = ["Billing", "Billing", "Other", "Other"]
    predicted = ["Billing", "Other", "Other", "Billing"]
    report = classification_report(truth, predicted, [0.9, 0.9, 0.7, 0.2], LABELS, threshold=0.7)
    assert report["above_threshold"] == {"share": 0.75, "n": 3, "accuracy": pytest.approx(2 / 3, abs=1e-4)}
    assert report["below_threshold_accuracy"] == 0.0


def test_ece_by_hand():
    # Bin (0.8, 0.9]: confidences 0.85, 0.85, one right -> |0.5 - 0.85| = 0.35, weight 1/2.
    # Bin (0.2, 0.3]: 0.25, 0.25, both right -> |1 - 0.25| = 0.75, weight 1/2.
    ece = expected_calibration_error([0.85, 0.85, 0.25, 0.25], [True, False, True, True])
    assert ece == pytest.approx(0.5 * 0.35 + 0.5 * 0.75)
    assert expected_calibration_error([1.0, 0.0], [True, False]) == pytest.approx(0.0)


def test_temperature_scaling_repairs_overconfidence_without_changing_decisions():
    rng = np.random.default_rng(0)
    n, classes = 3000, 3
    y = rng.integers(0, classes, n)
    true_logits = rng.normal(0, 1, (n, classes))
    true_logits[np.arange(n), y] += 1.0
    probs = softmax(true_logits, axis=1)
    y = np.array([rng.choice(classes, p=p) for p in probs])  # labels drawn from calibrated probs
    overconfident = true_logits * 3
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(3, rel=0.15)
    before = softmax(overconfident, axis=1)
    after = softmax(overconfident / t, axis=1)
    assert (before.argmax(1) == after.argmax(1)).all()
    hit = before.argmax(1) == y
    assert expected_calibration_error(after.max(1), hit) < expected_calibration_error(before.max(1), hit) / 3


# -- features ----------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"analyzer": "word", "ngram_range": [1, 2], "min_df": 1, "sublinear_tf": True},
    {"analyzer": "char_wb", "ngram_range": [2, 4], "min_df": 1, "sublinear_tf": False},
])
def test_saved_block_reproduces_scikit_learns_tfidf(params):
    texts = ["the invoice was charged twice", "Login fails, login fails again!", "dark mode please",
             "Ça ne marche plus"]
    block = Block(dict(params))
    fitted = block.fit_transform(texts)
    reloaded = Block(dict(params), list(block.vocabulary), block.idf.copy())
    reference = TfidfVectorizer(**{**params, "ngram_range": tuple(params["ngram_range"])}).fit(texts)
    new = ["invoice charged", "login again please", "nothing known"]
    assert abs(reloaded.transform(new) - reference.transform(new)).max() < 1e-12
    assert abs(reloaded.transform(texts) - fitted).max() < 1e-12


def test_prepare_reduces_code_links_addresses_numbers_and_quoted_replies():
    text = prepare("Order 12345", "See https://x.test/a?b=1 or mail me@x.test\n```\nTrace 42\n```\n> old reply",
                   subject_weight=2)
    assert text.count("Order") == 2
    for gone in ("12345", "https://", "me@x.test", "Trace", "old reply"):
        assert gone not in text
    for marker in ("urlmarker", "emailmarker", "codeblock", " 0 "):
        assert marker in text


# -- readers -----------------------------------------------------------------------------------


def test_csv_with_bom_multiline_bodies_and_mapping(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes('\ufefftitle,body,label\n"Crash","line one\nline two",bug\nIdea,"add it",feature\n'
                     .encode("utf-8"))
    tickets = read_tickets(path, Columns(("title", "body"), "label"),
                           parse_mapping(["bug=Bug report", "feature=feature request"]))
    assert [(t.subject, t.body, t.category) for t in tickets] == [
        ("Crash", "line one\nline two", "Bug report"), ("Idea", "add it", "Feature request")]


def test_tsv_and_a_malformed_line_number(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("subject\tbody\tcategory\nA\tb\tBilling\n")
    assert read_tickets(path)[0].category == "Billing"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subject": "a", "body": "b", "category": "Billing"}\n\n[1, 2]\n')
    with pytest.raises(DataError, match="line 3: expected a JSON object"):
        read_tickets(bad)


def test_mapping_errors_name_the_problem():
    with pytest.raises(DataError, match="write it as SOURCE=Category"):
        parse_mapping(["bug"])
    with pytest.raises(DataError, match="mapped twice"):
        parse_mapping(["bug=Bug report", "bug=Technical"])


# -- prices ------------------------------------------------------------------------------------


def prices(tmp_path, text):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    return PriceTable.from_file(path)


def test_cost_with_cached_tokens_and_prefix_match(tmp_path):
    table = prices(tmp_path, "models:\n  gpt-x: {input: 2, cached_input: 0.5, output: 8}\n"
                             "  gpt-x-mini: {input: 0.2, output: 0.8}\n")
    # 1000 prompt tokens, 400 of them cached, 100 completion: 600*2 + 400*0.5 + 100*8 per million.
    assert table.cost("gpt-x", Usage(1000, 100, 400)) == pytest.approx(0.0022)
    assert table.price_of("gpt-x-mini-2025-01-01").input == 0.2  # a dated snapshot
    assert table.price_of("gpt-x-audio-preview") is None  # another model, not gpt-x
    assert table.cost("gpt-x-mini", Usage(1000, 0, 1000)) == pytest.approx(0.0002)  # no cached price
    assert table.cost("llama", Usage(10, 10)) is None
    assert table.cost("llama", Usage()) == 0.0


def test_the_shipped_price_list_loads_and_bad_ones_are_refused(tmp_path):
    from bot.settings import PROJECT_ROOT

    shipped = PriceTable.from_file(PROJECT_ROOT / "config" / "llm_prices.yaml")
    assert shipped.price_of("gpt-4o-mini") is not None
    with pytest.raises(SettingsError, match="malformed"):
        prices(tmp_path, "models:\n  m: {input: 1}\n")
    with pytest.raises(SettingsError, match="must not be negative"):
        prices(tmp_path, "models:\n  m: {input: -1, output: 1}\n")
    with pytest.raises(SettingsError, match="USD"):
        prices(tmp_path, "currency: EUR\nmodels: {}\n")


def test_check_warns_when_the_configured_model_has_no_price(tmp_path):
    from bot.runtime import check_configuration
    from bot.settings import Settings

    settings = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                  "LLM_PROVIDER": "hybrid", "OPENAI_API_KEY": "sk-test",
                                  "LLM_MODEL": "my-own-llama"})
    warnings = check_configuration(settings)
    assert any("'my-own-llama' has no price" in w for w in warnings)
    priced = Settings.from_env({"HELPDESK": "sample", "ZENDESK_WEBHOOK_SECRET": "s",
                                "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test",
                                "LLM_MODEL": "gpt-4o-mini"})
    assert check_configuration(priced) == []


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"subject": "a\u2028b", "body": "c\x85d", "category": "Billing"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_tickets(path)[0].subject == "a\u2028b"


@pytest.mark.parametrize("value, expected", [("3.0", 3), (2, 2), ("lowest", 5), ("High", 2)])
def test_priority_values(tmp_path, value, expected):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"subject": "a", "body": "b", "category": "Billing", "priority": value}))
    assert read_tickets(path)[0].priority == expected


def test_a_model_whose_weights_do_not_fit_is_refused_at_load(tmp_path):
    from bot.triage.model_io import load_model, save_model
    from tests.triage_support import tiny_model

    folder = save_model(tiny_model(), tmp_path / "m")
    np.save(folder / "coef.npy", np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(SettingsError, match="weights are"):
        load_model(folder)
