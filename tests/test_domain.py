"""Stored values round-trip: what a run saved is what a later attempt reads back."""

from __future__ import annotations

import json

from bot.decisions import (
    Decision,
    DraftResult,
    EscalationReason,
    Sentiment,
    Triage,
    TriageResult,
    Usage,
)
from bot.domain import MAX_TICKET_CHARS, Ticket

TRIAGE = Triage("Billing", 2, True, 0.83, "charged twice", Sentiment("negative", True), "de")


def through_json(data: dict) -> dict:
    return json.loads(json.dumps(data))  # what the JSON column gives back


def test_a_hybrid_triage_result_round_trips_with_who_decided_and_what_was_discarded():
    discarded = TriageResult(TRIAGE, "gpt-test", Usage(400, 30, 100), valid=False,
                             error="not JSON", engine="openai")
    result = TriageResult(TRIAGE, "local:triage-default@1", Usage(), engine="offline",
                          local_opinion={"category": "Billing", "confidence": 0.83,
                                         "model": "local:triage-default@1"},
                          discarded=discarded)
    assert TriageResult.from_dict(through_json(result.as_dict())) == result


def test_the_triage_fields_stay_at_the_top_where_reports_read_them():
    data = TriageResult(TRIAGE, "m", engine="offline").as_dict()
    assert (data["category"], data["confidence"], data["sentiment"]) == (
        "Billing", 0.83, {"label": "negative", "frustrated": True})
    assert Triage.from_dict(data) == TRIAGE


def test_draft_result_and_decision_round_trip():
    draft = DraftResult("Hi [1]", "gpt-test", Usage(1000, 100, 0), engine="openai")
    assert DraftResult.from_dict(through_json(draft.as_dict())) == draft
    decision = Decision("Billing", 2, True, (EscalationReason("refund", 'mentions "refund"'),),
                        "supervisor", 101, ("ai_triaged", "ai_escalation_refund"))
    assert Decision.from_dict(through_json(decision.as_dict())) == decision


def test_a_run_saved_before_provenance_was_stored_still_reads():
    """Runs saved by the previous version kept only the triage fields, valid and error."""
    old = {**TRIAGE.as_dict(), "valid": True, "error": None}
    result = TriageResult.from_dict(old)
    assert result.triage == TRIAGE and result.engine == "" and result.usage == Usage()


def test_a_long_ticket_is_bounded_and_a_short_one_is_the_same_object():
    short = Ticket(id="1", subject="s", description="d" * 10)
    assert short.bounded(MAX_TICKET_CHARS) is short
    long = Ticket(id="1", subject="s" * 5000, description="x" * (MAX_TICKET_CHARS + 5))
    cut = long.bounded(MAX_TICKET_CHARS)
    assert len(cut.description) == MAX_TICKET_CHARS and len(cut.subject) == 1000
    assert cut.id == long.id
