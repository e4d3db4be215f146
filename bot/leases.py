"""The worker's and the sweep's side of the runs table: leases, and what "stuck" means.

The store is the source of truth for every accepted ticket; the broker only rings the doorbell.
A run is *waiting* (queued or retrying) until a worker claims it under a lease, and every write
a worker makes afterwards is conditional on still holding that lease (its `attempts` number is
the token): a worker that lost its lease, because it stalled and the sweep gave the run to
another, cannot overwrite what the new holder does. See `bot.attempt` and `bot.recovery`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from bot.db.models import Run, utcnow
from bot.vocabulary import RunStatus


def is_store_unavailable(exc: BaseException) -> bool:
    """Whether an exception says the database is unreachable (rather than that a statement is
    wrong): the one failure of the store that waiting can cure."""
    return isinstance(exc, (OperationalError, InterfaceError)) or bool(
        getattr(exc, "connection_invalidated", False)
    )

class ClaimState(StrEnum):
    CLAIMED = "claimed"
    HELD = "held"  # another worker holds a live lease: try again when it ends
    FINISHED = "finished"  # succeeded, failed or skipped: nothing to do
    MISSING = "missing"


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    run: Run | None = None  # the run as claimed (CLAIMED only)
    lease_expires_at: datetime | None = None  # CLAIMED: ours; HELD: the other worker's

    @property
    def token(self) -> int:
        """What every later write of this attempt must present: the attempt's number."""
        assert self.run is not None
        return self.run.attempts

