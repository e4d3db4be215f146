"""The store: every webhook delivery accepted, every ticket event, and every run of the pipeline.

Deduplication lives here, in unique constraints, not in memory: two deliveries with the same
invocation id, or two events with the same key on one ticket (its creation, one conversation
part), cannot both be inserted, whichever process or thread tries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.vocabulary import RunStatus

# Lengths of the id columns a webhook fills; the webhook parser refuses a longer id (400)
# rather than let the insert fail. Migrations keep their own literal copies.
TICKET_ID_LENGTH = 64
EVENT_ID_LENGTH = 128
DELIVERY_ID_LENGTH = 128


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, aware on the way in and out, on every database. SQLite keeps no time
    zone: without this, what it gives back is naive and cannot be compared with `utcnow()`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One pass of the pipeline over a ticket, for one or more of its events (`TicketEvent`:
    quick replies merged), and everything it decided and did. A ticket can have many."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_status_due_at", "status", "due_at"),  # the sweep's query
        Index("ix_runs_ticket", "helpdesk", "ticket_id"),  # a ticket's runs
        UniqueConstraint("waiting_key", name="uq_runs_waiting_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(TICKET_ID_LENGTH))
    event_kind: Mapped[str] = mapped_column(String(64))  # of the event that started it
    event_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH))
    # "helpdesk:ticket" while no worker has claimed the run, then NULL: unique, so a ticket has
    # at most one run that later events can still join (`Store.accept`).
    waiting_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far; the lease token
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # When a worker should have picked the run up: its last enqueue, or its retry's due time.
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    recoveries: Mapped[int] = mapped_column(Integer, default=0)  # re-enqueues by the sweep
    # A failed run's note reached the helpdesk (or was not needed); None: the sweep tries again.
    failure_noted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    triage: Mapped[dict | None] = mapped_column(JSON)
    rules: Mapped[dict | None] = mapped_column(JSON)  # reasons, group, tags, policy version
    customer: Mapped[dict | None] = mapped_column(JSON)  # the customer context used
    draft: Mapped[str | None] = mapped_column(Text)
    draft_result: Mapped[dict | None] = mapped_column(JSON)  # the draft with who wrote it, tokens
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    engine: Mapped[str | None] = mapped_column(String(32))  # LLM_PROVIDER: offline/openai/hybrid
    triage_engine: Mapped[str | None] = mapped_column(String(32), index=True)  # who decided
    draft_engine: Mapped[str | None] = mapped_column(String(32))  # who wrote the draft
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)  # None: a model with no price
    usage: Mapped[dict | None] = mapped_column(JSON)  # per step: engine, model, tokens, cost
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    sources: Mapped[list | None] = mapped_column(JSON)  # help-center articles given to the draft
    actions: Mapped[dict | None] = mapped_column(JSON)  # the update sent to the helpdesk
    # What an agent asked of this run: {"instruction": ...} (redraft), {"reason": ..., "by":
    # ...} (escalate); None for a run the customer started.
    request: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow
    )
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Delivery(Base):
    """One accepted webhook delivery; the helpdesk's invocation id is unique."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("helpdesk", "delivery_id", name="uq_deliveries_delivery_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(DELIVERY_ID_LENGTH))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TicketEvent(Base):
    """One event on a ticket, accepted once: its creation (key ""), or one message of the
    customer's (key: the conversation part id). Points at the run that handles it."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint(
            "helpdesk", "ticket_id", "event_kind", "event_key", name="uq_ticket_events_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(TICKET_ID_LENGTH))
    event_kind: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class KbArticle(Base):
    """One approved help-center article in one locale, as the last sync or import saw it."""

    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("source", "article_id", "locale", name="uq_kb_articles_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    article_id: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    section: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))  # tells a real change from a re-send
    source_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    synced_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class KbSource(Base):
    """Each knowledge source's sync state. `revision` goes up whenever its articles change,
    which is how workers know to rebuild their index."""

    __tablename__ = "kb_sources"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class Review(Base):
    """One draft the bot posted, and what the agents did with it (`bot.tracking`): the review
    action, how much of the draft reached the customer, the triage fields they overrode.

    The columns reports group by (category, prompt version, engine, language) are copied from
    the run when the draft is posted, so figures are one query over this table."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_ticket", "helpdesk", "ticket_id"),
        Index("ix_reviews_drafted_at", "drafted_at"),
        Index("ix_reviews_open_due", "action", "due_at"),  # the review-SLA check
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    helpdesk: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(TICKET_ID_LENGTH))
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the run's event arrived
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the note was posted
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())  # review SLA: acted on by then
    category: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int | None] = mapped_column(Integer)
    group: Mapped[str | None] = mapped_column(String(64))  # the policy group routed to, if any
    language: Mapped[str | None] = mapped_column(String(16))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    engine: Mapped[str | None] = mapped_column(String(32))  # who wrote the draft
    escalated: Mapped[bool] = mapped_column(default=False)  # the bot escalated it
    sources: Mapped[list | None] = mapped_column(JSON)  # ids of the articles the draft cited
    instruction: Mapped[str | None] = mapped_column(Text)  # a redraft's agent instruction
    # What the agents did first: `ReviewAction` (bot.vocabulary); None while nobody has.
    action: Mapped[str | None] = mapped_column(String(24))
    acted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acted_by: Mapped[str | None] = mapped_column(String(64))  # the agent's id
    similarity: Mapped[float | None] = mapped_column(Float)  # draft vs the agent's reply, 0..1
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first agent reply
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # tagged overdue
    # Triage fields a human changed after the draft: {"priority": {"bot": 2, "agent": 3,
    # "by": "381", "at": "..."}}; and one flag per field, for counting.
    overrides: Mapped[dict | None] = mapped_column(JSON)
    category_overridden: Mapped[bool] = mapped_column(default=False)
    priority_overridden: Mapped[bool] = mapped_column(default=False)
    group_overridden: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TrackedTicket(Base):
    """A ticket the bot drafted for, followed until it is over: how it ended (solved first
    time, reopened, escalated later, CSAT) and when it must be read again.

    Webhooks only mark it `dirty_at`; the tracker reads the ticket's history from the helpdesk
    and recomputes everything, so a lost or repeated event changes nothing."""

    __tablename__ = "tracked_tickets"
    __table_args__ = (
        UniqueConstraint("helpdesk", "ticket_id", name="uq_tracked_tickets_ticket"),
        Index("ix_tracked_tickets_check_after", "closed_at", "check_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(TICKET_ID_LENGTH))
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    arrived_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str | None] = mapped_column(String(16))  # the helpdesk's, as last read
    solved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first solved
    reopened: Mapped[int] = mapped_column(Integer, default=0)  # times reopened after solved
    reassigned: Mapped[bool] = mapped_column(default=False)  # a human changed its group/team
    escalated_later: Mapped[bool] = mapped_column(default=False)  # after the bot's draft
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Solved, never reopened, not reassigned, not escalated later; None until solved.
    first_contact_resolution: Mapped[bool | None] = mapped_column()
    csat_score: Mapped[str | None] = mapped_column(String(16))  # "good"/"bad", or "1".."5"
    csat_good: Mapped[bool | None] = mapped_column()
    csat_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dirty_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # an event since the check
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    check_after: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # no longer followed
    error: Mapped[str | None] = mapped_column(Text)  # the last read's failure, if any
