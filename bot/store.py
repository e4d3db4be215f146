"""Reads and writes of runs and deliveries. The only module that opens database sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Sequence

from sqlalchemy import Engine, delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Delivery, Run, RunStatus, utcnow
from bot.domain import TicketEvent


@dataclass(frozen=True)
class Acceptance:
    run_id: int | None
    duplicate: bool
    reason: str  # "accepted", "duplicate delivery", "already received for this ticket"


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- web tier -------------------------------------------------------------------------

    def accept(self, event: TicketEvent) -> Acceptance:
        """Record a delivery and its run, or say it is a duplicate. Commits before returning.

        Two unique constraints do the deduplication: the helpdesk's invocation id, and the
        (helpdesk, ticket, event kind) of the run. Concurrent inserts of the same key block on
        the first transaction and then fail, so exactly one caller gets `duplicate=False`.
        """
        with self._sessions() as session:
            try:
                if event.delivery_id:
                    delivery = Delivery(helpdesk=event.helpdesk, delivery_id=event.delivery_id)
                    session.add(delivery)
                    session.flush()
            except IntegrityError:
                session.rollback()
                return Acceptance(None, True, "duplicate delivery")
            run = Run(
                helpdesk=event.helpdesk,
                ticket_id=event.ticket_id,
                event_kind=event.kind,
                event_id=event.event_id,
                status=RunStatus.QUEUED,
                attempts=0,
            )
            try:
                # A savepoint, so that a duplicate ticket event still records this delivery:
                # a retry of *this* invocation is then recognised at once as well.
                with session.begin_nested():
                    session.add(run)
                    session.flush()
            except IntegrityError:
                session.commit()
                return Acceptance(None, True, "already received for this ticket")
            if event.delivery_id:
                delivery.run_id = run.id
            session.commit()
            run_id = run.id
        return Acceptance(run_id, False, "accepted")

    def forget(self, event: TicketEvent, run_id: int | None) -> None:
        """Undo `accept` when the enqueue failed, so the helpdesk's retry is accepted."""
        with self._sessions.begin() as session:
            if event.delivery_id:
                session.execute(
                    delete(Delivery)
                    .where(Delivery.helpdesk == event.helpdesk)
                    .where(Delivery.delivery_id == event.delivery_id)
                )
            if run_id is not None:
                session.execute(delete(Delivery).where(Delivery.run_id == run_id))
                session.execute(delete(Run).where(Run.id == run_id))

    # -- worker ---------------------------------------------------------------------------

    def claim(self, run_id: int, lease_seconds: int) -> Run | None:
        """Take a run for processing; None if it is finished or another worker holds it.

        The lease covers a worker that died mid-run: once it expires, a redelivered task
        (acks_late) may take the run again.
        """
        now = utcnow()
        with self._sessions.begin() as session:
            result = session.execute(
                update(Run)
                .where(Run.id == run_id)
                .where(
                    or_(
                        Run.status.in_((RunStatus.QUEUED, RunStatus.RETRYING)),
                        (Run.status == RunStatus.RUNNING) & (Run.lease_expires_at < now),
                    )
                )
                .values(
                    status=RunStatus.RUNNING,
                    attempts=Run.attempts + 1,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                )
            )
            if result.rowcount != 1:
                return None
            return session.get(Run, run_id)

    def get(self, run_id: int) -> Run | None:
        with self._sessions() as session:
            return session.get(Run, run_id)

    def save(self, run_id: int, **fields) -> None:
        with self._sessions.begin() as session:
            session.execute(update(Run).where(Run.id == run_id).values(**fields))

    def finish(self, run_id: int, status: str, **fields) -> None:
        assert status in RunStatus.TERMINAL
        self.save(run_id, status=status, finished_at=utcnow(), lease_expires_at=None, **fields)

    def release_for_retry(self, run_id: int, error: str) -> None:
        self.save(run_id, status=RunStatus.RETRYING, lease_expires_at=None, error=error)

    # -- reporting ------------------------------------------------------------------------

    def runs(self, run_ids: Iterable[int] | None = None, limit: int = 100) -> Sequence[Run]:
        with self._sessions() as session:
            query = select(Run).order_by(Run.id)
            if run_ids is not None:
                query = query.where(Run.id.in_(list(run_ids)))
            return session.scalars(query.limit(limit)).all()

    def runs_for_tickets(self, helpdesk: str, ticket_ids: Iterable[str]) -> Sequence[Run]:
        with self._sessions() as session:
            query = (
                select(Run)
                .where(Run.helpdesk == helpdesk)
                .where(Run.ticket_id.in_(list(ticket_ids)))
                .order_by(Run.id)
            )
            return session.scalars(query).all()

    def session(self) -> Session:
        return self._sessions()
