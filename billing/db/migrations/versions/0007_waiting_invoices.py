"""Invoices that wait for MNB's exchange rate of their fulfilment day (CONTRACT §6: no guess ever
reaches a tax document): the engine's draft, unnumbered, until a cycle run gets the rate.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from billing.db.base import AwareDateTime, ExactDecimal

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "waiting_invoices",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("payment_day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("last_attempt_at", AwareDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_invoices")),
        sa.UniqueConstraint("event_id", name=op.f("uq_waiting_invoices_event_id")),
    )
    op.create_index(op.f("ix_waiting_invoices_account_id"), "waiting_invoices", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_waiting_invoices_account_id"), table_name="waiting_invoices")
    op.drop_table("waiting_invoices")
