"""No ticket left behind: the sweep, and the failure note every failed run is owed.

The store is the source of truth; the broker only rings the doorbell. A message can be lost (the
broker restarted empty, the web process died between its commit and its enqueue, a worker was
killed holding it), so every SWEEP_INTERVAL seconds `celery beat` sends `tasks.sweep_runs`,
which reads the store and:

- re-enqueues every *stuck* run: waiting (queued or retrying) with no worker for longer than
  RECOVERY_AFTER seconds after it was due, or claimed by an attempt whose lease has ended;
- fails, with `ai_failed` and a note on the ticket, a stuck run it has already re-enqueued
  RECOVERY_TRIES times, and any run not finished RUN_DEADLINE seconds after it arrived;
- posts the failure notes that could not be posted when their run failed (helpdesk down).

Every change is a conditional update, so two sweeps, or a sweep and a worker, never both act on
one run. Together with the attempts' own limits this bounds the time from a ticket's arrival to
its note or its `ai_failed` tag: `Settings.recovery_bound_seconds` (README, "Failures").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain import EventKind, TicketUpdate
from bot.helpdesks import adapter_for
from bot.notes import format_failure_note
from bot.pipeline import Worker, run_reference
from bot.vocabulary import BotTag

log = logging.getLogger(__name__)

# A failure note that could not be posted is tried again by every sweep for this long.
FAILURE_NOTE_PATIENCE = timedelta(days=1)


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    noted: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {"requeued": self.requeued, "failed": self.failed, "noted": self.noted}


def sweep(worker: Worker, enqueue: Callable[[int], None]) -> SweepReport:
    """One pass over the store. `enqueue(run_id)` sends the run's task (it may raise: the run
    then stays stuck, due now, and the next sweep tries again)."""
    settings, store = worker.settings, worker.store
    now = worker.clock()
    report = SweepReport()
    deadline = timedelta(seconds=settings.run_deadline)
    for run in store.stuck_runs(now, settings.run_deadline):
        if run.created_at + deadline <= now:
            reason = overdue_reason(settings.run_deadline)
        elif run.recoveries >= settings.recovery_tries:
            reason = (
                f"stuck after {run.recoveries} recoveries ({run.status}, "
                f"{run.attempts} attempt(s)); last error: {run.error or 'none'}"
            )
        else:
            if store.requeue(run.id, now):
                log.warning(
                    "run %s (ticket %s) was stuck %s: re-enqueued (recovery %d of %d)",
                    run.id, run.ticket_id, run.status, run.recoveries + 1, settings.recovery_tries,
                )
                try:
                    enqueue(run.id)
                except Exception as exc:  # the broker again: the run is due, the next sweep rings
                    log.warning("could not re-enqueue run %s: %s", run.id, exc)
                    continue
                report.requeued.append(run.id)
            continue
        if store.fail(run.id, reason, now=now):
            log.error("run %s (ticket %s) failed by the sweep: %s", run.id, run.ticket_id, reason)
            report.failed.append(run.id)
            if post_failure_note(run.id, worker):
                report.noted.append(run.id)
    # Failure notes owed: runs failed more than a sweep ago whose note did not get through.
    grace = timedelta(seconds=settings.sweep_interval)
    for run in store.failures_to_note(now - grace, now - FAILURE_NOTE_PATIENCE):
        if post_failure_note(run.id, worker):
            report.noted.append(run.id)
    return report


def overdue_reason(run_deadline: float) -> str:
    """Why a run past its deadline fails, in the run's error and the ticket's note."""
    return f"not processed within RUN_DEADLINE ({run_deadline:g} s)"


def post_failure_note(run_id: int, worker: Worker) -> bool:
    """Put the failure on the ticket: the `ai_failed` tag and a note saying what failed.

    Never a second note: a new ticket that already carries the bot's triage note (an attempt
    that died after writing it) or its failure tag gets nothing more; for a later run (the
    customer wrote again), whose ticket has the first run's tags, the run's reference in the
    note is what an adapter recognises. Returns whether the ticket now shows the outcome; on
    False the note is still owed and the sweep tries again. Never raises: this is the last
    resort of every failure path.
    """
    try:
        run = worker.store.get(run_id)
        if run is None or run.failure_noted_at is not None:
            return run is not None
        category = (run.rules or {}).get("category")
        mode = worker.policy.rollout.mode_for(run.helpdesk, category if isinstance(category, str) else None)
        if not mode.writes:  # shadow or off: the failure shows in the store, report and metrics
            worker.store.mark_failure_noted(run_id, f"no failure note: rollout {mode} writes nothing")
            return True
        helpdesk = adapter_for(worker.helpdesks, run.helpdesk)
        ticket = helpdesk.fetch_ticket(run.ticket_id)
        first = run.event_kind == EventKind.CREATED
        if first and BotTag.TRIAGED in ticket.tags:
            worker.store.mark_failure_noted(run_id, "no failure note: the ticket has the bot's note")
            return True
        if not (first and BotTag.FAILED in ticket.tags):
            reference = run_reference(run.id)
            helpdesk.publish(
                ticket,
                TicketUpdate(  # tag mode: the tag alone, as that mode writes no notes
                    note=format_failure_note(run.error or "unknown", run.attempts, reference)
                    if mode.notes else "",
                    add_tags=(BotTag.FAILED.value,),
                    reference=reference,
                ),
            )
        worker.store.mark_failure_noted(run_id)
        return True
    except Exception:  # the helpdesk or the store may be what failed; the sweep tries again
        log.exception("could not post the failure note of run %s", run_id)
        return False
