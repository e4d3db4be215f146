"""Articles to passages: the unit that is ranked, shown to the model and quoted. Pure.

A passage is a run of whole paragraphs of about `target` words, so a long article with one
relevant section can still rank on that section, and the draft gets that section, not the
article's introduction. Headings start a new passage where possible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kb.model import Article

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class Passage:
    article: Article
    position: int  # 0 for the article's first passage
    text: str


def split_passages(article: Article, target: int = 120, limit: int = 200) -> list[Passage]:
    paragraphs: list[str] = []
    for paragraph in article.body.split("\n\n"):
        paragraphs.extend(_split_long(paragraph.strip(), limit))
    passages: list[str] = []
    current: list[str] = []
    words = 0
    for paragraph in paragraphs:
        if not paragraph:
            continue
        size = len(paragraph.split())
        starts_section = looks_like_heading(paragraph)
        if current and (words + size > limit or (words >= target) or (starts_section and words >= target // 3)):
            passages.append("\n\n".join(current))
            current, words = [], 0
        current.append(paragraph)
        words += size
    if current:
        passages.append("\n\n".join(current))
    if not passages:  # an article with a title only still deserves to be found by its title
        passages = [""]
    return [Passage(article, i, text) for i, text in enumerate(passages)]


def looks_like_heading(paragraph: str) -> bool:
    """One short line without final punctuation: a heading (or a list/table line like one)."""
    return (
        "\n" not in paragraph
        and len(paragraph.split()) <= 10
        and not paragraph.rstrip().endswith((".", ":", "?", "!"))
    )


def _split_long(paragraph: str, limit: int) -> list[str]:
    if len(paragraph.split()) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    words = 0
    for sentence in _SENTENCE_END.split(paragraph):
        size = len(sentence.split())
        if current and words + size > limit:
            pieces.append(" ".join(current))
            current, words = [], 0
        current.append(sentence)
        words += size
    if current:
        pieces.append(" ".join(current))
    return pieces
