"""Language, sentiment and frustration of a ticket, without a language model.

- Language: py3langid (a naive Bayes model over byte n-grams, 97 languages, BSD, bundled in
  its package), restricted to the languages the desk expects; when it is unsure (short text),
  the stop-word counts from config/offline.yaml decide, and then the default language.
- Sentiment: the multilingual word lists of config/offline.yaml. (VADER, a well-known English
  sentiment lexicon, was tried for English tickets and did worse on the development set:
  68 % against 74 %; polite problem reports read as negative to it.)
- Frustration: the triage model's frustration head (trained on tickets labelled frustrated
  or not), explicit phrases ("third time", "unacceptable"), runs of "!!!" and shouting in
  capitals.
Figures for each, measured on labelled tickets, are in the README ("Local triage engine").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_WORD = re.compile(r"[^\W\d_]+")
_LONG_WORD = re.compile(r"[^\W\d_]{4,}")  # letters of any script: "ÜBERHAUPT", "СРОЧНО"


def normalise(text: str) -> str:
    # Typographic apostrophes are common in pasted/mobile text; the lexicons use the plain one.
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


def phrase_pattern(phrase: str) -> re.Pattern:
    # Whole words only ("bill" must not match "billion"), any run of spaces between words.
    words = [re.escape(w) for w in normalise(phrase).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


class Lexicon:
    def __init__(self, entries):
        self.entries = [(str(e), phrase_pattern(str(e))) for e in entries or ()]

    def matches(self, normalised_text: str) -> list[str]:
        return [word for word, pattern in self.entries if pattern.search(normalised_text)]


@cache
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(list(languages))
    return identifier


class LanguageDetector:
    def __init__(
        self,
        default: str,
        stopwords: dict[str, set[str]],
        languages: tuple[str, ...] = (),
        min_confidence: float = 0.5,
        min_stopword_hits: int = 2,
    ):
        self.default = default
        self.stopwords = stopwords
        self.languages = languages
        self.min_confidence = min_confidence
        self.min_stopword_hits = min_stopword_hits
        self._identifier = _identifier(languages)  # once per process; unknown codes raise now

    def detect(self, text: str) -> str:
        code, probability = self._identifier.classify(text)
        if probability >= self.min_confidence:
            return str(code)
        return self.by_stopwords(normalise(text))

    def by_stopwords(self, normalised_text: str) -> str:
        words = _WORD.findall(normalised_text)
        best, best_hits = self.default, 0
        for code, stopwords in self.stopwords.items():  # config order breaks ties
            hits = sum(1 for w in words if w in stopwords)
            if hits > best_hits:
                best, best_hits = code, hits
        return best if best_hits >= self.min_stopword_hits else self.default


@dataclass(frozen=True)
class Mood:
    label: str  # negative | neutral | positive
    frustrated: bool
    signs: tuple[str, ...]  # why frustrated, for the note's reasoning
    words: tuple[str, ...]  # the sentiment words found
    phrases: tuple[str, ...] = ()  # the frustration phrases among `signs`: the customer's words

    @property
    def evidence(self) -> str:
        """The signs as the note shows them: the customer's phrases quoted, the rest described."""
        return ", ".join(f'"{s}"' if s in self.phrases else s for s in self.signs)


class MoodReader:
    def __init__(self, config: dict):
        sentiment, frustration = config["sentiment"], config["frustration"]
        self.negative = Lexicon(sentiment["negative"])
        self.positive = Lexicon(sentiment["positive"])
        self.phrases = Lexicon(frustration["phrases"])
        self.exclamation = re.compile(f"!{{{int(frustration.get('exclamation_run', 3))},}}")
        self.shouting_words = int(frustration.get("shouting_words", 3))
        self.not_shouting = {w.upper() for w in frustration.get("not_shouting", ())}
        self.model_threshold = float(frustration.get("model_threshold", 0.5))

    def read(self, text: str, model_score: float | None = None) -> Mood:
        """`model_score`: the triage model's frustration probability, when it has that head."""
        folded = normalise(text)
        phrases = self.phrases.matches(folded)
        signs = list(phrases)
        if model_score is not None and model_score >= self.model_threshold:
            signs.append(f"the model's frustration score {model_score:.2f}")
        if self.exclamation.search(text):
            signs.append("repeated exclamation marks")
        shouted = [
            w for w in _LONG_WORD.findall(text) if w.isupper() and w not in self.not_shouting
        ]
        if len(shouted) >= self.shouting_words:
            signs.append("writing in capitals")
        negative, positive = self.negative.matches(folded), self.positive.matches(folded)
        frustrated = bool(signs)
        # Frustration is itself a negative signal, so it weighs on the label too.
        neg_score = len(negative) + (1 if frustrated else 0)
        label = (
            "negative" if neg_score > len(positive)
            else "positive" if len(positive) > neg_score
            else "neutral"
        )
        return Mood(label, frustrated, tuple(signs), tuple(negative + positive), tuple(phrases))
