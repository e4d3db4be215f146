"""Escalation intents: the signals a ticket can carry, and the evidence a detector shows for
them. Plain values; the rules (bot.rules) decide what they mean for routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The escalation signals a ticket can carry, each also a reason code of the policy. Which
# detector saw one is recorded with it: the policy's keyword lists, the local engine's trained
# detector, or the LLM's structured output. Any source is enough; none can veto another.
INTENTS: tuple[str, ...] = ("security", "legal", "refund", "churn", "frustrated")
SIGNAL_SOURCES: tuple[str, ...] = ("keywords", "local", "llm")
MAX_EVIDENCE_CHARS = 160  # a quote for the note, not a copy of the ticket


@dataclass(frozen=True)
class IntentSignal:
    """One detector's claim that the ticket shows `intent`, with the words that show it."""

    intent: str  # one of INTENTS
    source: str  # one of SIGNAL_SOURCES
    # What the detector saw, as the note shows it: the customer's words in quotation marks
    # ('"please reverse the charge"'), or signs described ('"third time", repeated
    # exclamation marks'); "" when the detector has nothing to quote.
    evidence: str

    def as_dict(self) -> dict:
        return {"intent": self.intent, "source": self.source, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntentSignal:
        return cls(str(data["intent"]), str(data["source"]), str(data.get("evidence", "")))


def quoted(text: str) -> str:
    """The customer's words as evidence: one line, clipped, in quotation marks ("" if none)."""
    clipped = clip_evidence(text)
    return f'"{clipped}"' if clipped else ""


def clip_evidence(text: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    """One line, at most `limit` characters, cut at a word where it can be."""
    one_line = " ".join(str(text).split())
    if len(one_line) <= limit:
        return one_line
    cut = one_line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"
