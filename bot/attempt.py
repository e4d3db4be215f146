"""One attempt at a run, and what follows it: the one layer that retries or gives up.

The Celery task only calls `attempt()` and, when the outcome asks for it, has the broker ring
again after `retry_in` seconds. Everything that decides is here, over the store:

- the run's attempts are counted in the store (a crashed attempt counts too), so a ticket that
  keeps failing, or keeps killing its worker, ends after TASK_MAX_RETRIES + 1 attempts;
- an attempt is bounded by TASK_TIME_LIMIT and by the run's RUN_DEADLINE (`Budget`);
- a retry is recorded in the store with the time it is due before the broker is asked for it,
  so a lost message only delays it: the sweep (`bot.recovery`) rings for it;
- giving up marks the run failed in the store first, then posts the failure note; a note that
  could not be posted is owed, and the sweep posts it later.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.errors import PermanentError, RetryableError, Superseded
from bot.events import NOT_CLAIMED, process_claimed
from bot.leases import Claim, ClaimState, is_store_unavailable
from bot.pipeline import Budget, Worker
from bot.recovery import overdue_reason, post_failure_note
from bot.vocabulary import RunStatus

log = logging.getLogger(__name__)

# How soon to try again when the database itself was unreachable. Nothing could be recorded,
# so this is the broker's doorbell only; the run's lease and the sweep cover a lost message.
STORE_RETRY_SECONDS = 5.0


class Idle(StrEnum):
    """Why an attempt left the run as it was."""

    HELD = "held"  # another attempt holds a live lease
    NOT_CLAIMED = NOT_CLAIMED  # finished already, or no such run
    STORE_UNAVAILABLE = "store unavailable"
    SUPERSEDED = "superseded"  # this attempt lost its lease to another


@dataclass(frozen=True)
class Outcome:
    status: RunStatus | Idle | str  # the run's status after the attempt, or why it did nothing
    retry_in: float | None = None  # seconds after which the broker should run the task again


def attempt(run_id: int, worker: Worker) -> Outcome:
    try:
        return _claim_and_run(run_id, worker)
    except Exception as exc:
        if not is_store_unavailable(exc):
            raise
        # Nothing could be recorded. If the run was claimed, it keeps its lease; when that ends,
        # this retry (or the sweep, if the message is lost) takes it again.
        log.warning("run %s: database unreachable (%s); trying again", run_id, type(exc).__name__,
                    extra={"event": "run.store_unavailable", "run_id": run_id})
        return Outcome(Idle.STORE_UNAVAILABLE, retry_in=_jitter(STORE_RETRY_SECONDS))


def _claim_and_run(run_id: int, worker: Worker) -> Outcome:
    now = worker.clock()
    claim = worker.store.claim(run_id, worker.settings.lease_seconds, now)
    if claim.state is ClaimState.HELD:
        # Another attempt holds a live lease: it may be working, or it may have died (a killed
        # pool process's message comes back at once). Look again once its lease has ended.
        assert claim.lease_expires_at is not None
        wait = max((claim.lease_expires_at - now).total_seconds(), 0.0)
        log.info("run %s is held by another attempt; looking again in %.0f s", run_id, wait)
        return Outcome(Idle.HELD, retry_in=_jitter(wait + 1))
    if claim.state is not ClaimState.CLAIMED:
        log.info("run %s not claimed: %s", run_id, claim.state)
        return Outcome(Idle.NOT_CLAIMED)
    return _run(claim, worker, now)


def _run(claim: Claim, worker: Worker, now: datetime) -> Outcome:
    run, settings = claim.run, worker.settings
    assert run is not None and claim.lease_expires_at is not None
    run_deadline = run.created_at + timedelta(seconds=settings.run_deadline)
    deadline = min(now + timedelta(seconds=settings.task_time_limit), run_deadline)
    if deadline <= now:
        return _give_up(claim, worker, overdue_reason(settings.run_deadline))
    lease_end = deadline + timedelta(seconds=settings.step_timeout)
    if lease_end < claim.lease_expires_at:
        # Near the run's deadline: hold it no longer than this attempt may work.
        worker.store.hold_until(run.id, claim.token, lease_end)
    try:
        status = process_claimed(claim, worker, Budget(deadline, worker.clock))
        log.info("run %s: %s", run.id, status, extra={"event": f"run.{status}", "run_id": run.id,
                                                      "helpdesk": run.helpdesk, "ticket_id": run.ticket_id})
        return Outcome(status)
    except Superseded as exc:
        log.warning("%s: stopping without writing", exc)
        return Outcome(Idle.SUPERSEDED)
    except RetryableError as exc:
        return _retry_or_give_up(claim, worker, exc, run_deadline)
    except PermanentError as exc:
        return _give_up(claim, worker, str(exc))
    except Exception as exc:
        if is_store_unavailable(exc):
            raise
        # A bug: fail visibly, never hang.
        log.exception("run %s: unexpected error", run.id, extra={"event": "run.error", "run_id": run.id})
        return _give_up(claim, worker, f"internal error: {type(exc).__name__}: {exc}")


def _retry_or_give_up(
    claim: Claim, worker: Worker, exc: RetryableError, run_deadline: datetime
) -> Outcome:
    settings, attempts = worker.settings, claim.token
    assert claim.run is not None
    if attempts > settings.task_max_retries:
        return _give_up(claim, worker, f"{exc} (gave up after {attempts} attempts)")
    delay = retry_delay(attempts - 1, settings.task_retry_base, settings.task_retry_max, exc.retry_after)
    due = worker.clock() + timedelta(seconds=delay)
    if due >= run_deadline:
        return _give_up(claim, worker, f"{exc} (the next attempt would come after RUN_DEADLINE)")
    if not worker.store.schedule_retry(claim.run.id, attempts, str(exc), due):
        log.warning("run %s: attempt %s lost its lease; not retrying it", claim.run.id, attempts)
        return Outcome(Idle.SUPERSEDED)
    log.warning("run %s: %s; retrying in %.1f s", claim.run.id, exc, delay,
                extra={"event": "run.retrying", "run_id": claim.run.id})
    # Waits longer than a lease are left to the sweep, which rings for runs past due: the
    # broker then never holds a message longer than the visibility timeout allows.
    return Outcome(RunStatus.RETRYING, retry_in=delay if delay <= settings.lease_seconds else None)


def _give_up(claim: Claim, worker: Worker, what_failed: str) -> Outcome:
    """Retries are exhausted or pointless: record it, then make it visible in the helpdesk."""
    assert claim.run is not None
    if not worker.store.fail(claim.run.id, what_failed, token=claim.token):
        log.warning("run %s: lost its lease before it could be failed", claim.run.id)
        return Outcome(Idle.SUPERSEDED)
    log.error("run %s failed: %s", claim.run.id, what_failed,
              extra={"event": "run.failed", "run_id": claim.run.id, "helpdesk": claim.run.helpdesk,
                     "ticket_id": claim.run.ticket_id})
    post_failure_note(claim.run.id, worker)
    return Outcome(RunStatus.FAILED)


def retry_delay(retries: int, base: float, cap: float, retry_after: float | None) -> float:
    """What the vendor asked for (plus < 1 s, so retries don't arrive in lockstep), or else
    exponential backoff with jitter: anywhere between half the base and base * 2**retries."""
    if retry_after is not None:
        return min(retry_after, cap) + random.uniform(0, 1)
    return random.uniform(base / 2, min(cap, base * (2**retries)))


def _jitter(seconds: float) -> float:
    return seconds + random.uniform(0, 1)
