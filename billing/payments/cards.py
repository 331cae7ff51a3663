"""Tables of the card on file (CONTRACT §8): the account's Stripe customer, the cards Checkout saved,
and each off-session charge attempt.

Every row that stands for an outside action is a unique key claimed with INSERT … ON CONFLICT DO
NOTHING before the action: one customer per account, one saved card per Checkout payment intent,
one attempt per (proforma, attempt number). So a redelivered webhook, a rerun of a day or a second
process stops at the constraint instead of creating a second customer or charging twice.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.base import AwareDateTime, Base, ExactDecimal, utcnow

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
Serial = BigInteger().with_variant(Integer(), "sqlite")


class StripeCustomer(Base):
    """The Stripe Customer of an account, created once (idempotency key per account) before its
    first Checkout, so the card Checkout saves is attached to it."""

    __tablename__ = "stripe_customers"
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class SavedCard(Base):
    """A card a Checkout payment saved for later (setup_future_usage=off_session).

    status: pending (the webhook told us the payment; its card details are fetched from Stripe
    later, outside any transaction), active (the account's card; at most one per account, the
    newest), replaced (a newer card took its place), removed (the customer removed it in the
    portal; `detached_at` once Stripe detached it), not_saved (Stripe kept no card for it).
    Only an active card is ever charged. `saved_at` is the payment's instant: only proformas
    issued on or after its business day are charged off-session ("a later proforma")."""

    __tablename__ = "saved_cards"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    saved_at: Mapped[datetime] = mapped_column(AwareDateTime)
    customer_id: Mapped[str | None] = mapped_column(String(255))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    removed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    detached_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CardCharge(Base):
    """One off-session charge attempt of a proforma: attempt 1 on its issue day, 2 on issue + 3,
    3 on issue + 7 (billing.payments.card_schedule).

    The row is the claim, written before Stripe is called; `claim` is the token of the process
    that holds it. status: sending (claimed; the answer is not recorded yet), succeeded,
    processing (Stripe has not decided; the webhook books it), declined (card_error, e.g.
    card_declined or authentication_required: the next attempt day tries again), refused (Stripe
    refused the request itself, e.g. the card was detached: treated like a decline), unknown (no
    answer for longer than Stripe keeps idempotency keys: never sent again, finance checks).
    `occurred_at` is the instant the payment is dated, whichever of the synchronous answer and
    the webhook books it."""

    __tablename__ = "card_charges"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    proforma_number: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    card_id: Mapped[int] = mapped_column(Integer)
    scheduled_on: Mapped[date] = mapped_column(Date)
    charged_on: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    claim: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("proforma_number", "attempt", name="uq_card_charges_attempt"),)
