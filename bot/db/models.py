"""The store: every webhook delivery accepted and every run of the pipeline.

Deduplication lives here, in unique constraints, not in memory: two deliveries with the same
invocation id, or two events for the same ticket and kind, cannot both be inserted, whichever
process or thread tries.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    TERMINAL = (SUCCEEDED, FAILED, SKIPPED)


class Run(Base):
    """One ticket event taken through the pipeline, and everything it decided and did."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("helpdesk", "ticket_id", "event_kind", name="uq_runs_ticket_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(64))
    event_kind: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    triage: Mapped[dict | None] = mapped_column(JSON)
    rules: Mapped[dict | None] = mapped_column(JSON)  # reasons, group, tags, policy version
    customer: Mapped[dict | None] = mapped_column(JSON)  # the customer context used
    draft: Mapped[str | None] = mapped_column(Text)
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
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One accepted webhook delivery; the helpdesk's invocation id is unique."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("helpdesk", "delivery_id", name="uq_deliveries_delivery_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    helpdesk: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KbSource(Base):
    """Each knowledge source's sync state. `revision` goes up whenever its articles change,
    which is how workers know to rebuild their index."""

    __tablename__ = "kb_sources"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
