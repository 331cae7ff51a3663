"""The events the cycle has not applied yet move from a flag on each event to a queue table:
the cycle deletes a queue row instead of rewriting the event row and its index entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pending_events",
        sa.Column("seq", SERIAL, autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_pending_events_account_day", "pending_events", ["account_id", "day"], unique=False)
    op.execute("INSERT INTO pending_events (seq, account_id, day) "
               "SELECT seq, account_id, day FROM events WHERE applied = false")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_pending")
        batch.drop_column("applied")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("applied", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.create_index("ix_events_pending", ["account_id", "applied", "day"], unique=False)
    op.execute("UPDATE events SET applied = false WHERE seq IN (SELECT seq FROM pending_events)")
    op.drop_index("ix_pending_events_account_day", table_name="pending_events")
    op.drop_table("pending_events")
