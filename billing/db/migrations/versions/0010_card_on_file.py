"""the card on file and its off-session charges (issue #17)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from billing.db.base import AwareDateTime, ExactDecimal

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stripe_customers",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_stripe_customers")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_stripe_customers_customer_id")),
    )
    op.create_table(
        "saved_cards",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("saved_at", AwareDateTime(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=True),
        sa.Column("payment_method_id", sa.String(length=255), nullable=True),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("removed_at", AwareDateTime(), nullable=True),
        sa.Column("detached_at", AwareDateTime(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("updated_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_cards")),
        sa.UniqueConstraint("payment_intent_id", name=op.f("uq_saved_cards_payment_intent_id")),
    )
    op.create_index(op.f("ix_saved_cards_account_id"), "saved_cards", ["account_id"], unique=False)
    op.create_index(op.f("ix_saved_cards_status"), "saved_cards", ["status"], unique=False)
    op.create_table(
        "card_charges",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("proforma_number", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("scheduled_on", sa.Date(), nullable=False),
        sa.Column("charged_on", sa.Date(), nullable=False),
        sa.Column("occurred_at", AwareDateTime(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("claim", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("updated_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_charges")),
        sa.UniqueConstraint("proforma_number", "attempt", name="uq_card_charges_attempt"),
    )
    op.create_index(op.f("ix_card_charges_account_id"), "card_charges", ["account_id"], unique=False)
    op.create_index(op.f("ix_card_charges_payment_intent_id"), "card_charges", ["payment_intent_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_table("card_charges")
    op.drop_table("saved_cards")
    op.drop_table("stripe_customers")
