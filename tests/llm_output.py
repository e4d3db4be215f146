"""The `intents` object of the LLM's structured triage output, for tests that script replies."""

from __future__ import annotations

from bot.intents import INTENTS


def llm_intents(**evidence: str) -> dict:
    """`llm_intents(refund="reverse the charge")`: those intents detected with that quote,
    every other one not detected."""
    return {
        name: {"detected": name in evidence, "evidence": evidence.get(name, "")} for name in INTENTS
    }
