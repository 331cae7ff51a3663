"""Initial schema: every table of the current models and the append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from alembic import op

from billing.db.migrate import create_all_with_triggers

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first revision builds the schema from the models; later revisions are explicit diffs.
    create_all_with_triggers(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("the ledger is never dropped by a migration")
