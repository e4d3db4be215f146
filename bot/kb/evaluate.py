"""Retrieval quality over a question set: `python -m bot kb eval FILE`. Pure but for reading.

Each line of FILE is a question, `{"question": "...", "article_ids": [...]}`, or a ticket,
`{"subject": "...", "body": "...", "article_ids": [...], "language": "de"}` (language
optional); a ticket is searched with the query the pipeline builds from it
(`bot.kb.query.ticket_query`: subject, and the body's opening without greeting, signature or
quoted mail) in its language. Questions with ids measure ranking: recall@1, recall@3 (share of
a question's relevant articles in the top k, averaged) and MRR (1 / rank of the first relevant
article, 0 beyond `depth`). They also measure sourcing at the threshold: the share of them
given a source, and of those, the share whose first source is a right article. Questions with
an empty list are ones the help center does not answer: the share left without a source.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.kb.index import Hit
from bot.kb.query import ticket_query

Search = Callable[[str, int, "str | None"], list[Hit]]  # (query, k, language) -> hits


@dataclass(frozen=True)
class Question:
    text: str  # the retrieval query: the question, or the query built from a ticket
    article_ids: tuple[str, ...]
    line: int
    language: str | None = None


class EvalFileError(ValueError):
    pass


def _question(row: object) -> tuple[str, str | None]:
    if not isinstance(row, dict):
        raise ValueError("expected an object")
    language = row.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError("`language` must be a string")
    if "question" in row:
        text = row["question"]
        if not isinstance(text, str) or not text.strip():
            raise ValueError("`question` must be a non-empty string")
        return text, language or None
    subject, body = row.get("subject", ""), row.get("body", "")
    if not isinstance(subject, str) or not isinstance(body, str):
        raise ValueError("`subject` and `body` must be strings")
    if not subject.strip() and not body.strip():
        raise ValueError("needs a non-empty `question`, or a `subject` or `body`")
    return ticket_query(subject, body), language or None


def read_questions(path: str | Path) -> list[Question]:
    questions, problems = [], []
    with open(path, encoding="utf-8-sig") as fh:  # a BOM (Windows editors) is not data
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, language = _question(row)
                ids = row.get("article_ids", [])
                if not isinstance(ids, list):
                    raise ValueError("`article_ids` must be a list")
                questions.append(Question(text, tuple(str(i) for i in ids), number, language))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"line {number}: {exc}")
    if problems:
        raise EvalFileError(f"{path}: " + "; ".join(problems[:10]))
    if not questions:
        raise EvalFileError(f"{path}: no questions")
    return questions


def evaluate(
    questions: Sequence[Question],
    search: Search,
    min_relevance: float,
    depth: int = 10,
) -> dict:
    answerable = [q for q in questions if q.article_ids]
    unanswerable = [q for q in questions if not q.article_ids]
    r1 = r3 = rr = 0.0
    sourced_correct = answered = 0
    misses = []
    for q in answerable:
        hits = search(q.text, depth, q.language)
        ranked = [h.article.article_id for h in hits]
        relevant = set(q.article_ids)
        r1 += len(relevant & set(ranked[:1])) / len(relevant)
        r3 += len(relevant & set(ranked[:3])) / len(relevant)
        first = next((i for i, a in enumerate(ranked, start=1) if a in relevant), None)
        rr += 1 / first if first else 0.0
        above = [h for h in hits if h.relevance >= min_relevance]
        if above:
            answered += 1
            sourced_correct += above[0].article.article_id in relevant
        if first != 1:
            misses.append({"line": q.line, "question": q.text, "rank": first, "top": ranked[:1]})
    refused, wrongly_sourced = 0, []
    for q in unanswerable:
        above = [h for h in search(q.text, 1, q.language) if h.relevance >= min_relevance]
        if above:
            wrongly_sourced.append({"line": q.line, "question": q.text, "top": [above[0].article.article_id]})
        else:
            refused += 1
    n = len(answerable)
    return {
        "questions": len(questions),
        "answerable": n,
        "recall@1": _round(r1 / n) if n else None,
        "recall@3": _round(r3 / n) if n else None,
        "mrr": _round(rr / n) if n else None,
        "min_relevance": min_relevance,
        "answerable_with_source": _round(answered / n) if n else None,
        "top_source_correct": _round(sourced_correct / answered) if answered else None,
        "unanswerable": len(unanswerable),
        "unanswerable_without_source": _round(refused / len(unanswerable)) if unanswerable else None,
        "misses_at_1": misses,
        "unanswerable_sourced": wrongly_sourced,
    }


def calibration_rows(
    questions: Sequence[Question], search: Search, depth: int
) -> tuple[list[dict[str, float]], list[int]]:
    """The features of each question's top `depth` hits (uncalibrated search), and whether
    each is one of the question's articles: what `bot.kb.calibration.fit` learns from."""
    rows, labels = [], []
    for q in questions:
        for hit in search(q.text, depth, q.language):
            rows.append(dict(hit.features))
            labels.append(int(hit.article.article_id in q.article_ids))
    return rows, labels


def _round(value: float) -> float:
    return round(value, 4)
