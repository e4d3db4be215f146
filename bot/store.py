"""Reads and writes of runs and deliveries. The only module, with `bot.leases` whose class it
extends, that opens database sessions.

`Store` adds to the workers' side (`RunLeases`) the web tier's acceptance of deliveries, with
their deduplication and the merging of a customer's quick replies, and the reads reports use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Delivery, Run, utcnow
from bot.db.models import TicketEvent as TicketEventRow
from bot.domain import TicketEvent
from bot.errors import RetryableError
from bot.leases import RunLeases
from bot.vocabulary import RunStatus


class Accepted(StrEnum):
    NEW = "accepted"  # a new run: enqueue it
    REQUEUED = "re-enqueued a stuck run"  # a redelivery found its run stuck: enqueue it again
    MERGED = "joined the ticket's waiting run"  # nothing to enqueue: that run will see it
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

    def accept(
        self,
        event: TicketEvent,
        now: datetime | None = None,
        *,
        merge: bool = False,
        delay: float = 0.0,
    ) -> Acceptance:
        """Record a delivery, its event and the event's run, or say it is a duplicate. Commits
        before returning.

        Two unique constraints do the deduplication: the helpdesk's delivery id, and the event's
        key on its ticket (`ticket_events`). Concurrent inserts of the same key block on the
        first transaction and then fail, so exactly one caller gets `Accepted.NEW`. A duplicate
        whose run is stuck (its message lost, say) rings the doorbell again instead.

        `merge`: the event joins the ticket's run that no worker has started yet, if there is
        one (that run reads the ticket when it starts, so it sees this event too). A ticket has
        at most one such run (`runs.waiting_key` is unique until a worker claims the run), so
        two replies arriving together make one run, whichever database. The run is locked
        while the event is linked to it: a claim waits, then reads the ticket with this event
        in it. `delay`: seconds before a new run is due (the time it waits for more to join).
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
            row = TicketEventRow(
                helpdesk=event.helpdesk,
                ticket_id=event.ticket_id,
                event_kind=event.kind,
                event_key=event.event_key,
                received_at=now,
            )
            try:
                # A savepoint, so that a duplicate ticket event still records this delivery:
                # a retry of *this* delivery is then recognised at once as well.
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:
                run_id = session.scalar(
                    select(TicketEventRow.run_id)
                    .where(TicketEventRow.helpdesk == event.helpdesk)
                    .where(TicketEventRow.ticket_id == event.ticket_id)
                    .where(TicketEventRow.event_kind == event.kind)
                    .where(TicketEventRow.event_key == event.event_key)
                )
                outcome = Accepted.DUPLICATE_EVENT
            else:
                run_id, outcome = self._run_for(session, event, now, merge, delay)
                row.run_id = run_id
            if delivery is not None:
                delivery.run_id = run_id
            session.commit()
            if outcome is Accepted.DUPLICATE_EVENT:
                return self._duplicate(run_id, outcome, now)
            return Acceptance(run_id, outcome)

    @staticmethod
    def _run_for(
        session: Session, event: TicketEvent, now: datetime, merge: bool, delay: float
    ) -> tuple[int, Accepted]:
        """The run that handles a new event: the ticket's unstarted one (`merge`), or a new one."""
        key = f"{event.helpdesk}:{event.ticket_id}"
        for _ in range(2):  # a run claimed between our two reads: once more, then it is new
            if merge:
                waiting = session.scalar(
                    select(Run.id).where(Run.waiting_key == key).with_for_update()
                )
                if waiting is not None:
                    return waiting, Accepted.MERGED
            run = Run(
                helpdesk=event.helpdesk,
                ticket_id=event.ticket_id,
                event_kind=event.kind,
                event_id=event.event_id,
                waiting_key=key,
                request=dict(event.request) if event.request else None,
                status=RunStatus.QUEUED,
                attempts=0,
                recoveries=0,
                due_at=now + timedelta(seconds=delay),
            )
            try:
                with session.begin_nested():
                    session.add(run)
                    session.flush()
            except IntegrityError:
                # Another event of this ticket made its unstarted run meanwhile: join it; or,
                # without `merge`, let this run stand apart (it is joined by nothing).
                if merge:
                    continue
                run.waiting_key = None
                session.add(run)
                session.flush()
            return run.id, Accepted.NEW
        raise RetryableError(f"ticket {event.ticket_id}: its waiting run kept changing")

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
                session.execute(delete(TicketEventRow).where(TicketEventRow.run_id == run_id))
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
