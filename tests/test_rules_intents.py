"""Escalation intents in the rules: any detector is enough (the policy's keyword lists, the
local model's detector, the LLM's fields), each reason says which fired and quotes the words,
and churn has its own reason, group and precedence slot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.decisions import Decision, EscalationReason
from bot.intents import IntentSignal
from bot.rules import intent_signals
from tests.test_rules import POLICY, SECURITY, SENIOR, SUPERVISOR, decide, ticket, triage


def with_signals(*signals: IntentSignal, **kwargs):
    return replace(triage(**kwargs), intents=signals)


def test_a_refund_seen_only_by_the_local_model_reaches_the_supervisor_with_its_quote():
    quote = "Please reverse the duplicate charge from March 3"
    decision = decide(
        with_signals(IntentSignal("refund", "local", f'"{quote}"')),
        ticket("Please reverse the duplicate charge from March 3. Thanks, Ana", "Duplicate"),
    )
    assert decision.reason_codes == ("refund",)
    assert decision.reasons[0] == EscalationReason(
        "refund", f'refund request: "{quote}" (local model)', ("local",)
    )
    assert (decision.group_key, decision.group_id) == ("supervisor", SUPERVISOR)
    assert "ai_escalation_refund" in decision.tags


def test_keywords_and_detectors_are_one_reason_that_records_every_source():
    decision = decide(
        with_signals(IntentSignal("refund", "llm", '"I want a refund now"'),
                     IntentSignal("refund", "local", '"I want a refund now"')),
        ticket("I want a refund now"),
    )
    (reason,) = decision.reasons
    assert reason.sources == ("keywords", "llm", "local")
    assert reason.detail == (
        'refund request: mentions "refund" (keyword list); "I want a refund now" (LLM); '
        '"I want a refund now" (local model)'
    )


def test_a_detector_can_add_an_escalation_but_never_remove_a_keyword_one():
    # The model saw nothing, the keyword list did: the escalation stands.
    decision = decide(with_signals(), ticket("Our lawyer will be in touch about the breach."))
    assert decision.reason_codes == ("security", "legal")
    assert all(r.sources == ("keywords",) for r in decision.reasons)
    assert decision.group_id == SECURITY


def test_a_non_english_security_report_seen_by_a_detector_goes_to_the_security_queue():
    quote = "alguien cambió el correo de mi cuenta"
    decision = decide(
        with_signals(IntentSignal("security", "local", f'"{quote}"'), category="Account access"),
        ticket(f"Hola, {quote} y ya no puedo entrar", "Cuenta"),
    )
    assert decision.reason_codes == ("security",)
    assert quote in decision.reasons[0].detail
    assert decision.group_id == SECURITY
    assert decision.priority == 2  # the policy's ceiling for security


def test_churn_has_its_own_reason_group_and_slot_after_refund():
    churn = IntentSignal("churn", "local", '"we will move the team to another tool at renewal"')
    alone = decide(with_signals(churn), ticket("we will move the team to another tool at renewal"))
    assert alone.reason_codes == ("churn",)
    assert (alone.group_key, alone.group_id) == ("senior", SENIOR)
    assert alone.reasons[0].detail.startswith("churn threat: ")

    with_refund = decide(with_signals(churn, IntentSignal("refund", "llm", "pay me back")))
    assert with_refund.reason_codes == ("refund", "churn")
    assert with_refund.group_key == "supervisor"  # refund comes first


@pytest.mark.parametrize(
    "text, fires",
    [
        ("Please cancel my subscription at the end of the month.", True),
        ("This is your last chance to fix it.", True),
        ("We are switching to a competitor.", True),
        ("Please cancel my order, I will reorder the right size.", False),
        ("Can we cancel the meeting on Friday?", False),
    ],
)
def test_the_churn_keyword_list_is_phrases_not_every_cancel(text, fires):
    assert (decide(tk=ticket(text)).reason_codes == ("churn",)) is fires


def test_a_frustration_signal_quotes_its_signs_and_goes_to_empathy():
    decision = decide(
        with_signals(IntentSignal("frustrated", "local", '"third time", repeated exclamation marks'),
                     frustrated=True)
    )
    assert decision.reasons[0].detail == (
        'customer sounds frustrated: "third time", repeated exclamation marks (local model)'
    )
    assert decision.group_key == "empathy"


def test_a_signal_without_words_says_which_detector_saw_it_and_long_ones_are_bounded():
    decision = decide(with_signals(IntentSignal("legal", "llm", ""),
                                   IntentSignal("churn", "llm", '"' + "x" * 1000 + '"')))
    legal, churn = decision.reasons
    assert legal.detail == "legal threat or data-protection request: seen by the LLM"
    assert len(churn.detail) < 400 and churn.detail.endswith("… (LLM)")


def test_signals_for_unknown_intents_are_ignored():
    decision = decide(with_signals(IntentSignal("upsell", "llm", "buy more")))
    assert decision.reason_codes == ()


def test_intent_signals_lists_keywords_first_then_the_engines():
    signals = intent_signals(
        "I want my money back", with_signals(IntentSignal("churn", "llm", "done with you")), POLICY
    )
    assert [(s.intent, s.source) for s in signals] == [("refund", "keywords"), ("churn", "llm")]
    assert signals[0].evidence == '"money back"'


def test_reasons_with_sources_survive_the_store_round_trip():
    decision = decide(with_signals(IntentSignal("refund", "local", "reverse it")))
    again = Decision.from_dict(decision.as_dict())
    assert again == decision and again.reasons[0].sources == ("local",)
    # A decision stored before reasons had sources still reads.
    legacy = {**decision.as_dict(), "reasons": [{"code": "refund", "detail": "refund request"}]}
    assert Decision.from_dict(legacy).reasons[0].sources == ()
