"""reviews and tracked tickets: what agents did with each draft, how each ticket ended; and
what an agent asked of a run (a redraft's instruction, an escalation)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("request", sa.JSON()))
    op.create_table(
        "reviews",
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("arrived_at", MOMENT, nullable=False),
        sa.Column("drafted_at", MOMENT, nullable=False),
        sa.Column("due_at", MOMENT, nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("priority", sa.Integer()),
        sa.Column("group", sa.String(64)),
        sa.Column("language", sa.String(16)),
        sa.Column("prompt_version", sa.String(64)),
        sa.Column("engine", sa.String(32)),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("sources", sa.JSON()),
        sa.Column("instruction", sa.Text()),
        sa.Column("action", sa.String(24)),
        sa.Column("acted_at", MOMENT),
        sa.Column("acted_by", sa.String(64)),
        sa.Column("similarity", sa.Float()),
        sa.Column("replied_at", MOMENT),
        sa.Column("overdue_at", MOMENT),
        sa.Column("overrides", sa.JSON()),
        sa.Column("category_overridden", sa.Boolean(), nullable=False),
        sa.Column("priority_overridden", sa.Boolean(), nullable=False),
        sa.Column("group_overridden", sa.Boolean(), nullable=False),
        sa.Column("checked_at", MOMENT),
    )
    op.create_index("ix_reviews_ticket", "reviews", ["helpdesk", "ticket_id"])
    op.create_index("ix_reviews_drafted_at", "reviews", ["drafted_at"])
    op.create_index("ix_reviews_open_due", "reviews", ["action", "due_at"])
    op.create_table(
        "tracked_tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("helpdesk", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column(
            "first_run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL")
        ),
        sa.Column("arrived_at", MOMENT, nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("solved_at", MOMENT),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("reassigned", sa.Boolean(), nullable=False),
        sa.Column("escalated_later", sa.Boolean(), nullable=False),
        sa.Column("escalated_at", MOMENT),
        sa.Column("first_contact_resolution", sa.Boolean()),
        sa.Column("csat_score", sa.String(16)),
        sa.Column("csat_good", sa.Boolean()),
        sa.Column("csat_comment", sa.Text()),
        sa.Column("rated_at", MOMENT),
        sa.Column("dirty_at", MOMENT),
        sa.Column("checked_at", MOMENT),
        sa.Column("check_after", MOMENT, nullable=False),
        sa.Column("closed_at", MOMENT),
        sa.Column("error", sa.Text()),
        sa.UniqueConstraint("helpdesk", "ticket_id", name="uq_tracked_tickets_ticket"),
    )
    op.create_index(
        "ix_tracked_tickets_check_after", "tracked_tickets", ["closed_at", "check_after"]
    )


def downgrade() -> None:
    op.drop_index("ix_tracked_tickets_check_after", "tracked_tickets")
    op.drop_table("tracked_tickets")
    op.drop_index("ix_reviews_open_due", "reviews")
    op.drop_index("ix_reviews_drafted_at", "reviews")
    op.drop_index("ix_reviews_ticket", "reviews")
    op.drop_table("reviews")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("request")
