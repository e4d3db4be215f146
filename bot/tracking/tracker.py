"""The tracker: read a followed ticket's history, store what became of each draft and of the
ticket, and start what it calls for (a re-triage for a customer's new message, an agent's
redraft or escalation, the overdue tag). Webhooks only ring the bell (`records.mark_dirty`);
the follow-up sweep rings it too for every ticket whose check is due, so a lost event delays
tracking by at most TRACK_RECHECK and loses nothing.

Failure modes: a helpdesk read that fails (retryable or not) is recorded on the ticket and
tried again by a later sweep, never by a task retry (the sweep is the one layer that retries
tracking); a run it starts is an ordinary run, retried and failed visibly like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.db.models import Review, Run
from bot.domain import TicketEvent, TicketUpdate
from bot.errors import PermanentError, RetryableError
from bot.helpdesks import adapter_for
from bot.pipeline import Worker
from bot.store import Accepted
from bot.tracking import records
from bot.tracking.assess import Assessment, Draft, assess
from bot.tracking.history import STATUSES_DONE
from bot.vocabulary import BotTag, RunStatus

log = logging.getLogger(__name__)

FAILED_READ_RETRY = timedelta(minutes=5)
Enqueue = Callable[[int, float], None]  # run id, countdown in seconds
_MERGED_KINDS = frozenset({"customer_replied"})


@dataclass
class Tracked:
    outcome: str  # "read", "not followed", "read failed"
    started: list[int] = field(default_factory=list)  # runs started for follow-ups
    overdue: list[int] = field(default_factory=list)  # reviews tagged overdue now
    assessment: Assessment | None = None


def track(worker: Worker, helpdesk: str, ticket_id: str, enqueue: Enqueue) -> Tracked:
    store, policy = worker.store, worker.policy
    ref = records.TicketRef(helpdesk, ticket_id)
    row = records.tracked(store, helpdesk, ticket_id)
    if row is None:
        return Tracked("not followed")
    now, dirty_seen = worker.clock(), row.dirty_at
    adapter = adapter_for(worker.helpdesks, helpdesk)
    try:
        history = adapter.read_history(ticket_id)
    except (RetryableError, PermanentError) as exc:
        log.warning("%s ticket %s: history not read: %s", helpdesk, ticket_id, exc,
                    extra={"event": "track.read_failed", "helpdesk": helpdesk, "ticket_id": ticket_id})
        records.failed(store, ref, str(exc), now, FAILED_READ_RETRY)
        return Tracked("read failed")
    pairs = records.drafts(store, helpdesk, ticket_id)
    runs = store.runs_for_tickets(helpdesk, [ticket_id])
    assessment = assess(
        history,
        [draft_of(review, run) for review, run in pairs],
        policy.review,
        escalation_groups=escalation_group_ids(worker, helpdesk),
        seen_until=seen_until(runs),
        # Runs that escalated without drafting: an agent's request, a repeated question.
        escalations=[run.finished_at for run in runs if run.draft is None and run.finished_at is not None
                     and run.status == RunStatus.SUCCEEDED and (run.rules or {}).get("escalate")],
    )
    records.save(store, ref, assessment, now=now, dirty_seen=dirty_seen,
                 recheck=timedelta(seconds=worker.settings.track_recheck),
                 follow_for=timedelta(days=policy.review.follow_days))
    result = Tracked("read", assessment=assessment)
    try:
        _act(worker, ref, history.status, pairs, assessment, now, enqueue, result)
    except (RetryableError, PermanentError) as exc:
        # What was read is stored; what could not be done is done at the next read, soon.
        log.warning("%s ticket %s: %s", helpdesk, ticket_id, exc,
                    extra={"event": "track.action_failed", "helpdesk": helpdesk, "ticket_id": ticket_id})
        records.failed(store, ref, str(exc), now, FAILED_READ_RETRY)
        result.outcome = "read; action failed"
    return result


def _act(worker: Worker, ref: records.TicketRef, status: str, pairs: Sequence[tuple[Review, Run]],
         assessment: Assessment, now: datetime, enqueue: Enqueue, result: Tracked) -> None:
    """Start the runs the history calls for (each accepted once, whatever reads find it
    again), then tag the reviews past their SLA."""
    store, helpdesk, ticket_id = worker.store, ref.helpdesk, ref.ticket_id
    for follow_up in assessment.follow_ups:
        event = TicketEvent(helpdesk=helpdesk, kind=follow_up.kind, ticket_id=ticket_id,
                            event_key=follow_up.key, actor_id=follow_up.by,
                            request=follow_up.request or None)
        merge = follow_up.kind in _MERGED_KINDS
        delay = worker.settings.reply_merge_window if merge else 0.0
        acceptance = store.accept(event, merge=merge, delay=delay)
        if acceptance.outcome in (Accepted.NEW, Accepted.REQUEUED) and acceptance.run_id is not None:
            result.started.append(acceptance.run_id)
            try:
                enqueue(acceptance.run_id, delay)
            except RetryableError as exc:  # stored: the recovery sweep enqueues it (RECOVERY_AFTER)
                log.warning("run %s not enqueued: %s", acceptance.run_id, exc)
            log.info("%s ticket %s: %s %s -> run %s", helpdesk, ticket_id, follow_up.kind, follow_up.key,
                     acceptance.run_id, extra={"event": "track.follow_up", "run_id": acceptance.run_id})
    if status not in STATUSES_DONE:
        result.overdue = _tag_overdue(worker, helpdesk, ticket_id, pairs, assessment, now)


def _tag_overdue(worker: Worker, helpdesk: str, ticket_id: str, pairs: Sequence[tuple[Review, Run]],
                 assessment: Assessment, now: datetime) -> list[int]:
    """Reviews past their SLA that nobody acted on: tag the ticket (and route it where the
    policy says) once; the tag is the signal a supervisor's view filters on."""
    late = [review.run_id for review, _ in pairs
            if review.overdue_at is None and review.due_at <= now
            and assessment.reviews.get(review.run_id) is not None
            and assessment.reviews[review.run_id].action is None]
    if not late:
        return []
    adapter = adapter_for(worker.helpdesks, helpdesk)
    group_name = worker.policy.review.overdue_group
    group_id = worker.policy.group_id(group_name, helpdesk) if group_name else None
    ticket = adapter.fetch_ticket(ticket_id)
    adapter.publish(ticket, TicketUpdate(note="", add_tags=(BotTag.REVIEW_OVERDUE,), group_id=group_id))
    for run_id in late:
        records.mark_overdue(worker.store, run_id, now)
    log.info("%s ticket %s: review overdue (runs %s)", helpdesk, ticket_id, late,
             extra={"event": "track.review_overdue", "helpdesk": helpdesk, "ticket_id": ticket_id})
    return late


