import json
import re

import pytest

from bot.decisions import Sentiment, Triage
from bot.domain import CATEGORIES
from bot.intents import INTENTS, IntentSignal
from bot.llm.schema import (
    TRIAGE_JSON_SCHEMA,
    InvalidModelOutput,
    fallback_triage,
    parse_triage,
)
from tests.llm_output import llm_intents

VALID = {
    "category": "Billing",
    "priority": 2,
    "escalate": False,
    "confidence": 0.82,
    "reasoning": "Customer reports a duplicate charge.",
    "sentiment": {"label": "negative", "frustrated": True},
    "language": "EN",
    "intents": llm_intents(),
}


def with_(**changes):
    obj = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        obj[key] = value
    return json.dumps(obj)


def test_valid_object_is_parsed_and_language_lowercased():
    triage = parse_triage(json.dumps(VALID))
    assert triage == Triage(
        category="Billing",
        priority=2,
        escalate=False,
        confidence=0.82,
        reasoning="Customer reports a duplicate charge.",
        sentiment=Sentiment(label="negative", frustrated=True),
        language="en",
        # The sentiment's flag is the frustration signal when the intents object lacks it.
        intents=(IntentSignal("frustrated", "llm", ""),),
    )


def test_detected_intents_become_llm_signals_with_their_quotes():
    text = with_(intents=llm_intents(refund="  please   reverse the duplicate\ncharge ", churn="x" * 400))
    triage = parse_triage(text)
    assert [(s.intent, s.source) for s in triage.intents] == [
        ("refund", "llm"), ("churn", "llm"), ("frustrated", "llm"),
    ]
    assert triage.intents[0].evidence == '"please reverse the duplicate charge"'
    assert len(triage.intents[1].evidence) <= 162 and triage.intents[1].evidence.endswith('…"')


def test_a_frustrated_intent_sets_the_sentiment_flag():
    triage = parse_triage(
        with_(sentiment={"label": "negative", "frustrated": False},
              intents=llm_intents(frustrated="third time I write"))
    )
    assert triage.sentiment.frustrated is True
    assert triage.intents == (IntentSignal("frustrated", "llm", '"third time I write"'),)


@pytest.mark.parametrize(
    "intents, message",
    [
        ("yes", "intents must be an object, got string"),
        ({"refund": {"detected": True, "evidence": ""}}, "intents: missing key(s)"),
        ({**llm_intents(), "upsell": {"detected": True, "evidence": ""}}, "unexpected key(s) upsell"),
        ({**llm_intents(), "refund": {"detected": "yes", "evidence": ""}},
         "intents.refund.detected must be a boolean, got string"),
        ({**llm_intents(), "legal": {"detected": True}}, "intents.legal: missing key(s) evidence"),
        ({**llm_intents(), "churn": {"detected": False, "evidence": None}},
         "intents.churn.evidence must be a string, got null"),
    ],
)
def test_malformed_intents_are_rejected_with_the_field_named(intents, message):
    with pytest.raises(InvalidModelOutput, match=re.escape(message)):
        parse_triage(with_(intents=intents))


def test_integer_confidence_is_accepted_as_float():
    assert parse_triage(with_(confidence=1)).confidence == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "```json\n" + json.dumps(VALID) + "\n```",
        "```\n" + json.dumps(VALID, indent=2) + "\n```",
        "  ```json " + json.dumps(VALID) + "```  ",
    ],
)
def test_fenced_json_is_accepted(text):
    assert parse_triage(text).category == "Billing"


def _drop(key):
    obj = dict(VALID)
    del obj[key]
    return json.dumps(obj)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "empty"),
        ("Sure! Here is the triage: category Billing", "not valid JSON"),
        ('{"category": "Billing",', "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got array"),
        ('"Billing"', "must be a JSON object, got string"),
        (_drop("priority"), "missing key(s) priority"),
        (_drop("sentiment"), "missing key(s) sentiment"),
        (with_(urgency="high"), "unexpected key(s) urgency"),
        (with_(category="Sales"), "category 'Sales' is not one of"),
        (with_(category="billing"), "category 'billing' is not one of"),
        (with_(category=3), "category must be a string"),
        (with_(priority=0), "priority must be an integer from 1 to 5, got 0"),
        (with_(priority=6), "priority must be an integer from 1 to 5, got 6"),
        (with_(priority=2.5), "priority must be an integer from 1 to 5, got number"),
        (with_(priority="2"), "priority must be an integer from 1 to 5, got string"),
        (with_(priority=True), "priority must be an integer from 1 to 5, got boolean"),
        (with_(escalate="yes"), "escalate must be a boolean, got string"),
        (with_(escalate=1), "escalate must be a boolean, got number"),
        (with_(confidence=1.5), "confidence must be a number from 0 to 1, got 1.5"),
        (with_(confidence=-0.1), "confidence must be a number from 0 to 1, got -0.1"),
        (with_(confidence="0.9"), "confidence must be a number from 0 to 1, got string"),
        (with_(confidence=False), "confidence must be a number from 0 to 1, got boolean"),
        (with_(reasoning=None), "reasoning must be a string, got null"),
        (with_(sentiment="negative"), "sentiment must be an object, got string"),
        (with_(sentiment={"label": "angry", "frustrated": True}), "sentiment.label 'angry'"),
        (with_(sentiment={"label": "negative"}), "sentiment: missing key(s) frustrated"),
        (
            with_(sentiment={"label": "negative", "frustrated": True, "score": 1}),
            "sentiment: unexpected key(s) score",
        ),
        (
            with_(sentiment={"label": "negative", "frustrated": "no"}),
            "sentiment.frustrated must be a boolean",
        ),
        (with_(language=""), "language must be a non-empty"),
        (with_(language="   "), "language must be a non-empty"),
        (with_(language=None), "language must be a string, got null"),
    ],
)
def test_invalid_output_is_rejected_with_a_named_problem(text, expected):
    with pytest.raises(InvalidModelOutput) as info:
        parse_triage(text)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_nan_confidence_is_rejected():
    with pytest.raises(InvalidModelOutput, match="confidence"):
        parse_triage(with_(confidence=float("nan")))  # json.dumps writes NaN


def _walk(node):
    yield node
    for value in node.get("properties", {}).values():
        yield from _walk(value)


def test_schema_is_strict_mode_compatible():
    assert TRIAGE_JSON_SCHEMA["properties"]["category"]["enum"] == list(CATEGORIES)
    allowed = {"type", "properties", "required", "additionalProperties", "enum", "description"}
    objects = 0
    for node in _walk(TRIAGE_JSON_SCHEMA):
        assert set(node) <= allowed, set(node) - allowed
        if node["type"] == "object":
            objects += 1
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])
    assert objects == 3 + len(INTENTS)  # triage, sentiment, intents and one per intent
    # Every example the parser accepts must also be describable by the schema's keys.
    assert sorted(TRIAGE_JSON_SCHEMA["required"]) == sorted(VALID)


def test_fallback_triage_sends_the_ticket_to_a_human():
    triage = fallback_triage("priority must be an integer from 1 to 5, got 9")
    assert triage.category == "Other"
    assert triage.priority == 3
    assert triage.escalate is True
    assert triage.confidence == 0.0
    assert triage.sentiment == Sentiment(label="neutral", frustrated=False)
    assert triage.language == "und"
    assert "invalid" in triage.reasoning and "human" in triage.reasoning
    assert "got 9" in triage.reasoning
