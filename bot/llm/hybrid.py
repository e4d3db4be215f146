"""Hybrid triage (LLM_PROVIDER=hybrid): the local model decides the tickets it is sure of, the
LLM the rest, so the LLM is only paid for the hard ones.

The bar (HYBRID_CONFIDENCE_BAR) is compared with the local model's *calibrated* confidence:
at a bar of 0.85, the tickets it keeps are right about 85 % of the time or more; `python -m
bot eval` prints the share of tickets above any bar and the accuracy there. Drafts go to the
LLM for every ticket (HYBRID_DRAFTS=llm, the default), or only for the tickets the LLM
triaged (HYBRID_DRAFTS=local: the others get the local engine's template or article draft,
and cost nothing).
"""

from __future__ import annotations

from dataclasses import replace

from bot.decisions import DraftResult, TriageResult
from bot.llm.base import LLM, DraftRequest, TriageRequest
from bot.llm.offline import OfflineEngine

HYBRID_DRAFTS = ("llm", "local")


class HybridEngine:
    provider = "hybrid"

    def __init__(self, local: OfflineEngine, remote: LLM, bar: float, drafts: str = "llm"):
        if drafts not in HYBRID_DRAFTS:
            raise ValueError(f"drafts must be one of {HYBRID_DRAFTS}")
        self.local = local
        self.remote = remote
        self.bar = bar
        self.drafts = drafts
        self.model = remote.model

    def triage(self, request: TriageRequest) -> TriageResult:
        local = self.local.triage(request)
        if local.triage.confidence >= self.bar:
            return local
        remote = self.remote.triage(request)
        if not remote.valid:
            # The LLM's answer was unusable even after its repair turn. The local triage, though
            # below the bar, is a real opinion, better than the confidence-0 stand-in; but no
            # engine was sure, so it is flagged for a human (`model_flagged`) whatever its
            # confidence. The tokens were paid: they are recorded with the run.
            kept = replace(
                local.triage,
                escalate=True,
                reasoning=f"{local.triage.reasoning} The LLM's answer was unusable, and this "
                "local triage is below the hybrid bar: a human should check it.",
            )
            return replace(local, triage=kept, discarded=replace(remote, engine=self.remote.provider))
        opinion = {
            "category": local.triage.category,
            "confidence": local.triage.confidence,
            "model": local.model,
        }
        # The LLM decides the triage, but the local detector's intents still count: any
        # detector that sees a refund or a takeover is enough to escalate it.
        merged = replace(remote.triage, intents=remote.triage.intents + local.triage.intents)
        return replace(
            remote, triage=merged, engine=remote.engine or self.remote.provider,
            local_opinion=opinion,
        )

    def draft(self, request: DraftRequest) -> DraftResult:
        if self.drafts == "local" and request.triaged_by == self.local.provider:
            return self.local.draft(request)
        return self.remote.draft(request)
