"""settled history out of the hot account state (issue #19)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from billing.db.base import AwareDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_state_archive",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("archived_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind", "ordinal", name=op.f("pk_account_state_archive")),
    )


def downgrade() -> None:
    op.drop_table("account_state_archive")
