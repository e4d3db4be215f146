"""knowledge base: articles, sources' sync state, and the sources each run used

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(128), nullable=False),
        sa.Column("locale", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True)),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "article_id", "locale", name="uq_kb_articles_key"),
    )
    op.create_table(
        "kb_sources",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.Text()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sources", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("sources")
    op.drop_table("kb_sources")
    op.drop_table("kb_articles")
