"""Money as it really comes (CONTRACT §5a): a bank entry row per transaction, debits kept (a
return imported before its credit still finds it), and the reversals of payments.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from billing.db.base import AwareDateTime, ExactDecimal

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("direction", sa.String(length=6), server_default="credit", nullable=False))
        batch.add_column(sa.Column("refs", sa.Text(), nullable=True))
        batch.add_column(sa.Column("returned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("batch", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("reverses", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("reversed_amount", ExactDecimal(), server_default="0", nullable=False))
        batch.add_column(sa.Column("return_reason", sa.String(length=35), nullable=True))
        batch.add_column(sa.Column("bank_reference", sa.String(length=255), nullable=True))
    op.create_table(
        "payment_reversals",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("payment_event_id", sa.String(length=128), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("key", name=op.f("uq_payment_reversals_key")),
    )
    op.create_index(op.f("ix_payment_reversals_account_id"), "payment_reversals", ["account_id"], unique=False)
    op.create_index(op.f("ix_payment_reversals_payment_event_id"), "payment_reversals", ["payment_event_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_reversals_payment_event_id"), table_name="payment_reversals")
    op.drop_index(op.f("ix_payment_reversals_account_id"), table_name="payment_reversals")
    op.drop_table("payment_reversals")
    with op.batch_alter_table("bank_entries") as batch:
        for column in ("bank_reference", "return_reason", "reversed_amount", "reverses", "batch", "returned", "refs", "direction"):
            batch.drop_column(column)
