"""ticket events: many runs per ticket (a conversation has many events), each event
deduplicated on its own key (a conversation part, or the ticket's creation); at most one
unstarted run per ticket, which later events join

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("event_kind", sa.String(64), nullable=False),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "helpdesk", "ticket_id", "event_kind", "event_key", name="uq_ticket_events_key"
        ),
    )
    op.create_index("ix_ticket_events_run_id", "ticket_events", ["run_id"])
    # Every run so far was its ticket's one creation event.
    op.execute(
        "INSERT INTO ticket_events (helpdesk, ticket_id, event_kind, event_key, run_id, received_at) "
        "SELECT helpdesk, ticket_id, event_kind, '', id, created_at FROM runs"
    )
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_ticket_event", type_="unique")
        batch.create_index("ix_runs_ticket", ["helpdesk", "ticket_id"])
        batch.add_column(sa.Column("waiting_key", sa.String(128)))
        batch.create_unique_constraint("uq_runs_waiting_key", ["waiting_key"])


def downgrade() -> None:
    # Only possible while every ticket has one run per event kind, as before this revision.
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_waiting_key", type_="unique")
        batch.drop_column("waiting_key")
        batch.drop_index("ix_runs_ticket")
        batch.create_unique_constraint(
            "uq_runs_ticket_event", ["helpdesk", "ticket_id", "event_kind"]
        )
    op.drop_index("ix_ticket_events_run_id", "ticket_events")
    op.drop_table("ticket_events")
