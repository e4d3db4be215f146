"""The tracker's reads and writes: reviews and tracked tickets (`bot.db.models`).

A review is made for every run that posted a draft: by the pipeline as soon as it has, and by
the follow-up sweep for any run whose review is missing (a worker that died in between), so
every draft is followed whatever process stops. All writes are idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Review, Run, TrackedTicket, utcnow
from bot.review_policy import ReviewPolicy
from bot.store import Store
from bot.tracking.assess import Assessment
from bot.vocabulary import RunStatus


@dataclass(frozen=True)
class TicketRef:
    helpdesk: str
    ticket_id: str


def start_reviews(store: Store, policy: ReviewPolicy, run_ids: Sequence[int] | None = None,
                  limit: int = 200, recheck: timedelta = timedelta(minutes=30)) -> list[int]:
    """Make the reviews of succeeded runs that posted a draft and have none yet (of `run_ids`,
    or any); returns the run ids reviewed now. Their tickets are followed from now on: first
    read at the review's SLA or after `recheck` (TRACK_RECHECK), whichever comes first."""
    made: list[int] = []
    with store.session() as session:
        query = (
            select(Run)
            .outerjoin(Review, Review.run_id == Run.id)
            .where(Review.run_id.is_(None))
            .where(Run.status == RunStatus.SUCCEEDED)
            .where(Run.draft.is_not(None))
            .order_by(Run.id)
            .limit(limit)
        )
        if run_ids is not None:
            query = query.where(Run.id.in_(list(run_ids)))
        for run in session.scalars(query).all():
            try:
                with session.begin_nested():
                    _start_review(session, run, policy, recheck)
                    session.flush()
            except IntegrityError:  # another process made it meanwhile
                continue
            made.append(run.id)
        session.commit()
    return made


def _start_review(session: Session, run: Run, policy: ReviewPolicy, recheck: timedelta) -> None:
    rules = run.rules or {}
    priority = rules.get("priority")
    drafted = run.finished_at or utcnow()
    due = drafted + policy.review_time(priority if isinstance(priority, int) else None)
    first_read = min(due, drafted + recheck)
    session.add(Review(
        run_id=run.id,
        helpdesk=run.helpdesk,
        ticket_id=run.ticket_id,
        arrived_at=run.created_at,
        drafted_at=drafted,
        due_at=due,
        category=rules.get("category"),
        priority=priority if isinstance(priority, int) else None,
        group=rules.get("group_key"),
        language=(run.triage or {}).get("triage", {}).get("language") if run.triage else None,
        prompt_version=run.prompt_version,
        engine=run.draft_engine,
        escalated=bool(rules.get("escalate")),
        sources=[str(s.get("id")) for s in run.sources or () if isinstance(s, dict) and s.get("id")],
        instruction=(run.request or {}).get("instruction"),
        category_overridden=False,
        priority_overridden=False,
        group_overridden=False,
    ))
    tracked = session.scalar(
        select(TrackedTicket)
        .where(TrackedTicket.helpdesk == run.helpdesk)
        .where(TrackedTicket.ticket_id == run.ticket_id)
        .with_for_update()
    )
    if tracked is None:
        session.add(TrackedTicket(
            helpdesk=run.helpdesk, ticket_id=run.ticket_id, first_run_id=run.id,
            arrived_at=run.created_at, reopened=0, reassigned=False, escalated_later=False,
            check_after=first_read,
        ))
    else:
        tracked.closed_at = None  # a new draft: followed again
        tracked.check_after = min(tracked.check_after, first_read)


class Marked(StrEnum):
    NOT_FOLLOWED = "not a ticket the bot drafted for"
    MARKED = "marked: read it"  # it was clean: ring the bell
    ALREADY = "already marked: a read is due"  # an earlier event rang it; that read sees this


def mark_dirty(store: Store, helpdesk: str, ticket_id: str, now: datetime | None = None) -> Marked:
    """Something happened on the ticket: it must be read (again). Only the first event of a
    burst rings the bell; the read clears the mark only if no event came meanwhile."""
    now = now or utcnow()
    where = (TrackedTicket.helpdesk == helpdesk, TrackedTicket.ticket_id == ticket_id)
    with store.session() as session:
        result = session.execute(
            update(TrackedTicket).where(*where).where(TrackedTicket.dirty_at.is_(None))
            .values(dirty_at=now, check_after=now)
        )
        session.commit()
        if result.rowcount:  # type: ignore[attr-defined]
            return Marked.MARKED
        known = session.scalar(select(TrackedTicket.id).where(*where))
        return Marked.NOT_FOLLOWED if known is None else Marked.ALREADY


