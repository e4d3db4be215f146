"""Reads and writes of runs and deliveries. The only module, with `bot.leases` whose class it
extends, that opens database sessions.

`Store` adds to the workers' side (`RunLeases`) the web tier's acceptance of deliveries, with
their deduplication, and the reads reports use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Delivery, Run, utcnow
from bot.domain import TicketEvent
from bot.leases import RunLeases
from bot.vocabulary import RunStatus


class Accepted(StrEnum):
    NEW = "accepted"  # a new run: enqueue it
    REQUEUED = "re-enqueued a stuck run"  # a redelivery found its run stuck: enqueue it again
    DUPLICATE_DELIVERY = "duplicate delivery"
    DUPLICATE_EVENT = "already received for this ticket"


@dataclass(frozen=True)
class Acceptance:
    run_id: int | None
    outcome: Accepted

    @property
    def duplicate(self) -> bool:
        return self.outcome in (Accepted.DUPLICATE_DELIVERY, Accepted.DUPLICATE_EVENT)

    @property
    def reason(self) -> str:
        return self.outcome.value


class Store(RunLeases):
    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- web tier -------------------------------------------------------------------------

    def accept(self, event: TicketEvent, now: datetime | None = None) -> Acceptance:
        """Record a delivery and its run, or say it is a duplicate. Commits before returning.

        Two unique constraints do the deduplication: the helpdesk's invocation id, and the
        (helpdesk, ticket, event kind) of the run. Concurrent inserts of the same key block on
        the first transaction and then fail, so exactly one caller gets `Accepted.NEW`. A
        duplicate whose run is stuck (its message lost, say) rings the doorbell again instead.
        """
        now = now or utcnow()
        with self._sessions() as session:
            delivery = None
            if event.delivery_id:
                delivery = Delivery(helpdesk=event.helpdesk, delivery_id=event.delivery_id)
                try:
                    with session.begin_nested():
                        session.add(delivery)
                        session.flush()
                except IntegrityError:
                    session.rollback()
                    run_id = session.scalar(
                        select(Delivery.run_id)
                        .where(Delivery.helpdesk == event.helpdesk)
                        .where(Delivery.delivery_id == event.delivery_id)
                    )
                    return self._duplicate(run_id, Accepted.DUPLICATE_DELIVERY, now)
            run = Run(
                helpdesk=event.helpdesk,
                ticket_id=event.ticket_id,
                event_kind=event.kind,
                event_id=event.event_id,
                status=RunStatus.QUEUED,
                attempts=0,
                recoveries=0,
                due_at=now,
            )
            try:
                # A savepoint, so that a duplicate ticket event still records this delivery:
                # a retry of *this* invocation is then recognised at once as well.
                with session.begin_nested():
                    session.add(run)
                    session.flush()
            except IntegrityError:
                run_id = session.scalar(
                    select(Run.id)
                    .where(Run.helpdesk == event.helpdesk)
                    .where(Run.ticket_id == event.ticket_id)
                    .where(Run.event_kind == event.kind)
                )
                if delivery is not None:
                    delivery.run_id = run_id
                session.commit()
                return self._duplicate(run_id, Accepted.DUPLICATE_EVENT, now)
            if delivery is not None:
                delivery.run_id = run.id
            session.commit()
            return Acceptance(run.id, Accepted.NEW)

    def _duplicate(self, run_id: int | None, outcome: Accepted, now: datetime) -> Acceptance:
        if run_id is not None and self.requeue(run_id, now, count_recovery=False):
            return Acceptance(run_id, Accepted.REQUEUED)
        return Acceptance(run_id, outcome)

    def forget(self, event: TicketEvent, run_id: int | None) -> None:
        """Undo a new `accept` when the enqueue failed, so the helpdesk's retry is accepted."""
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

    # -- reads and reporting ----------------------------------------------------------------

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
