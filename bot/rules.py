"""Deterministic rules applied after the model. Pure: same inputs, same decision.

The model's opinion is one input among others. It can add an escalation (`model_flagged`, or
an intent its detector saw) but never remove one a rule made; routing, tags and visibility come
only from the policy and the customer's record. Ticket text is matched against the policy's
keyword lists, but nothing in it can change those lists or the precedence.

Each escalation intent (security, legal, refund, churn, frustration) fires when any detector
saw it: the policy's keyword list, the local engine's trained detector or the LLM's structured
output. The reason records which ones did, and quotes the words that showed it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.decisions import Decision, EscalationReason, Triage
from bot.domain import CustomerContext, Ticket, category_slug
from bot.intents import INTENTS, MAX_EVIDENCE_CHARS, IntentSignal, clip_evidence
from bot.policy import KEYWORD_LISTS, Policy
from bot.reply_text import new_text
from bot.vocabulary import BotTag, category_tag, escalation_tag, priority_tag

PRIORITY_WORDS = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "lowest"}


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=256)
def _keyword_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = sorted({normalise(w).strip() for w in words if w.strip()}, key=len, reverse=True)
    # Whole words only, so "sue" does not fire inside "issue": the policy lists each form it
    # means ("refund", "refunds", "refunded"). Phrases match across any run of whitespace.
    body = "|".join(r"\s+".join(map(re.escape, w.split())) for w in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def find_keywords(text: str, words: tuple[str, ...]) -> list[str]:
    pattern = _keyword_pattern(tuple(words))
    if pattern is None:
        return []
    found: list[str] = []
    for match in pattern.finditer(normalise(text)):
        word = re.sub(r"\s+", " ", match.group(0))
        if word not in found:
            found.append(word)
    return found


def apply_rules(
    triage: Triage,
    ticket: Ticket,
    context: CustomerContext,
    policy: Policy,
    has_sources: bool = True,
    helpdesk: str = "zendesk",
) -> Decision:
    """`has_sources`: whether retrieval found an approved article for the draft. `helpdesk`:
    whose group (Zendesk) or team (Intercom) ids the decision routes to."""
    text = customer_text(ticket.subject, ticket.description)
    reasons: list[EscalationReason] = []

    signals = intent_signals(text, triage, policy)
    for intent in INTENTS:
        seen = [s for s in signals if s.intent == intent]
        if seen:
            reasons.append(_intent_reason(intent, seen))
    if context.is_vip:
        reasons.append(EscalationReason("vip", "VIP customer"))
    earlier = context.topics.get(triage.category, 0)
    if earlier + 1 >= policy.repeat_contact_min:
        reasons.append(
            EscalationReason(
                "repeat_contact",
                f"repeat contact: {_ordinal(earlier + 1)} ticket about {triage.category} "
                f"in {context.window_days} days",
            )
        )
    if triage.confidence < policy.confidence_threshold:
        reasons.append(
            EscalationReason(
                "low_confidence",
                f"low confidence: {triage.confidence:.2f} is below {policy.confidence_threshold:.2f}",
            )
        )
    if not has_sources and triage.category in policy.knowledge.escalate_without_source:
        reasons.append(
            EscalationReason("no_source", "no approved help-center article answers this ticket")
        )
    if triage.escalate:
        reasons.append(EscalationReason("model_flagged", "the model recommends a human look"))

    reasons = _in_precedence(reasons, policy)
    codes = {r.code for r in reasons}
    priority = triage.priority
    for code in codes:
        priority = min(priority, policy.priority_ceiling.get(code, 5))

    group_key, group_id = _route(codes, triage.category, policy, helpdesk)
    tags = [BotTag.TRIAGED.value, category_tag(category_slug(triage.category)), priority_tag(priority)]
    if reasons:
        tags.append(BotTag.ESCALATED.value)
        tags.extend(escalation_tag(r.code) for r in reasons)
    return Decision(
        category=triage.category,
        priority=priority,
        escalate=bool(reasons),
        reasons=tuple(reasons),
        group_key=group_key,
        group_id=group_id,
        tags=tuple(tags),
    )


def customer_text(subject: str, description: str) -> str:
    """What the keyword lists read: the subject and the customer's new words (a quoted earlier
    reply is not a new request)."""
    return f"{subject}\n{new_text(description)}"


def intent_signals(text: str, triage: Triage, policy: Policy) -> list[IntentSignal]:
    """Every detector's signals: the policy's keyword lists first, then the engine's own."""
    signals = []
    for code in KEYWORD_LISTS:
        found = find_keywords(text, policy.keywords.get(code, ()))
        if found:
            signals.append(IntentSignal(code, "keywords", ", ".join(f'"{w}"' for w in found[:3])))
    signals.extend(s for s in triage.intents if s.intent in INTENTS)
    if triage.sentiment.frustrated and not any(s.intent == "frustrated" for s in triage.intents):
        # A triage stored before engines gave signals: its sentiment flag still counts.
        signals.append(IntentSignal("frustrated", "model", ""))
    return signals


def _intent_reason(intent: str, seen: list[IntentSignal]) -> EscalationReason:
    """'refund request: "please reverse the duplicate charge" (local model); mentions "refund"
    (keyword list)'. One entry per detector, in the order they were consulted."""
    parts, sources = [], []
    for signal in seen:
        if signal.source in sources:
            continue
        sources.append(signal.source)
        if signal.source == "keywords":
            parts.append(f"mentions {signal.evidence} (keyword list)")
        else:
            # Detectors quote and clip their evidence; this only bounds what a stored or
            # foreign signal could put in a note.
            shown = clip_evidence(signal.evidence, 2 * MAX_EVIDENCE_CHARS)
            label = _SOURCE_LABELS.get(signal.source, signal.source)
            parts.append(f"{shown} ({label})" if shown else f"seen by the {label}")
    return EscalationReason(intent, f"{_LABELS[intent]}: {'; '.join(parts)}", tuple(sources))


def _in_precedence(reasons: list[EscalationReason], policy: Policy) -> list[EscalationReason]:
    order = {e.reason: i for i, e in enumerate(policy.escalations)}
    return sorted(reasons, key=lambda r: order.get(r.code, len(order)))


def _route(
    codes: set[str], category: str, policy: Policy, helpdesk: str
) -> tuple[str | None, int | str | None]:
    """The first reason in precedence order whose group is configured in this helpdesk wins;
    else the category's."""
    for escalation in policy.escalations:
        if escalation.reason in codes and escalation.group:
            group_id = policy.group_id(escalation.group, helpdesk)
            if group_id is not None:
                return escalation.group, group_id
    group_id = policy.routing_id(category, helpdesk)
    return (category if group_id is not None else None), group_id


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_LABELS = {
    "security": "security concern",
    "legal": "legal threat or data-protection request",
    "refund": "refund request",
    "churn": "churn threat",
    "frustrated": "customer sounds frustrated",
}
_SOURCE_LABELS = {
    "keywords": "keyword list", "local": "local model", "llm": "LLM", "model": "model's sentiment"
}