def draft_of(review: Review, run: Run) -> Draft:
    """What the bot set on the ticket with this draft, in the helpdesk's own values."""
    rules = run.rules or {}
    sent = (run.actions or {}).get("update") or {}
    priority = sent.get("priority") if isinstance(sent, dict) else None
    group = rules.get("group_id")
    tags = [str(t) for t in rules.get("tags") or () if str(t).startswith(BotTag.CATEGORY_PREFIX)]
    return Draft(
        run_id=review.run_id,
        drafted_at=review.drafted_at,
        text=run.draft or "",
        category_tag=tags[0] if tags else None,
        priority=None if priority is None else str(priority),
        group_id=None if group is None else str(group),
        escalated=review.escalated,
        requested_by_note=str((run.request or {}).get("note") or "") or None,
    )


def seen_until(runs: Sequence[Run]) -> datetime | None:
    """The last moment a run read the ticket; None while one is still to (it will see every
    message there is)."""
    if any(run.status not in RunStatus.terminal() for run in runs):
        return None
    moments = []
    for run in runs:
        if run.finished_at is not None and run.latency_ms is not None:
            moments.append(run.finished_at - timedelta(milliseconds=run.latency_ms))
        else:
            moments.append(run.created_at)
    return max(moments, default=None)


def escalation_group_ids(worker: Worker, helpdesk: str) -> frozenset[str]:
    policy = worker.policy
    names = {e.group for e in policy.escalations if e.group}
    ids = (policy.group_id(name, helpdesk) for name in names)
    return frozenset(str(i) for i in ids if i is not None)
