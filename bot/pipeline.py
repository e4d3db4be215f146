"""The workflow for one ticket event: read, triage, apply rules, draft, publish, record.

Plain functions over injected dependencies. Vendor failures arrive as `RetryableError` or
`PermanentError` and are left to the caller (the Celery task), the one layer that retries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from bot.context import build_context
from bot.db.models import Run, RunStatus
from bot.domain import (
    DraftResult,
    Sentiment,
    SourceArticle,
    Ticket,
    TicketUpdate,
    Triage,
    TriageResult,
    Usage,
)
from bot.helpdesk.base import Helpdesk
from bot.kb.retrieval import KnowledgeBase
from bot.llm.base import LLM
from bot.llm.pricing import PriceTable, add_costs, cost_of
from bot.notes import format_failure_note, format_triage_note
from bot.policy import Policy
from bot.prompts import PromptLibrary, build_draft_request, build_triage_request, prompt_version
from bot.rules import apply_rules
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger(__name__)

TRIAGED_TAG = "ai_triaged"
FAILED_TAG = "ai_failed"
LEASE_SECONDS = 300
# Earlier tickets read per run: a month of contacts for almost anyone, in one request.
HISTORY_PAGE = 50


@dataclass
class Worker:
    """Everything a run needs, built once per worker process."""

    helpdesk: Helpdesk
    llm: LLM
    store: Store
    policy: Policy
    prompts: PromptLibrary
    settings: Settings
    knowledge: KnowledgeBase | None = None  # None: no help center, every draft is unsourced
    prices: PriceTable | None = None  # None: costs are not recorded
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)


def process_run(run_id: int, worker: Worker) -> str:
    """Take one run through the workflow. Returns the run's final status, or "not claimed"."""
    run = worker.store.claim(run_id, LEASE_SECONDS)
    if run is None:
        log.info("run %s not claimed: finished, or held by another worker", run_id)
        return "not claimed"
    started = time.monotonic()
    snapshot = worker.helpdesk.fetch(run.ticket_id, history_limit=HISTORY_PAGE)
    if TRIAGED_TAG in snapshot.ticket.tags:
        # Processed already (by an earlier run whose record was lost, or another deployment):
        # never a second note on the same ticket.
        worker.store.finish(run_id, RunStatus.SKIPPED, error=f"ticket already tagged {TRIAGED_TAG}")
        return RunStatus.SKIPPED

    known = _known_categories(worker.store, run.helpdesk, [t.id for t in snapshot.history])
    context = build_context(snapshot, worker.policy, worker.clock(), known)
    triage_result, draft, sources = _reuse_model_output(run)
    if triage_result is None:
        triage_result = worker.llm.triage(
            build_triage_request(snapshot.ticket, context, worker.prompts, worker.policy)
        )
    if sources is None:
        sources = find_sources(worker, snapshot.ticket, triage_result.triage)
    decision = apply_rules(
        triage_result.triage, snapshot.ticket, context, worker.policy, has_sources=bool(sources)
    )
    if draft is None:
        draft = worker.llm.draft(
            build_draft_request(
                snapshot.ticket,
                context,
                triage_result.triage,
                decision,
                worker.prompts,
                worker.policy,
                sources=sources,
                triaged_by=triage_result.engine,
            )
        )
        # Saved before the write: a retry after a Zendesk failure reuses it (and the sources it
        # was drafted from), no second LLM bill.
        worker.store.save(
            run_id,
            **_model_fields(triage_result, draft, worker.llm, worker.prices),
            sources=[source.as_dict() for source in sources],
        )
    version = prompt_version(worker.prompts, decision.category)
    note = format_triage_note(
        decision,
        triage_result,
        draft,
        context,
        worker.policy,
        version,
        worker.llm.provider,
        sources=sources,
    )
    update = TicketUpdate(
        note=note, add_tags=decision.tags, priority=decision.priority, group_id=decision.group_id
    )
    result = worker.helpdesk.publish(snapshot.ticket, update)
    if not result.applied:
        worker.store.finish(
            run_id, RunStatus.SKIPPED, error="another run updated the ticket first (seen after a 409)"
        )
        return RunStatus.SKIPPED
    worker.store.finish(
        run_id,
        RunStatus.SUCCEEDED,
        rules={
            "policy_version": worker.policy.version,
            "category": decision.category,
            "priority": decision.priority,
            "escalate": decision.escalate,
            "reasons": [{"code": r.code, "detail": r.detail} for r in decision.reasons],
            "group_key": decision.group_key,
            "group_id": decision.group_id,
            "tags": list(decision.tags),
        },
        customer={
            "tier": context.tier,
            "account_status": context.account_status,
            "contacts_in_window": context.contacts_in_window,
            "topics": dict(context.topics),
        },
        prompt_version=version,
        latency_ms=int((time.monotonic() - started) * 1000),
        actions={
            "update": result.payload,
            "conflicts": result.conflicts,
            "kept_agent_fields": list(result.kept_agent_fields),
        },
        error=None,
    )
    return RunStatus.SUCCEEDED


