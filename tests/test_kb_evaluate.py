"""Retrieval quality over a question set: bot/kb/evaluate.py, with metrics worked out by hand."""

from __future__ import annotations

import json

import pytest

from bot.kb.chunks import Passage
from bot.kb.evaluate import EvalFileError, Question, calibration_rows, evaluate, read_questions
from bot.kb.index import Hit
from bot.kb.model import Article


def hit(article_id: str, relevance: float) -> Hit:
    a = Article("s", article_id, "en", f"T{article_id}", "")
    return Hit(a, Passage(a, 0, ""), relevance * 10, relevance)


class FakeSearch:
    """Canned hits per question, cut to k like the real index; remembers what it was asked."""

    def __init__(self, results: dict[str, list[Hit]]):
        self.results = results
        self.calls: list[tuple[str, int]] = []
        self.languages: list[str | None] = []

    def __call__(self, query: str, k: int, language: str | None = None) -> list[Hit]:
        self.calls.append((query, k))
        self.languages.append(language)
        return self.results.get(query, [])[:k]


def q(text, *ids, line=0) -> Question:
    return Question(text, ids, line)


# -- read_questions -----------------------------------------------------------------------


def test_read_questions(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"question": "How do I reset?", "article_ids": ["1", 2]}) + "\n\n"
        + json.dumps({"question": "Wie setze ich zurück?"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    assert read_questions(path) == [
        Question("How do I reset?", ("1", "2"), 1),
        Question("Wie setze ich zurück?", (), 3),
    ]


def test_every_bad_line_is_named_with_its_number(tmp_path):
    path = tmp_path / "q.jsonl"
    lines = [
        json.dumps({"question": "fine", "article_ids": []}),
        "{not json",
        json.dumps({"article_ids": ["1"]}),
        json.dumps({"question": "   "}),
        json.dumps({"question": "ids as text", "article_ids": "1"}),
        json.dumps(["a", "list"]),
        json.dumps({"question": 7}),
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EvalFileError) as err:
        read_questions(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    for number in range(2, 8):
        assert f"line {number}:" in message
    assert "line 1:" not in message
    assert "line 3: needs a non-empty `question`, or a `subject` or `body`" in message
    assert "line 4: `question` must be a non-empty string" in message
    assert "line 5: `article_ids` must be a list" in message
    assert "line 7: `question` must be a non-empty string" in message


def test_empty_question_file(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n \n")
    with pytest.raises(EvalFileError, match="no questions"):
        read_questions(path)


# -- evaluate -----------------------------------------------------------------------------


def test_metrics_on_a_hand_worked_example():
    search = FakeSearch({
        # relevant A first: recall@1 1, recall@3 1, reciprocal rank 1; top source above 0.5, correct
        "q1": [hit("A", 0.8), hit("B", 0.1)],
        # relevant {A, C}: C at rank 2, A at rank 4 -> recall@1 0, recall@3 1/2, rr 1/2;
        # top source B (0.6) is above the threshold but wrong
        "q2": [hit("B", 0.6), hit("C", 0.3), hit("D", 0.2), hit("A", 0.1)],
        # relevant Z never found: all 0, and nothing above the threshold
        "q3": [hit("B", 0.2)],
        "u1": [hit("B", 0.7)],  # unanswerable but given a source: a failure
        "u2": [hit("B", 0.4)],  # below the threshold: correctly left without one
        # u3 finds nothing: correctly left without a source
    })
    questions = [q("q1", "A", line=1), q("q2", "A", "C", line=2), q("q3", "Z", line=3),
                 q("u1", line=4), q("u2", line=5), q("u3", line=6)]
    result = evaluate(questions, search, min_relevance=0.5)
    assert result == {
        "questions": 6,
        "answerable": 3,
        "recall@1": round(1 / 3, 4),          # (1 + 0 + 0) / 3
        "recall@3": 0.5,                      # (1 + 1/2 + 0) / 3
        "mrr": 0.5,                           # (1 + 1/2 + 0) / 3
        "min_relevance": 0.5,
        "answerable_with_source": round(2 / 3, 4),
        "top_source_correct": 0.5,            # q1 right, q2 wrong
        "unanswerable": 3,
        "unanswerable_without_source": round(2 / 3, 4),  # u2 and u3
        "misses_at_1": [
            {"line": 2, "question": "q2", "rank": 2, "top": ["B"]},
            {"line": 3, "question": "q3", "rank": None, "top": ["B"]},
        ],
        "unanswerable_sourced": [{"line": 4, "question": "u1", "top": ["B"]}],
    }
    # Answerable questions search to the default depth, unanswerable ones only need the top hit.
    assert search.calls == [("q1", 10), ("q2", 10), ("q3", 10), ("u1", 1), ("u2", 1), ("u3", 1)]


def test_relevant_article_beyond_depth_scores_no_reciprocal_rank():
    search = FakeSearch({"q": [hit("X", 0.9), hit("Y", 0.8), hit("Z", 0.7), hit("A", 0.6)]})
    shallow = evaluate([q("q", "A")], search, min_relevance=0.5, depth=3)
    deep = evaluate([q("q", "A")], search, min_relevance=0.5, depth=4)
    assert shallow["mrr"] == 0 and shallow["misses_at_1"][0]["rank"] is None
    assert deep["mrr"] == 0.25 and deep["misses_at_1"][0]["rank"] == 4
    assert shallow["recall@3"] == deep["recall@3"] == 0


def test_threshold_moves_unanswerable_and_sourced_counts():
    search = FakeSearch({"a": [hit("A", 0.45)], "u": [hit("B", 0.35)]})
    questions = [q("a", "A"), q("u")]
    low = evaluate(questions, search, min_relevance=0.3)
    high = evaluate(questions, search, min_relevance=0.4)
    assert (low["answerable_with_source"], low["unanswerable_without_source"]) == (1.0, 0.0)
    assert (high["answerable_with_source"], high["unanswerable_without_source"]) == (1.0, 1.0)
    # Exactly at the threshold counts as a source.
    assert evaluate([q("u")], search, min_relevance=0.35)["unanswerable_without_source"] == 0.0


def test_only_unanswerable_questions_leave_ranking_metrics_empty():
    result = evaluate([q("u")], FakeSearch({}), min_relevance=0.5)
    assert (result["answerable"], result["recall@1"], result["recall@3"], result["mrr"]) == (0, None, None, None)
    assert (result["answerable_with_source"], result["top_source_correct"]) == (None, None)
    assert result["unanswerable_without_source"] == 1.0 and result["misses_at_1"] == []


def test_only_answerable_questions_leave_the_refusal_metric_empty():
    result = evaluate([q("a", "A")], FakeSearch({"a": [hit("A", 0.1)]}), min_relevance=0.5)
    assert result["unanswerable"] == 0 and result["unanswerable_without_source"] is None
    assert result["recall@1"] == 1.0 and result["top_source_correct"] is None  # never sourced


def test_recall_is_the_share_of_a_questions_relevant_articles_found():
    # Two relevant articles, one at rank 1 and one at rank 3: recall@1 1/2, recall@3 1, rr 1.
    search = FakeSearch({"q": [hit("A", 0.9), hit("X", 0.8), hit("B", 0.7)]})
    result = evaluate([q("q", "A", "B")], search, min_relevance=0.5)
    assert (result["recall@1"], result["recall@3"], result["mrr"]) == (0.5, 1.0, 1.0)
    assert result["misses_at_1"] == []


# -- ticket-shaped files --------------------------------------------------------------------


def test_ticket_lines_are_searched_with_the_pipelines_query_in_their_language(tmp_path):
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        json.dumps({"subject": "Port greyed out", "article_ids": ["7"], "language": "de",
                    "body": "Hi team,\nThe port menu is greyed out.\n\nThanks,\nAnn\n> old quoted mail"})
        + "\n" + json.dumps({"subject": "", "body": "Do you sell gift cards?", "article_ids": [],
                             "note": "free text for the author, ignored"}) + "\n",
        encoding="utf-8",
    )
    questions = read_questions(path)
    assert questions == [
        Question("Port greyed out\nPort greyed out\nThe port menu is greyed out.", ("7",), 1, "de"),
        Question("Do you sell gift cards?", (), 2, None),
    ]
    search = FakeSearch({questions[0].text: [hit("7", 0.9)]})
    result = evaluate(questions, search, min_relevance=0.5)
    assert search.languages == ["de", None]
    assert (result["recall@1"], result["answerable_with_source"], result["top_source_correct"]) == (1.0, 1.0, 1.0)
    assert result["unanswerable_without_source"] == 1.0


def test_bad_ticket_lines_are_named(tmp_path):
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join([
        json.dumps({"subject": "", "body": "  ", "article_ids": []}),
        json.dumps({"subject": 3, "body": "x"}),
        json.dumps({"subject": "s", "language": 7}),
    ]) + "\n")
    with pytest.raises(EvalFileError) as err:
        read_questions(path)
    message = str(err.value)
    assert "line 1: needs a non-empty `question`, or a `subject` or `body`" in message
    assert "line 2: `subject` and `body` must be strings" in message
    assert "line 3: `language` must be a string" in message


def test_calibration_rows_label_each_hit_by_the_questions_articles():
    a, b = hit("A", 0.9), hit("B", 0.4)
    a = Hit(a.article, a.passage, a.score, a.relevance, features={"score": 0.9, "margin": 0.5, "title": 1.0})
    b = Hit(b.article, b.passage, b.score, b.relevance, features={"score": 0.4, "margin": 0.4, "title": 0.0})
    search = FakeSearch({"q": [a, b], "u": [b]})
    rows, labels = calibration_rows([q("q", "A"), q("u")], search, depth=3)
    assert rows == [{"score": 0.9, "margin": 0.5, "title": 1.0}, {"score": 0.4, "margin": 0.4, "title": 0.0},
                    {"score": 0.4, "margin": 0.4, "title": 0.0}]
    assert labels == [1, 0, 0]
    assert search.calls == [("q", 3), ("u", 3)]
