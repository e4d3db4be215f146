"""The bot's decisions on past tickets, as a live run in `shadow` makes them (the same context,
triage, help-center search, rules and draft; nothing is written anywhere, nothing is stored),
and the pace of the reads a helpdesk source makes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from bot.context import build_context
from bot.domain import MAX_TICKET_CHARS
from bot.errors import PermanentError, RetryableError
from bot.helpdesks.zendesk.payload import PRIORITY_TO_ZENDESK
from bot.model_output import model_fields
from bot.pipeline import Worker, find_sources
from bot.prompts import build_draft_request, build_triage_request
from bot.replay.compare import Replayed
from bot.replay.tickets import PastRecord
from bot.rules import apply_rules

MAX_WAITS = 5  # rate-limit waits per ticket before it is skipped


def bot_priority(helpdesk: str, priority: int) -> str:
    """The bot's 1..5 on the helpdesk's scale, as the adapter would write it."""
    if helpdesk == "intercom":  # API 2.14 reads priority as "priority" / "not_priority"
        return "priority" if priority <= 2 else "not_priority"
    return PRIORITY_TO_ZENDESK[priority]


def decide(worker: Worker, record: PastRecord) -> Replayed:
    snapshot, policy = record.snapshot, worker.policy
    ticket = snapshot.ticket.bounded(MAX_TICKET_CHARS)
    context = build_context(snapshot, policy, ticket.created_at or datetime.now(UTC), {})
    triage = worker.llm.triage(build_triage_request(ticket, context, worker.prompts, policy))
    sources = find_sources(worker, ticket, triage.triage)
    decision = apply_rules(triage.triage, ticket, context, policy, has_sources=bool(sources),
                           helpdesk=record.helpdesk)
    draft = worker.llm.draft(build_draft_request(
        ticket, context, triage.triage, decision, worker.prompts, policy, sources=sources,
        triaged_by=triage.engine))
    spent = model_fields(triage, draft, worker.llm, worker.prices)
    return Replayed(
        ticket_id=ticket.id, subject=ticket.subject, url=record.url, agent=record.agent,
        category=decision.category,
        group_id=str(decision.group_id) if decision.group_id is not None else None,
        priority=bot_priority(record.helpdesk, decision.priority), escalated=decision.escalate,
        refund="refund" in decision.reason_codes, reasons=decision.reason_codes,
        confidence=triage.triage.confidence, cost_usd=spent["cost_usd"],
        prompt_tokens=spent["prompt_tokens"], completion_tokens=spent["completion_tokens"])


def replay_all(worker: Worker, records: Iterable[PastRecord], skipped: Counter,
               progress: Callable[[], None] = lambda: None) -> list[Replayed]:
    """Every record decided; a ticket the engine cannot decide is counted in `skipped`."""
    out = []
    for record in records:
        try:
            out.append(decide(worker, record))
        except (RetryableError, PermanentError) as exc:
            skipped[f"the engine failed: {type(exc).__name__}"] += 1
        progress()
    return out


class Pacer:
    """At most `per_minute` requests a minute, spread evenly (a helpdesk's rate limit is per
    minute and shared with the live bot and other integrations: stay well under it)."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._gap = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    def wait(self, requests: int = 1) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._gap * requests


def fetch_each(ids: Iterable[str], read: Callable[[str], PastRecord | None], pacer: Pacer, requests_per_ticket: int,
               skipped: Counter, sleep: Callable[[float], None] = time.sleep) -> Iterator[PastRecord]:
    """Read each ticket at the pacer's rate; on a 429 wait what the helpdesk says (`Retry-After`)
    and read again; a ticket gone since (404) or unreadable is counted in `skipped`."""
    for ticket_id in ids:
        for _ in range(MAX_WAITS + 1):
            pacer.wait(requests_per_ticket)
            try:
                record = read(ticket_id)
            except RetryableError as exc:
                sleep(exc.retry_after if exc.retry_after is not None else 10.0)
                continue
            except PermanentError:
                skipped["could not be read (deleted, or not allowed)"] += 1
                break
            if record is not None:  # None: the reader left it out, and counted why
                yield record
            break
        else:
            skipped["rate limited too long"] += 1