def due(store: Store, now: datetime, limit: int = 100) -> list[TicketRef]:
    """Followed tickets to read now: an event came, their periodic check is due, or a review's
    SLA ends (`save` sets `check_after` to the earliest of those). A ticket no longer followed
    is read again only when an event comes (a late rating, say)."""
    with store.session() as session:
        rows = session.execute(
            select(TrackedTicket.helpdesk, TrackedTicket.ticket_id)
            .where(TrackedTicket.check_after <= now)
            .where(or_(TrackedTicket.closed_at.is_(None), TrackedTicket.dirty_at.is_not(None)))
            .order_by(TrackedTicket.check_after)
            .limit(limit)
        ).all()
    return [TicketRef(h, t) for h, t in rows]


def tracked(store: Store, helpdesk: str, ticket_id: str) -> TrackedTicket | None:
    with store.session() as session:
        return session.scalar(
            select(TrackedTicket)
            .where(TrackedTicket.helpdesk == helpdesk)
            .where(TrackedTicket.ticket_id == ticket_id)
        )


def drafts(store: Store, helpdesk: str, ticket_id: str) -> list[tuple[Review, Run]]:
    """The ticket's reviews with their runs, oldest draft first."""
    with store.session() as session:
        rows = session.execute(
            select(Review, Run)
            .join(Run, Run.id == Review.run_id)
            .where(Review.helpdesk == helpdesk)
            .where(Review.ticket_id == ticket_id)
            .order_by(Review.drafted_at, Review.run_id)
        ).all()
        return [(review, run) for review, run in rows]


def unfinished_runs(store: Store, helpdesk: str, ticket_id: str) -> int:
    with store.session() as session:
        return len(session.scalars(
            select(Run.id)
            .where(Run.helpdesk == helpdesk)
            .where(Run.ticket_id == ticket_id)
            .where(Run.status.not_in(list(RunStatus.terminal())))
        ).all())


def save(store: Store, ref: TicketRef, assessment: Assessment, *, now: datetime,
         dirty_seen: datetime | None, recheck: timedelta, follow_for: timedelta) -> None:
    """Store what the tracker found. The dirty mark is cleared only if no event came since
    the read began (`dirty_seen`): a later one makes the ticket read again."""
    with store.session() as session:
        reviews = {r.run_id: r for r in session.scalars(
            select(Review).where(Review.helpdesk == ref.helpdesk).where(Review.ticket_id == ref.ticket_id)
        ).all()}
        for run_id, facts in assessment.reviews.items():
            review = reviews.get(run_id)
            if review is None:
                continue
            review.action = facts.action
            review.acted_at = facts.acted_at
            review.acted_by = facts.acted_by
            review.similarity = facts.similarity
            review.replied_at = facts.replied_at
            review.overrides = facts.overrides or None
            review.category_overridden = "category" in facts.overrides
            review.priority_overridden = "priority" in facts.overrides
            review.group_overridden = "group" in facts.overrides
            review.checked_at = now
        ticket = session.scalar(
            select(TrackedTicket).where(TrackedTicket.helpdesk == ref.helpdesk)
            .where(TrackedTicket.ticket_id == ref.ticket_id).with_for_update()
        )
        if ticket is not None:
            outcome = assessment.outcome
            for name in ("status", "solved_at", "reopened", "reassigned", "escalated_later",
                         "escalated_at", "first_contact_resolution", "csat_score", "csat_good",
                         "csat_comment", "rated_at"):
                setattr(ticket, name, getattr(outcome, name))
            ticket.checked_at, ticket.error = now, None
            if ticket.dirty_at is not None and dirty_seen is not None and ticket.dirty_at <= dirty_seen:
                ticket.dirty_at = None
            pending = [r.due_at for r in reviews.values() if r.action is None and r.overdue_at is None
                       and r.due_at > now]
            ticket.check_after = min([now + recheck, *pending])
            last_draft = max((r.drafted_at for r in reviews.values()), default=ticket.arrived_at)
            if now - last_draft > follow_for:
                ticket.closed_at = now
        session.commit()


def failed(store: Store, ref: TicketRef, error: str, now: datetime, retry_in: timedelta) -> None:
    """The read failed: keep the mark, try again later, say why."""
    with store.session() as session:
        session.execute(
            update(TrackedTicket)
            .where(TrackedTicket.helpdesk == ref.helpdesk)
            .where(TrackedTicket.ticket_id == ref.ticket_id)
            .values(error=error[:2000], check_after=now + retry_in)
        )
        session.commit()


def mark_overdue(store: Store, run_id: int, now: datetime) -> None:
    with store.session() as session:
        session.execute(update(Review).where(Review.run_id == run_id).values(overdue_at=now))
        session.commit()
