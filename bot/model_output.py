"""What a run's model calls produced, as stored: tokens, engines and costs per step, and the
triage and draft an earlier attempt saved, reused by a retry so it pays no second LLM bill."""

from __future__ import annotations

from bot.db.models import Run
from bot.decisions import DraftResult, SourceArticle, TriageResult, Usage
from bot.llm.base import LLM
from bot.llm.pricing import PriceTable, add_costs, cost_of


def model_fields(
    triage: TriageResult, draft: DraftResult, llm: LLM, prices: PriceTable | None
) -> dict:
    usage = triage.usage + draft.usage
    steps = {"triage": step_fields(triage.engine, triage.model, triage.usage, prices),
             "draft": step_fields(draft.engine, draft.model, draft.usage, prices)}
    if triage.local_opinion:
        steps["local_opinion"] = dict(triage.local_opinion)
    if triage.discarded is not None:  # paid for, not used: still part of the ticket's cost
        lost = triage.discarded
        steps["discarded_triage"] = {**step_fields(lost.engine, lost.model, lost.usage, prices),
                                     "error": lost.error}
        usage = usage + lost.usage
    costs = [step["cost_usd"] for step in steps.values() if "cost_usd" in step]
    return {
        "triage": triage.as_dict(),
        "draft": draft.text,
        "draft_result": draft.as_dict(),
        "engine": llm.provider,
        "triage_engine": triage.engine or llm.provider,
        "draft_engine": draft.engine or llm.provider,
        "model": draft.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": add_costs(costs),
        "usage": steps,
    }


def step_fields(engine: str, model: str, usage: Usage, prices: PriceTable | None) -> dict:
    return {
        "engine": engine,
        "model": model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": cost_of(prices, model, usage),
    }


def reuse_model_output(
    run: Run,
) -> tuple[TriageResult | None, DraftResult | None, tuple[SourceArticle, ...] | None]:
    """What an earlier attempt of this run saved before its helpdesk write failed: the same
    triage and draft, with who made them, so the note and the store keep saying so."""
    if not (run.triage and run.draft_result):
        return None, None, None
    return (
        TriageResult.from_dict(run.triage),
        DraftResult.from_dict(run.draft_result),
        tuple(SourceArticle.from_dict(s) for s in run.sources or ()),
    )