class RunLeases:
    """Claims under a lease, the writes of the attempt holding one, and the sweep's queries."""

    def __init__(self, engine: Engine, recovery_after: float = 120.0):
        """`recovery_after`: seconds a waiting run may go without a worker before it counts as
        stuck (RECOVERY_AFTER)."""
        self.engine = engine
        self.recovery_after = timedelta(seconds=recovery_after)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- what "stuck" means: one definition for the web tier and the sweep --------------------

    def _stuck(self, now: datetime) -> ColumnElement[bool]:
        """Waiting with no worker for longer than RECOVERY_AFTER, or claimed by a worker whose
        lease has ended (it died, or stalled past its limit)."""
        return or_(
            and_(Run.status.in_(RunStatus.waiting()), Run.due_at < now - self.recovery_after),
            and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now),
        )

    @staticmethod
    def _unheld(now: datetime) -> ColumnElement[bool]:
        """Not finished and not under a live lease: a worker or the sweep may take it."""
        return or_(
            Run.status.in_(RunStatus.waiting()),
            and_(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now),
        )

    # -- worker ---------------------------------------------------------------------------

    def claim(self, run_id: int, lease_seconds: float, now: datetime | None = None) -> Claim:
        """Take a run for one attempt, under a lease of `lease_seconds`.

        The lease covers a worker that died mid-run: once it ends, a redelivered task, or the
        sweep, may give the run to another attempt.
        """
        now = now or utcnow()
        lease = now + timedelta(seconds=lease_seconds)
        with self._sessions.begin() as session:
            result = session.execute(
                update(Run)
                .where(Run.id == run_id)
                .where(self._unheld(now))
                .values(status=RunStatus.RUNNING, attempts=Run.attempts + 1, lease_expires_at=lease,
                        waiting_key=None)  # started: later events on the ticket get a run of their own
            )
            run = session.get(Run, run_id, populate_existing=True)
            if run is None:
                return Claim(ClaimState.MISSING)
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return Claim(ClaimState.CLAIMED, run, lease)
            if run.status in RunStatus.terminal():
                return Claim(ClaimState.FINISHED)
            return Claim(ClaimState.HELD, lease_expires_at=run.lease_expires_at)

    def _holding(self, run_id: int, token: int) -> Any:
        return (
            update(Run)
            .where(Run.id == run_id)
            .where(Run.status == RunStatus.RUNNING)
            .where(Run.attempts == token)
        )

    def hold_until(self, run_id: int, token: int, until: datetime) -> bool:
        """Move this attempt's lease end (e.g. to the run's deadline). False: lease lost."""
        return self._write(self._holding(run_id, token).values(lease_expires_at=until))

    def holds(self, run_id: int, token: int, now: datetime | None = None) -> bool:
        """Whether attempt `token` still holds a live lease on the run."""
        now = now or utcnow()
        with self._sessions() as session:
            held = session.scalar(
                select(Run.id)
                .where(Run.id == run_id)
                .where(Run.status == RunStatus.RUNNING)
                .where(Run.attempts == token)
                .where(Run.lease_expires_at > now)
            )
        return held is not None

    def save_output(self, run_id: int, token: int, **fields: Any) -> bool:
        """Record what this attempt computed (model output, sources). False: lease lost."""
        return self._write(self._holding(run_id, token).values(**fields))

    def finish(self, run_id: int, token: int, status: RunStatus, **fields: Any) -> bool:
        """End the run (succeeded, skipped, stale or shadow). False: this attempt no longer held it."""
        assert status in (RunStatus.SUCCEEDED, RunStatus.SKIPPED, RunStatus.STALE, RunStatus.SHADOW)
        return self._write(
            self._holding(run_id, token).values(
                status=status, finished_at=utcnow(), lease_expires_at=None, **fields
            )
        )

    def schedule_retry(self, run_id: int, token: int, error: str, due_at: datetime) -> bool:
        """Release the run until `due_at`; whoever rings first (the task's countdown, or the
        sweep if that message is lost) takes it again."""
        return self._write(
            self._holding(run_id, token).values(
                status=RunStatus.RETRYING, lease_expires_at=None, due_at=due_at, error=error
            )
        )

    def fail(
        self, run_id: int, error: str, token: int | None = None, now: datetime | None = None
    ) -> bool:
        """Mark the run failed; its failure note is then owed (`failure_noted_at` unset).

        With `token`, only while that attempt holds the run; without (the sweep), only while
        no live lease holds it. False: someone else has it, or it is finished.
        """
        statement = (
            self._holding(run_id, token)
            if token is not None
            else update(Run).where(Run.id == run_id).where(self._unheld(now or utcnow()))
        )
        return self._write(
            statement.values(
                status=RunStatus.FAILED,
                finished_at=utcnow(),
                lease_expires_at=None,
                waiting_key=None,  # a failed run is no run for later events to join
                failure_noted_at=None,
                error=error,
            )
        )

    def mark_failure_noted(self, run_id: int, detail: str | None = None) -> None:
        values: dict[str, Any] = {"failure_noted_at": utcnow()}
        if detail:
            values["error"] = func.coalesce(Run.error, "") + f" ({detail})"
        self._write(update(Run).where(Run.id == run_id).values(**values))

    # -- the sweep ------------------------------------------------------------------------

    def stuck_runs(self, now: datetime, deadline_seconds: float, limit: int = 500) -> Sequence[Run]:
        """Runs that need the sweep: stuck, or unfinished past their deadline and not held."""
        overdue = and_(
            Run.created_at < now - timedelta(seconds=deadline_seconds), self._unheld(now)
        )
        with self._sessions() as session:
            query = select(Run).where(or_(self._stuck(now), overdue)).order_by(Run.id).limit(limit)
            return session.scalars(query).all()

    def requeue(self, run_id: int, now: datetime, count_recovery: bool = True) -> bool:
        """Make a stuck run waiting again, due now, if it still is stuck; the caller then sends
        its task. False: it is not stuck (any more), so nothing is to be sent."""
        values: dict[str, Any] = {
            "status": RunStatus.QUEUED,
            "lease_expires_at": None,
            "due_at": now,
        }
        if count_recovery:
            values["recoveries"] = Run.recoveries + 1
        return self._write(update(Run).where(Run.id == run_id).where(self._stuck(now)).values(**values))

    def failures_to_note(self, older_than: datetime, newer_than: datetime, limit: int = 100) -> Sequence[Run]:
        """Failed runs whose failure note has not reached the helpdesk yet."""
        with self._sessions() as session:
            query = (
                select(Run)
                .where(Run.status == RunStatus.FAILED)
                .where(Run.failure_noted_at.is_(None))
                .where(Run.finished_at < older_than)
                .where(Run.finished_at > newer_than)
                .order_by(Run.id)
                .limit(limit)
            )
            return session.scalars(query).all()

    def get(self, run_id: int) -> Run | None:
        with self._sessions() as session:
            return session.get(Run, run_id)

    def _write(self, statement: Any) -> bool:
        with self._sessions.begin() as session:
            return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
