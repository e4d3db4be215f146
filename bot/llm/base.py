"""The one interface the pipeline uses to talk to a language model.

Prompt *building* is not done here (see `bot.prompts`); a provider receives ready requests:
chat messages for a real model, plus the structured fields an offline engine needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.decisions import Decision, DraftResult, SourceArticle, Triage, TriageResult
from bot.domain import CustomerContext, Ticket

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass(frozen=True)
class TriageRequest:
    messages: Sequence[Message]  # system instructions first, delimited ticket text last
    ticket: Ticket
    context: CustomerContext


@dataclass(frozen=True)
class DraftRequest:
    messages: Sequence[Message]
    ticket: Ticket
    context: CustomerContext
    triage: Triage
    decision: Decision
    template_id: str  # e.g. "billing"
    template_version: str  # e.g. "1"
    max_words: int | None = None
    sources: tuple[SourceArticle, ...] = ()  # numbered as the draft must cite them: [1], [2]
    triaged_by: str = ""  # the engine that made the triage (hybrid mode drafts by it)


class LLM(Protocol):
    """`triage` never raises for bad model output (it returns confidence 0 instead);
    it raises `RetryableError` / `PermanentError` for transport failures."""

    provider: str  # "offline", "openai" or "hybrid"
    model: str

    def triage(self, request: TriageRequest) -> TriageResult: ...

    def draft(self, request: DraftRequest) -> DraftResult: ...
