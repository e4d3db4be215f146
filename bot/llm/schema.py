"""The triage output contract: the JSON schema sent to the model and the strict parser.

Pure: no I/O. Every provider (and the tests) validates model output through `parse_triage`,
so a malformed reply can never reach the rules as if it were a real opinion.
"""

from __future__ import annotations

import json
import math
import re

from bot.decisions import SENTIMENTS, Sentiment, Triage
from bot.domain import CATEGORIES
from bot.intents import INTENTS, IntentSignal, quoted

_INTENT_MEANINGS = {
    "security": "the customer believes their account, data or money is at risk from someone else "
    "(account takeover, unauthorised access or charges, breach, fraud, phishing)",
    "legal": "a lawyer, legal action, a regulator or consumer body, a data-protection request, "
    "or a threat to dispute the charge with the bank",
    "refund": "the customer wants money back or a charge undone, whatever the words",
    "churn": "the customer cancels or threatens to leave: ending the subscription or account, "
    "not renewing, switching to a competitor, a last chance",
    "frustrated": "the customer is visibly upset, angry, sarcastic or repeating themselves",
}
INTENTS_JSON_SCHEMA: dict = {
    "type": "object",
    "description": "Escalation signals: for each, whether the ticket shows it, by meaning and in "
    "any language, and the customer's own words that show it.",
    "properties": {
        intent: {
            "type": "object",
            "description": f"{intent}: {_INTENT_MEANINGS[intent]}.",
            "properties": {
                "detected": {"type": "boolean"},
                "evidence": {
                    "type": "string",
                    "description": "A short quote (at most 20 words) from the ticket that shows "
                    "it, in the customer's language; empty when not detected.",
                },
            },
            "required": ["detected", "evidence"],
            "additionalProperties": False,
        }
        for intent in INTENTS
    },
    "required": list(INTENTS),
    "additionalProperties": False,
}

# Strict structured outputs accept only a subset of JSON Schema; numeric bounds are stated in
# descriptions (and enforced by `parse_triage`) rather than with minimum/maximum keywords.
TRIAGE_JSON_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "category": {
            "type": "string",
            "enum": list(CATEGORIES),
            "description": "The single best-fitting category for the ticket.",
        },
        "priority": {
            "type": "integer",
            "description": "Urgency from 1 to 5, where 1 is the most urgent and 5 the least.",
        },
        "escalate": {
            "type": "boolean",
            "description": "True when a senior human should look at this ticket first.",
        },
        "confidence": {
            "type": "number",
            "description": "How sure you are of this triage, from 0.0 to 1.0.",
        },
        "reasoning": {
            "type": "string",
            "description": "One or two plain sentences explaining the triage, for the agent.",
        },
        "sentiment": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": list(SENTIMENTS)},
                "frustrated": {
                    "type": "boolean",
                    "description": "True when the customer is visibly frustrated or angry.",
                },
            },
            "required": ["label", "frustrated"],
            "additionalProperties": False,
        },
        "language": {
            "type": "string",
            "description": "ISO 639-1 code of the customer's language, e.g. en, es, fr.",
        },
        "intents": INTENTS_JSON_SCHEMA,
    },
    "required": [
        "category",
        "priority",
        "escalate",
        "confidence",
        "reasoning",
        "sentiment",
        "language",
        "intents",
    ],
    "additionalProperties": False,
}

_KEYS = frozenset(TRIAGE_JSON_SCHEMA["required"])
_SENTIMENT_KEYS = frozenset(TRIAGE_JSON_SCHEMA["properties"]["sentiment"]["required"])
_INTENT_KEYS = frozenset(INTENTS)
_SIGNAL_KEYS = frozenset(("detected", "evidence"))
# Models not bound by strict mode (or OpenAI-compatible servers that ignore it) like fences.
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class InvalidModelOutput(ValueError):
    """The model's reply does not satisfy the triage contract; the message says why."""


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check_keys(obj: dict, expected: frozenset, where: str) -> None:
    missing = sorted(expected - obj.keys())
    extra = sorted(set(obj) - expected)
    problems = []
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected key(s) {', '.join(map(str, extra))}")
    if problems:
        raise InvalidModelOutput(f"{where}: {'; '.join(problems)}")


