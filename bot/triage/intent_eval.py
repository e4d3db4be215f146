"""Escalation intents measured on labelled tickets: for each intent, whether the rules would
escalate for it (any detector: the policy's keyword lists, the engine's own detector), and what
each detector alone would catch. Overall, per intent and per language, with the tickets missed.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.decisions import Triage
from bot.intents import INTENTS
from bot.policy import Policy
from bot.rules import customer_text, intent_signals
from bot.triage.data import LabelledTicket

MISSED_SHOWN = 8


def intent_report(
    tickets: Sequence[LabelledTicket], triages: Sequence[Triage], policy: Policy
) -> dict:
    """Only tickets labelled for intents count (`intents` not None)."""
    rows: list[tuple[LabelledTicket, set[str], dict[str, set[str]]]] = []
    for ticket, triage in zip(tickets, triages, strict=True):
        if ticket.intents is None:
            continue
        signals = intent_signals(customer_text(ticket.subject, ticket.body), triage, policy)
        by_source: dict[str, set[str]] = {}
        for signal in signals:
            by_source.setdefault(signal.source, set()).add(signal.intent)
        rows.append((ticket, {s.intent for s in signals}, by_source))
    if not rows:
        return {}
    report: dict = {"n": len(rows), "per_intent": {}, "per_language": {}}
    for intent in INTENTS:
        truth = [intent in _labels(t) for t, _, _ in rows]
        entry = _binary(truth, [intent in fired for _, fired, _ in rows])
        for source in ("keywords", "local", "llm"):
            alone = [intent in by.get(source, ()) for _, _, by in rows]
            if any(alone):
                entry[f"{source}_alone"] = _binary(truth, alone)
        entry["missed"] = [
            _headline(t) for t, fired, _ in rows if intent in _labels(t) and intent not in fired
        ][:MISSED_SHOWN]
        entry["false_alarms"] = [
            _headline(t) for t, fired, _ in rows if intent in fired and intent not in _labels(t)
        ][:MISSED_SHOWN]
        report["per_intent"][intent] = entry
    for language in sorted({t.language or "?" for t, _, _ in rows}):
        subset = [(t, fired) for t, fired, _ in rows if (t.language or "?") == language]
        truth = [bool(t.intents) for t, _ in subset]
        # Per language: did each ticket get exactly the escalating intents it should, and were
        # the tickets that need any escalation escalated for at least their intents?
        report["per_language"][language] = {
            "n": len(subset),
            "all_intents_found": _share(
                _labels(t) <= fired for t, fired in subset if _labels(t)
            ),
            "escalation": _binary(truth, [bool(fired) for _, fired in subset]),
        }
    return report


def _labels(ticket: LabelledTicket) -> frozenset[str]:
    return ticket.intents or frozenset()


def _headline(ticket: LabelledTicket) -> str:
    text = " ".join(f"{ticket.subject} | {ticket.body}".split())
    return f"[{ticket.language or '?'}] {text[:90]}"


def _share(flags) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def _binary(truth: list[bool], predicted: list[bool]) -> dict:
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    return {
        "positives": tp + fn,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
    }
