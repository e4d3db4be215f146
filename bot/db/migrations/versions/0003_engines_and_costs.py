"""engines and costs: which engine triaged and drafted each run, token usage per step, cost

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("triage_engine", sa.String(32)))
        batch.add_column(sa.Column("draft_engine", sa.String(32)))
        batch.add_column(sa.Column("cost_usd", sa.Float()))
        batch.add_column(sa.Column("usage", sa.JSON()))
        batch.create_index("ix_runs_triage_engine", ["triage_engine"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_triage_engine")
        batch.drop_column("usage")
        batch.drop_column("cost_usd")
        batch.drop_column("draft_engine")
        batch.drop_column("triage_engine")
