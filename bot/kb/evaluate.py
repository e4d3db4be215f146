"""Retrieval quality over a question set: `python -m bot kb eval FILE`. Pure but for reading.

Each line of FILE is `{"question": "...", "article_ids": ["...", ...]}`. Questions with ids
measure ranking: recall@1, recall@3 (share of a question's relevant articles in the top k,
averaged) and MRR (1 / rank of the first relevant article, 0 beyond `depth`). Questions with
an empty list are ones the help center does not answer: they measure the threshold, as the
share correctly left without a source.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.kb.index import Hit


@dataclass(frozen=True)
class Question:
    text: str
    article_ids: tuple[str, ...]
    line: int


class EvalFileError(ValueError):
    pass


def read_questions(path: str | Path) -> list[Question]:
    questions, problems = [], []
    with open(path, encoding="utf-8-sig") as fh:  # a BOM (Windows editors) is not data
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = row["question"]
                ids = row.get("article_ids", [])
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("`question` must be a non-empty string")
                if not isinstance(ids, list):
                    raise ValueError("`article_ids` must be a list")
                questions.append(Question(text, tuple(str(i) for i in ids), number))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"line {number}: {exc}")
    if problems:
        raise EvalFileError(f"{path}: " + "; ".join(problems[:10]))
    if not questions:
        raise EvalFileError(f"{path}: no questions")
    return questions


def evaluate(
    questions: Sequence[Question],
    search: Callable[[str, int], list[Hit]],
    min_relevance: float,
    depth: int = 10,
) -> dict:
    answerable = [q for q in questions if q.article_ids]
    unanswerable = [q for q in questions if not q.article_ids]
    r1 = r3 = rr = 0.0
    sourced_correct = sourced = answered = 0
    misses = []
    for q in answerable:
        hits = search(q.text, depth)
        ranked = [h.article.article_id for h in hits]
        relevant = set(q.article_ids)
        r1 += len(relevant & set(ranked[:1])) / len(relevant)
        r3 += len(relevant & set(ranked[:3])) / len(relevant)
        first = next((i for i, a in enumerate(ranked, start=1) if a in relevant), None)
        rr += 1 / first if first else 0.0
        above = [h for h in hits if h.relevance >= min_relevance]
        if above:
            answered += 1
            sourced += 1
            sourced_correct += above[0].article.article_id in relevant
        if first != 1:
            misses.append({"line": q.line, "question": q.text, "rank": first, "top": ranked[:1]})
    refused = sum(
        1 for q in unanswerable
        if not [h for h in search(q.text, 1) if h.relevance >= min_relevance]
    )
    n = len(answerable)
    return {
        "questions": len(questions),
        "answerable": n,
        "recall@1": _round(r1 / n) if n else None,
        "recall@3": _round(r3 / n) if n else None,
        "mrr": _round(rr / n) if n else None,
        "min_relevance": min_relevance,
        "answerable_with_source": _round(answered / n) if n else None,
        "top_source_correct": _round(sourced_correct / sourced) if sourced else None,
        "unanswerable": len(unanswerable),
        "unanswerable_without_source": _round(refused / len(unanswerable)) if unanswerable else None,
        "misses_at_1": misses,
    }


def _round(value: float) -> float:
    return round(value, 4)
