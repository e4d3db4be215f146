"""Query expansion: customer wording to help-center wording, from a curated table. Pure.

`config/kb_synonyms.yaml` maps words customers write ("not showing up", "charged twice") to
words articles use ("detected", "billing"). A ticket whose terms contain an entry's words, in
order, gets the entry's words added to its BM25 query at a fraction (`weight`) of a ticket
word's weight. Both sides are stemmed with the index language's stemmer, so "uploading" meets
"upload", and matching is on stems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.kb.tokens import tokenize

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "kb_synonyms.yaml"


class SynonymFileError(ValueError):
    pass


@dataclass(frozen=True)
class Expansion:
    """The table for every language: language -> [(stemmed trigger, stemmed additions)]."""

    rules: Mapping[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = field(default_factory=dict)
    weight: float = 0.5

    def query_terms(self, query: str, language: str) -> dict[str, float]:
        """Weighted BM25 query terms: each word of the query counts 1 per occurrence; each
        addition `weight` per rule that added it, at most 1 (one ticket word)."""
        weighted: dict[str, float] = dict(Counter(tokenize(query, language)))
        rules = self.rules.get(language)
        if not rules or not self.weight:
            return weighted
        words = tokenize(query, language, keep_stop_words=True)  # "not working" is a phrase
        present = set(words)
        added: Counter[str] = Counter()
        for trigger, additions in rules:
            if trigger[0] in present and _contains(words, trigger):
                added.update(additions)
        for term, times in added.items():
            weighted[term] = weighted.get(term, 0.0) + min(1.0, self.weight * times)
        return weighted


def _contains(terms: list[str], phrase: tuple[str, ...]) -> bool:
    if len(phrase) == 1:
        return phrase[0] in terms
    n = len(phrase)
    return any(tuple(terms[i : i + n]) == phrase for i in range(len(terms) - n + 1))


NO_EXPANSION = Expansion()


def parse_synonyms(data: object, source: str = "synonyms") -> Expansion:
    if not isinstance(data, dict):
        raise SynonymFileError(f"{source}: expected a mapping of language -> entries")
    weight = data.get("weight", 0.5)
    if not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise SynonymFileError(f"{source}: `weight` must be a number from 0 to 1")
    rules: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {}
    for language, entries in data.items():
        if language == "weight":
            continue
        if not isinstance(entries, dict):
            raise SynonymFileError(f"{source}: `{language}` must map words to a list of words")
        parsed = []
        for trigger, additions in entries.items():
            if not isinstance(additions, list) or not all(isinstance(a, str) for a in additions):
                raise SynonymFileError(f"{source}: {language}.{trigger}: expected a list of words")
            stems = tuple(tokenize(str(trigger), language, keep_stop_words=True))
            added = tuple(dict.fromkeys(t for a in additions for t in tokenize(a, language)))
            if not stems:
                raise SynonymFileError(f"{source}: {language}.{trigger}: no words left to match")
            parsed.append((stems, tuple(t for t in added if t not in stems)))
        rules[str(language)] = tuple(parsed)
    return Expansion(rules, float(weight))


def load_synonyms(path: str | Path | None = DEFAULT_FILE, missing_ok: bool = False) -> Expansion:
    """The table in `path`; no expansion for None, or for a missing file when `missing_ok`."""
    if path is None:
        return NO_EXPANSION
    path = Path(path)
    if missing_ok and not path.exists():
        return NO_EXPANSION
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SynonymFileError(f"{path}: {exc}") from None
    return parse_synonyms(data, str(path))