def find_sources(worker: Worker, ticket: Ticket, triage: Triage) -> tuple[SourceArticle, ...]:
    """The approved articles the draft may rely on: none without a knowledge base."""
    if worker.knowledge is None:
        return ()
    knowledge = worker.policy.knowledge
    return worker.knowledge.sources_for(
        ticket,
        language=triage.language,
        category_terms=knowledge.category_terms.get(triage.category, ""),
        min_relevance=knowledge.min_relevance,
        limit=knowledge.max_sources,
    )


def give_up(run_id: int, worker: Worker, what_failed: str) -> None:
    """Retries are exhausted or pointless: record it, and make it visible in the helpdesk."""
    run = worker.store.get(run_id)
    if run is None:
        return
    worker.store.finish(run_id, RunStatus.FAILED, error=what_failed)
    try:
        ticket = worker.helpdesk.fetch_ticket(run.ticket_id)
        worker.helpdesk.publish(
            ticket,
            TicketUpdate(note=format_failure_note(what_failed, run.attempts), add_tags=(FAILED_TAG,)),
        )
    except Exception:  # the helpdesk may be what failed; the store still has the failure
        log.exception("could not post the failure note on ticket %s", run.ticket_id)


def _known_categories(store: Store, helpdesk: str, ticket_ids: list[str]) -> dict[str, str]:
    if not ticket_ids:
        return {}
    return {
        r.ticket_id: r.rules["category"]
        for r in store.runs_for_tickets(helpdesk, ticket_ids)
        if r.rules and r.rules.get("category")
    }


def _model_fields(
    triage: TriageResult, draft: DraftResult, llm: LLM, prices: PriceTable | None
) -> dict:
    usage = triage.usage + draft.usage
    steps = {"triage": _step(triage.engine, triage.model, triage.usage, prices),
             "draft": _step(draft.engine, draft.model, draft.usage, prices)}
    if triage.local_opinion:
        steps["local_opinion"] = dict(triage.local_opinion)
    if triage.discarded is not None:  # paid for, not used: still part of the ticket's cost
        lost = triage.discarded
        steps["discarded_triage"] = {**_step(lost.engine, lost.model, lost.usage, prices),
                                     "error": lost.error}
        usage = usage + lost.usage
    costs = [step["cost_usd"] for step in steps.values() if "cost_usd" in step]
    return {
        "triage": {**triage.triage.as_dict(), "valid": triage.valid, "error": triage.error},
        "draft": draft.text,
        "engine": llm.provider,
        "triage_engine": triage.engine or llm.provider,
        "draft_engine": draft.engine or llm.provider,
        "model": draft.model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": add_costs(costs),
        "usage": steps,
    }


def _step(engine: str, model: str, usage: Usage, prices: PriceTable | None) -> dict:
    return {
        "engine": engine,
        "model": model,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": cost_of(prices, model, usage),
    }


def _reuse_model_output(
    run: Run,
) -> tuple[TriageResult | None, DraftResult | None, tuple[SourceArticle, ...] | None]:
    if not (run.triage and run.draft):
        return None, None, None
    data = run.triage
    triage = Triage(
        category=data["category"],
        priority=data["priority"],
        escalate=data["escalate"],
        confidence=data["confidence"],
        reasoning=data["reasoning"],
        sentiment=Sentiment(**data["sentiment"]),
        language=data["language"],
    )
    model = run.model or ""
    return (
        TriageResult(triage, model, Usage(), valid=data.get("valid", True), error=data.get("error")),
        DraftResult(run.draft, model, Usage()),
        tuple(SourceArticle.from_dict(s) for s in run.sources or ()),
    )
