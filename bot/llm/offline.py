"""The local engine (LLM_PROVIDER=offline): a trained model, no network, no key, no cost.

- Category and confidence: the trained triage model (bot.triage.model), its confidence
  calibrated on cross-validated predictions; by default the model bundled in
  bot/triage/default_model, or the one `python -m bot train` wrote to LOCAL_MODEL_DIR.
- Priority: the model's priority head when it was trained on tickets with priorities; the
  urgency words of config/offline.yaml otherwise, and they can only make a ticket more urgent.
- Language, sentiment and frustration: bot.triage.signals.
- Drafts: templates and help-center passages (bot.llm.offline_drafts).
The reasoning says which engine decided and which words weighed most.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from bot.decisions import DraftResult, Sentiment, Triage, TriageResult, Usage
from bot.errors import SettingsError
from bot.intents import IntentSignal, quoted
from bot.llm.base import DraftRequest, TriageRequest
from bot.llm.offline_drafts import TemplateDrafter
from bot.triage.evidence import quote_for
from bot.triage.intent_heads import DETECTED_INTENTS
from bot.triage.model import Prediction, TriageModel
from bot.triage.signals import LanguageDetector, Lexicon, MoodReader, normalise

_WORD = re.compile(r"[^\W_]")  # a letter or a digit, in any script


class OfflineEngine:
    provider = "offline"

    def __init__(self, config: dict, model: TriageModel):
        self.classifier = model
        self.model = f"local:{model.name}@{model.meta.get('digest', '?')[:8]}"
        try:
            self._urgency = sorted(
                ((int(level), Lexicon(words)) for level, words in config["urgency"].items()),
                key=lambda item: item[0],
            )
            self._feature_priority = int(config.get("feature_request_priority", 4))
            self._mood = MoodReader(config)
            language = config["language"]
            self._language = LanguageDetector(
                default=str(language.get("default", "en")),
                stopwords={
                    str(code): {normalise(str(w)) for w in words}
                    for code, words in language["stopwords"].items()
                },
                languages=tuple(str(c) for c in language.get("expected") or ()),
                min_confidence=float(language.get("min_confidence", 0.5)),
                min_stopword_hits=int(language.get("min_hits", 2)),
            )
            drafts = config["drafts"]
            # Probability at or above which an intent head fires; tuned on development tickets.
            self._intent_thresholds = _intent_thresholds(config)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SettingsError(f"offline config is malformed: {exc!r}") from None
        self._drafter = TemplateDrafter(drafts, self.model)

    @classmethod
    def from_files(cls, config_path: str | Path, model_dir: str | Path) -> OfflineEngine:
        return cls(read_config(config_path), cached_model(str(Path(model_dir).resolve())))

    # -- triage -------------------------------------------------------------------------------

    def triage(self, request: TriageRequest) -> TriageResult:
        ticket = request.ticket
        raw = f"{ticket.subject}\n{ticket.description}"
        if not _WORD.search(raw):
            return self._nothing_to_read()
        prediction = self.classifier.predict([(ticket.subject, ticket.description)])[0]
        text = normalise(raw)
        category, confidence = prediction.category, prediction.confidence

        urgent_level, urgent_words = None, []
        for level, lexicon in self._urgency:  # most urgent level first
            found = lexicon.matches(text)
            if found:
                urgent_level, urgent_words = level, found
                break
        if prediction.priority is not None:
            priority = min(prediction.priority, urgent_level or 5)
        elif urgent_level is not None:
            priority = urgent_level
        else:
            priority = self._feature_priority if category == "Feature request" else 3

        language = self._language.detect(raw)
        mood = self._mood.read(raw, prediction.frustration)

        runner_up = sorted(prediction.probabilities.items(), key=lambda kv: -kv[1])[1:2]
        reasons = [f"Local model {self.classifier.name}: {category} {confidence:.2f}"
                   + (f" (next: {runner_up[0][0]} {runner_up[0][1]:.2f})." if runner_up else ".")]
        if prediction.evidence:
            reasons.append(f"Words that weighed most: {_quoted(prediction.evidence)}.")
        if urgent_words:
            reasons.append(f"Urgency words: {_quoted(urgent_words)}.")
        if mood.words:
            reasons.append(f"Sentiment {mood.label} ({_quoted(mood.words)}).")
        if mood.frustrated:
            reasons.append(f"Frustration signs: {_quoted(mood.signs)}.")
        signals = self._intent_signals(raw, prediction)
        if mood.frustrated:
            signals.append(IntentSignal("frustrated", self.signal_source, mood.evidence))
        scored = [f"{name} {p:.2f}" for name, p in sorted(prediction.intents.items()) if p >= 0.2]
        if scored:
            reasons.append(f"Intent scores: {', '.join(scored)}.")

        triage = Triage(
            category=category,
            priority=priority,
            # The rules escalate low confidence and frustration themselves; the local model
            # has no judgement of its own to add, so it never sets `model_flagged`.
            escalate=False,
            confidence=confidence,
            reasoning=" ".join(reasons),
            sentiment=Sentiment(label=mood.label, frustrated=mood.frustrated),
            language=language,
            intents=tuple(signals),
        )
        return TriageResult(triage=triage, model=self.model, usage=Usage(), engine=self.provider)

    signal_source = "local"

    def _intent_signals(self, raw: str, prediction: Prediction) -> list[IntentSignal]:
        signals = []
        for name, probability in sorted(prediction.intents.items()):
            threshold = self._intent_thresholds.get(name, 0.5)
            if probability >= threshold:
                quote = quote_for(raw, prediction.intent_terms.get(name, ()))
                signals.append(IntentSignal(name, self.signal_source, quoted(quote)))
        return signals

    def _nothing_to_read(self) -> TriageResult:
        """No words at all (an attachment-only e-mail, an empty form): no model has an opinion,
        so confidence 0 and a human takes it, instead of a guess from punctuation."""
        triage = Triage(
            category="Other",
            priority=3,
            escalate=False,
            confidence=0.0,
            reasoning=f"Local model {self.classifier.name}: the ticket has no text to read.",
            sentiment=Sentiment(),
            language=self._language.default,
        )
        return TriageResult(triage=triage, model=self.model, usage=Usage(), engine=self.provider)

    # -- draft --------------------------------------------------------------------------------

    def draft(self, request: DraftRequest) -> DraftResult:
        return self._drafter.draft(request)


def _intent_thresholds(config: dict) -> dict[str, float]:
    """`intents.thresholds`: a probability per intent; a misspelt intent would silently fall
    back to 0.5, so it is refused."""
    thresholds = {}
    for name, value in ((config.get("intents") or {}).get("thresholds") or {}).items():
        if name not in DETECTED_INTENTS:
            raise ValueError(f"intents.thresholds: unknown intent {name!r}; use {', '.join(DETECTED_INTENTS)}")
        number = float(value)
        if not 0 <= number <= 1:
            raise ValueError(f"intents.thresholds.{name} must be between 0 and 1, got {value!r}")
        thresholds[str(name)] = number
    return thresholds


def read_config(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read offline config {path}: {exc}") from None
    if not isinstance(config, dict):
        raise SettingsError(f"offline config {path} must be a mapping")
    return config


@lru_cache(maxsize=4)
def cached_model(model_dir: str) -> TriageModel:
    """One copy per process: web, worker and CLI each load the model once."""
    from bot.triage.model_io import load_model

    return load_model(model_dir)


def _quoted(words) -> str:
    return ", ".join(f'"{w}"' for w in words)
