"""An index on events (account_id, type): ingestion looks up an account's termination by type.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_account_type", "events", ["account_id", "type"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_account_type", table_name="events")
