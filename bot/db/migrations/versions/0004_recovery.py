"""recovery: when each run is due, how often the sweep re-enqueued it, whether its failure
note reached the helpdesk, and the draft with its provenance

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("recoveries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("failure_noted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("draft_result", sa.JSON()))
    # Runs accepted before this revision were due when they arrived.
    op.execute("UPDATE runs SET due_at = created_at WHERE due_at IS NULL")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_runs_status_due_at", ["status", "due_at"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_status_due_at")
        batch.drop_column("draft_result")
        batch.drop_column("failure_noted_at")
        batch.drop_column("recoveries")
        batch.drop_column("due_at")
