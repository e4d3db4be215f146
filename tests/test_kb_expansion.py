"""Query expansion (bot/kb/expansion.py) and relevance calibration (bot/kb/calibration.py),
and how the index uses both."""

from __future__ import annotations

import math

import pytest

from bot.kb.calibration import (
    FEATURES,
    Calibration,
    CalibrationFileError,
    fit,
    load_calibration,
    parse_calibration,
    save_calibration,
)
from bot.kb.expansion import DEFAULT_FILE, NO_EXPANSION, SynonymFileError, load_synonyms, parse_synonyms
from bot.kb.index import Index
from bot.kb.model import Article


def art(article_id, title, body):
    return Article("help", article_id, "", title, body)


ARTICLES = [
    art("1", "If your board is not detected", "Check the cable and the port. Install the driver."),
    art("2", "Accepted payment methods", "We accept cards and bank transfers for every order."),
    art("3", "Reset your password", "Use the link in the email to choose a new password."),
]

# -- expansion ----------------------------------------------------------------------------------


def test_a_phrase_adds_help_center_words_at_the_tables_weight():
    expansion = parse_synonyms({"weight": 0.5, "en": {"not showing up": ["detected", "recognized"]}})
    terms = expansion.query_terms("My Uno is not showing up", "en")
    assert terms == {"uno": 1, "show": 1, "detect": 0.5, "recogn": 0.5}


def test_stop_words_count_inside_a_phrase_and_order_matters():
    expansion = parse_synonyms({"en": {"not working": ["broken"]}})
    assert "broken" in expansion.query_terms("the reset is not working", "en")
    assert "broken" not in expansion.query_terms("working, or not", "en")


def test_an_addition_never_weighs_more_than_one_ticket_word():
    expansion = parse_synonyms({"weight": 0.75, "en": {"refund": ["return"], "money back": ["return"]}})
    assert expansion.query_terms("refund: I want my money back", "en")["return"] == 1.0


def test_other_languages_tables_do_not_apply():
    expansion = parse_synonyms({"de": {"rechnung": ["invoice"]}})
    assert expansion.query_terms("Rechnung", "en") == {"rechnung": 1}


def test_the_shipped_table_loads_and_lifts_the_symptom_to_the_feature():
    expansion = load_synonyms(DEFAULT_FILE)
    question = "the COM port is greyed out"
    plain = Index(ARTICLES).search(question, 3)
    expanded = Index(ARTICLES, expansion=expansion).search(question, 3)
    assert expanded[0].article.article_id == "1"
    assert expanded[0].lexical > plain[0].lexical


@pytest.mark.parametrize(("data", "message"), [
    (["a"], "expected a mapping"),
    ({"weight": 2, "en": {}}, "`weight` must be a number from 0 to 1"),
    ({"en": ["a"]}, "`en` must map words"),
    ({"en": {"a b": "c"}}, "en.a b: expected a list of words"),
    ({"en": {"!!": ["c"]}}, "no words left to match"),
])
def test_bad_tables_are_refused(data, message):
    with pytest.raises(SynonymFileError, match=message):
        parse_synonyms(data)


def test_missing_files(tmp_path):
    assert load_synonyms(None) is NO_EXPANSION
    assert load_synonyms(tmp_path / "none.yaml", missing_ok=True) is NO_EXPANSION
    with pytest.raises(SynonymFileError):
        load_synonyms(tmp_path / "none.yaml")


# -- calibration --------------------------------------------------------------------------------


def test_probability_is_the_logistic_of_standardised_features():
    model = Calibration(("score", "margin"), (0.5, 0.1), (0.2, 0.1), (2.0, 1.0), -0.5)
    z = -0.5 + 2.0 * (0.9 - 0.5) / 0.2 + 1.0 * (0.3 - 0.1) / 0.1
    assert model.probability({"score": 0.9, "margin": 0.3, "title": 1}) == pytest.approx(1 / (1 + math.exp(-z)))
    assert model.probability({"score": -1e6, "margin": 0}) == 0.0  # no overflow


def test_fit_learns_that_higher_scores_are_right_and_round_trips_through_its_file(tmp_path):
    rows = [{"score": s / 10, "margin": s / 20, "title": 0.0} for s in range(10)]
    labels = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1]
    model = fit(rows, labels)
    assert model.features == FEATURES
    assert model.probability(rows[9]) > 0.5 > model.probability(rows[0])
    path = tmp_path / "cal.yaml"
    save_calibration(path, {"bm25": model}, "test rows")
    loaded = load_calibration(path)["bm25"]
    assert loaded.probability(rows[6]) == pytest.approx(model.probability(rows[6]), abs=1e-5)
    with pytest.raises(ValueError, match="both right and wrong"):
        fit(rows, [1] * 10)


def test_bad_calibration_files_are_refused(tmp_path):
    good = {"features": ["score"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}
    assert set(parse_calibration({"fitted_on": "x", "bm25": good})) == {"bm25"}
    for bad, message in [
        ({**good, "features": ["clicks"]}, "features must be among"),
        ({**good, "coef": [1, 2]}, "one value each"),
        ({**good, "scale": [0]}, "scales must be positive"),
        ({k: v for k, v in good.items() if k != "intercept"}, "intercept"),
    ]:
        with pytest.raises(CalibrationFileError, match=message):
            parse_calibration({"bm25": bad})
    assert load_calibration(tmp_path / "none.yaml") == {}


def test_the_index_reports_calibrated_relevance_and_the_features_behind_it():
    model = Calibration(FEATURES, (0.3, 0.1, 0.5), (0.2, 0.1, 0.3), (1.0, 1.0, 1.0), 0.0)
    question = "reset my password, the email link is for a new order"
    plain = Index(ARTICLES).search(question, 2)
    calibrated = Index(ARTICLES, calibration=model).search(question, 2)
    assert len(calibrated) == 2
    assert [h.article.article_id for h in calibrated] == [h.article.article_id for h in plain]
    top = calibrated[0]
    assert top.relevance == pytest.approx(model.probability(top.features))
    assert top.features["score"] == top.lexical  # BM25 ranking: the normalised score
    assert top.article.article_id == "3"
    assert top.features["title"] == 1.0  # "reset" and "password" are both in the query
    assert top.features["margin"] == pytest.approx(top.lexical - calibrated[1].lexical)
    assert calibrated[1].features["margin"] == calibrated[1].lexical  # nothing ranks after it
    assert plain[0].relevance == plain[0].lexical  # uncalibrated: the BM25 relevance
