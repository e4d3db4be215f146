"""The workflow for one ticket event: read, triage, apply rules, draft, publish, record.

Plain functions over injected dependencies, the same for every helpdesk: the run's adapter is
chosen by `run.helpdesk`. Which events run it, and how, is `bot.events`' table. Vendor failures
arrive as `RetryableError` or `PermanentError` and are left to the caller (`bot.attempt`), the
one layer that retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.context import build_context
from bot.decisions import SourceArticle, Triage
from bot.domain import MAX_TICKET_CHARS, EventKind, Ticket, TicketUpdate
from bot.errors import OutOfTime, Superseded
from bot.helpdesks import adapter_for
from bot.helpdesks.base import Helpdesk
from bot.kb.retrieval import KnowledgeBase
from bot.leases import Claim
from bot.llm.base import LLM
from bot.llm.pricing import PriceTable
from bot.model_output import model_fields, reuse_model_output
from bot.notes import describe_reading, draft_text, format_triage_note
from bot.policy import Policy
from bot.prompts import PromptLibrary, build_draft_request, build_triage_request, prompt_version
from bot.rollout import Mode
from bot.rules import apply_rules
from bot.settings import Settings
from bot.store import Store
from bot.vocabulary import BotTag, RunStatus

log = logging.getLogger(__name__)

# Earlier tickets read per run: a month of contacts for almost anyone, in one request.
HISTORY_PAGE = 50


@dataclass
class Worker:
    """Everything a run needs, built once per worker process."""

    helpdesks: Mapping[str, Helpdesk]  # an adapter per served helpdesk (`bot.helpdesks`)
    llm: LLM
    store: Store
    policy: Policy
    prompts: PromptLibrary
    settings: Settings
    knowledge: KnowledgeBase | None = None  # None: no help center, every draft is unsourced
    prices: PriceTable | None = None  # None: costs are not recorded
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class Budget:
    """When this attempt must stop. Checked between steps; each request inside a step has its
    own timeout, so an attempt overruns its limit by at most one request."""

    deadline: datetime
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def check(self, step: str) -> None:
        if self.clock() >= self.deadline:
            raise OutOfTime(f"out of time before {step} (TASK_TIME_LIMIT or RUN_DEADLINE reached)")


def run_reference(run_id: int) -> str:
    """What names a run's write in the helpdesk (in its note), so an adapter that writes in
    several calls never posts the same note twice. Bracketed: "[run 4]" is not in "[run 42]"."""
    return f"[run {run_id}]"


def triage_and_draft(claim: Claim, worker: Worker, budget: Budget, *, first: bool) -> str:
    """The workflow for a run this attempt holds. Returns the run's final status.

    `first`: the ticket's first run (a new ticket); a ticket that already carries the bot's
    triage tag is then skipped, never noted twice. A later run (the customer wrote again)
    triages the conversation so far and drafts anew.

    Every write to the store is conditional on still holding the lease, and the lease is
    checked once more just before the write to the helpdesk: an attempt that stalled past
    its lease (and whose run went to another attempt) stops with `Superseded`, writing nothing.
    """
    run, token, store = claim.run, claim.token, worker.store
    assert run is not None
    started = time.monotonic()
    helpdesk = adapter_for(worker.helpdesks, run.helpdesk)
    budget.check("reading the ticket")
    # A later run reads the conversation so far: the customer wrote again, or an agent asked.
    snapshot = helpdesk.fetch(run.ticket_id, history_limit=HISTORY_PAGE, conversation=not first)
    if first and BotTag.TRIAGED in snapshot.ticket.tags:
        # Processed already (by an earlier attempt that died before recording it, or another
        # deployment): never a second note on the same ticket.
        _finish(store, run.id, token, RunStatus.SKIPPED, error=f"ticket already tagged {BotTag.TRIAGED}")
        return RunStatus.SKIPPED
    ticket = snapshot.ticket.bounded(MAX_TICKET_CHARS)  # what every step below reads
    if run.event_kind == EventKind.CUSTOMER_REPLIED:
        from bot import review_actions  # it builds on this module

        budget.check("comparing with the question answered")
        repeat = review_actions.repeat_of_sent_draft(worker, run)
        if repeat is not None:  # the sent answer did not help: a human must look, not a redraft
            return review_actions.escalate(claim, worker, budget, "repeat_question",
                                           {"similarity": repeat}, since=run.created_at)
    instruction = str((run.request or {}).get("instruction") or "")

    known = _known_categories(store, run.helpdesk, [t.id for t in snapshot.history])
    context = build_context(snapshot, worker.policy, worker.clock(), known)
    triage_result, draft, sources = reuse_model_output(run)
    if triage_result is None:
        budget.check("triage")
        triage_result = worker.llm.triage(
            build_triage_request(ticket, context, worker.prompts, worker.policy)
        )
    if sources is None:
        budget.check("searching the help center")
        sources = find_sources(worker, ticket, triage_result.triage)
    decision = apply_rules(
        triage_result.triage,
        ticket,
        context,
        worker.policy,
        has_sources=bool(sources),
        helpdesk=run.helpdesk,
    )
    mode = worker.policy.rollout.mode_for(run.helpdesk, decision.category)
    rules = {"policy_version": worker.policy.version, "rollout": str(mode), **decision.as_dict()}
    if mode is Mode.OFF:  # the category is not rolled out: nothing drafted, nothing written
        _finish(store, run.id, token, RunStatus.SKIPPED, rules=rules,
                error=f"rollout: {decision.category} is off in {run.helpdesk}")
        return RunStatus.SKIPPED
    if draft is None:
        budget.check("drafting")
        draft = worker.llm.draft(
            build_draft_request(
                ticket,
                context,
                triage_result.triage,
                decision,
                worker.prompts,
                worker.policy,
                sources=sources,
                triaged_by=triage_result.engine,
                instruction=instruction,
            )
        )
        # Saved before the write: a retry after a helpdesk failure reuses it (and the sources
        # it was drafted from) with who made it, and pays no second LLM bill.
        if not store.save_output(
            run.id,
            token,
            **model_fields(triage_result, draft, worker.llm, worker.prices),
            sources=[source.as_dict() for source in sources],
        ):
            raise Superseded(f"run {run.id}: attempt {token} lost its lease before saving")
    version = prompt_version(worker.prompts, decision.category)
    reference = run_reference(run.id)
    note = format_triage_note(
        decision,
        triage_result,
        draft,
        context,
        worker.policy,
        version,
        worker.llm.provider,
        sources=sources,
        reading=describe_reading(snapshot, MAX_TICKET_CHARS, instruction, worker.llm.provider),
        reference=reference,
        helpdesk=run.helpdesk,
    )
    update = TicketUpdate(
        note=note,
        add_tags=decision.tags,
        priority=decision.priority,
        group_id=decision.group_id,
        reference=reference,
        draft=draft_text(draft.text),
    )
    customer = {
        "tier": context.tier,
        "account_status": context.account_status,
        "contacts_in_window": context.contacts_in_window,
        "topics": dict(context.topics),
        "history_unavailable": snapshot.history_unavailable,
    }

    def latency() -> int:
        return int((time.monotonic() - started) * 1000)

    if not mode.writes:  # shadow: everything stored, nothing written to the helpdesk
        _finish(store, run.id, token, RunStatus.SHADOW, rules=rules, customer=customer,
                prompt_version=version, latency_ms=latency(), error=None,
                actions={"rollout": str(mode), "would_write": _intended(update)})
        return RunStatus.SHADOW
    if not mode.notes:  # tag: tags, priority and routing, no note (so no draft to review)
        update = replace(update, note="", draft="")
    budget.check("publishing the note")
    if not store.holds(run.id, token):
        raise Superseded(f"run {run.id}: attempt {token} lost its lease before publishing")
    # `since` the event arrived: a teammate who answered meanwhile is never talked over.
    result = helpdesk.publish(snapshot.ticket, update, since=run.created_at)
    if result.stale is not None:
        _finish(store, run.id, token, RunStatus.STALE, error=f"nothing posted: {result.stale}",
                rules=rules, prompt_version=version, latency_ms=latency())
        return RunStatus.STALE
    if not result.applied:
        _finish(store, run.id, token, RunStatus.SKIPPED,
                error="another run updated the ticket first (seen after a 409)")
        return RunStatus.SKIPPED
    _finish(
        store,
        run.id,
        token,
        RunStatus.SUCCEEDED,
        rules=rules,
        customer=customer,
        prompt_version=version,
        latency_ms=latency(),
        actions={
            "rollout": str(mode),
            "update": result.payload,
            "conflicts": result.conflicts,
            "kept_agent_fields": list(result.kept_agent_fields),
        },
        error=None,
    )
    if mode.notes:  # a draft agents can act on: its review starts now
        from bot.review_actions import start_review

        start_review(worker, run.id)
    return RunStatus.SUCCEEDED


def _intended(update: TicketUpdate) -> dict:
    """What a run in shadow would have written: for the store, the report and `replay`."""
    return {"note": update.note, "add_tags": list(update.add_tags), "priority": update.priority,
            "group_id": update.group_id}


def _finish(store: Store, run_id: int, token: int, status: RunStatus, **fields: Any) -> None:
    if not store.finish(run_id, token, status, **fields):
        # The helpdesk write (if any) happened; the attempt that now holds the run will see
        # the bot's tag on the ticket and skip it.
        raise Superseded(f"run {run_id}: attempt {token} lost its lease before finishing")


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


def _known_categories(store: Store, helpdesk: str, ticket_ids: list[str]) -> dict[str, str]:
    if not ticket_ids:
        return {}
    return {
        r.ticket_id: r.rules["category"]
        for r in store.runs_for_tickets(helpdesk, ticket_ids)
        if r.rules and r.rules.get("category")
    }
