"""The customer's own words behind a detector's decision: the sentence that holds the terms
that weighed most, quoted in the note so an agent sees at a glance why the bot escalated.
Pure.
"""

from __future__ import annotations

import re

from bot.intents import clip_evidence
from bot.reply_text import new_text

# Sentence ends, line breaks, and the bullets and separators e-mail clients put between parts.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+|\s[•·|]\s")
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.MULTILINE)
_TAG = re.compile(r"<[^>]{1,200}>")
_NUMBER = re.compile(r"\b\d[\d.,:/-]*\b")


def sentences(text: str) -> list[str]:
    text = _TAG.sub(" ", _QUOTED_LINE.sub(" ", new_text(text)))
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def quote_for(text: str, terms: tuple[str, ...]) -> str:
    """The sentence of `text` that holds the most of `terms` (word n-grams as the model saw
    them: lower case, numbers as "0"), earlier terms weighing more; "" when none holds any."""
    best, best_score = "", 0.0
    for sentence in sentences(text):
        seen_as = " ".join(re.findall(r"\w\w+", _NUMBER.sub(" 0 ", sentence.casefold())))
        padded = f" {seen_as} "
        score = sum(
            1.0 / (rank + 1) for rank, term in enumerate(terms) if f" {term} " in padded
        )
        if score > best_score:
            best, best_score = sentence, score
    return clip_evidence(best) if best else ""