def _require(value: object, kind: type | tuple[type, ...], field: str, expected: str) -> None:
    # bool is a subclass of int in Python, but true/false is never a valid number here.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise InvalidModelOutput(f"{field} must be {expected}, got {_type_name(value)}")


def parse_triage(text: str) -> Triage:
    """Validate a model reply against the triage contract, or raise `InvalidModelOutput`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidModelOutput("model output is empty")
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise InvalidModelOutput(f"model output is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InvalidModelOutput(f"model output must be a JSON object, got {_type_name(obj)}")
    _check_keys(obj, _KEYS, "triage object")

    category = obj["category"]
    _require(category, str, "category", "a string")
    if category not in CATEGORIES:
        raise InvalidModelOutput(
            f"category {category!r} is not one of: {', '.join(CATEGORIES)}"
        )

    priority = obj["priority"]
    _require(priority, int, "priority", "an integer from 1 to 5")
    if not 1 <= priority <= 5:
        raise InvalidModelOutput(f"priority must be an integer from 1 to 5, got {priority}")

    _require(obj["escalate"], bool, "escalate", "a boolean")

    confidence = obj["confidence"]
    _require(confidence, (int, float), "confidence", "a number from 0 to 1")
    if not (math.isfinite(confidence) and 0 <= confidence <= 1):
        raise InvalidModelOutput(f"confidence must be a number from 0 to 1, got {confidence}")

    _require(obj["reasoning"], str, "reasoning", "a string")

    sentiment = obj["sentiment"]
    _require(sentiment, dict, "sentiment", "an object")
    _check_keys(sentiment, _SENTIMENT_KEYS, "sentiment")
    _require(sentiment["label"], str, "sentiment.label", "a string")
    if sentiment["label"] not in SENTIMENTS:
        raise InvalidModelOutput(
            f"sentiment.label {sentiment['label']!r} is not one of: {', '.join(SENTIMENTS)}"
        )
    _require(sentiment["frustrated"], bool, "sentiment.frustrated", "a boolean")

    language = obj["language"]
    _require(language, str, "language", "a string")
    if not language.strip():
        raise InvalidModelOutput("language must be a non-empty ISO 639-1 code")

    signals = _parse_intents(obj["intents"])
    frustrated = sentiment["frustrated"] or any(s.intent == "frustrated" for s in signals)
    if frustrated and not any(s.intent == "frustrated" for s in signals):
        signals.append(IntentSignal("frustrated", "llm", ""))
    return Triage(
        category=category,
        priority=priority,
        escalate=obj["escalate"],
        confidence=float(confidence),
        reasoning=obj["reasoning"].strip(),
        sentiment=Sentiment(label=sentiment["label"], frustrated=frustrated),
        language=language.strip().lower(),
        intents=tuple(signals),
    )


def _parse_intents(intents: object) -> list[IntentSignal]:
    _require(intents, dict, "intents", "an object")
    assert isinstance(intents, dict)
    _check_keys(intents, _INTENT_KEYS, "intents")
    signals = []
    for intent in INTENTS:
        field = f"intents.{intent}"
        signal = intents[intent]
        _require(signal, dict, field, "an object")
        _check_keys(signal, _SIGNAL_KEYS, field)
        _require(signal["detected"], bool, f"{field}.detected", "a boolean")
        _require(signal["evidence"], str, f"{field}.evidence", "a string")
        if signal["detected"]:
            signals.append(IntentSignal(intent, "llm", quoted(signal["evidence"])))
    return signals


def fallback_triage(error: str) -> Triage:
    """What the pipeline acts on when the model's output could not be used at all.

    Confidence 0 and escalate=True so the rules send it to a human instead of trusting it.
    """
    return Triage(
        category="Other",
        priority=3,
        escalate=True,
        confidence=0.0,
        reasoning=(
            "The model output was invalid and could not be repaired "
            f"({error[:300]}); a human must triage this ticket."
        ),
        sentiment=Sentiment(label="neutral", frustrated=False),
        language="und",
    )
