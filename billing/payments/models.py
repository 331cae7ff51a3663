"""Tables of the payments package: what Stripe and the bank told us, and what we did with it.

Every outside identifier is a unique key, so a redelivered webhook or a re-uploaded statement is
stopped by the database (INSERT … ON CONFLICT DO NOTHING), not by an `if` that two concurrent
requests could both pass. Money enters the ledger only through the `payment.received` event whose
id these rows keep; the rows themselves are the evidence and the finance work queue.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.base import AwareDateTime, Base, ExactDecimal, utcnow

Money = ExactDecimal()
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
Serial = BigInteger().with_variant(Integer(), "sqlite")


class StripeWebhookEvent(Base):
    """Each Stripe event id once: a redelivery finds its row and changes nothing."""

    __tablename__ = "stripe_webhook_events"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(40))  # booked | duplicate | parked | ignored | refund_*
    received_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CardPayment(Base):
    """One card payment, keyed by its payment intent id: checkout.session.completed and
    payment_intent.succeeded both report it, and only the first insert wins.

    status: booked (a payment.received event was stored, `event_id`) or parked (`reason` says
    why; finance sees it in GET /v1/payments/unmatched and settles it by hand in Stripe)."""

    __tablename__ = "card_payments"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    proforma_number: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class BankEntry(Base):
    """One transaction (TxDtls) of a booked entry of a CAMT.053 statement, credit or debit, keyed
    by its stable id within the statement's account (camt053.entry_key).

    A credit's status: matched (proforma number found, booked), unmatched (no usable proforma
    number, or a batch the statement does not itemise: `batch`), assigned (finance booked it to an
    account by hand), rejected (it cannot be booked: `reason`), reversed (booked, and its money
    went back: `reversed_amount`), returned (its money went back before it was ever booked),
    ignored (the bank taking back one of its own debits). `event_id` is set once booked.
    A debit's status: reversal (it returned the credit `reverses`) or ignored (not a payment of
    ours; kept, so that a credit imported after its return is still reversed)."""

    __tablename__ = "bank_entries"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(255), unique=True)
    statement_id: Mapped[str] = mapped_column(String(255))
    iban: Mapped[str] = mapped_column(String(64))
    booking_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    remittance: Mapped[str] = mapped_column(Text)
    debtor_name: Mapped[str | None] = mapped_column(String(300))
    debtor_iban: Mapped[str | None] = mapped_column(String(64))
    proforma_number: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    direction: Mapped[str] = mapped_column(String(6), default="credit", server_default="credit")
    refs: Mapped[str | None] = mapped_column(Text)  # the transaction's ids, one per line
    returned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    batch: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reverses: Mapped[str | None] = mapped_column(String(255))
    reversed_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    return_reason: Mapped[str | None] = mapped_column(String(35))
    bank_reference: Mapped[str | None] = mapped_column(String(255))


class PaymentReversal(Base):
    """A payment whose money went back (CONTRACT §5a): a bank return, a refund made in Stripe's
    dashboard, a dispute's withdrawn funds. `key` names it at its source (the returning debit's
    entry id, the charge's refunded total, the dispute id), so a second import or a redelivered
    webhook finds it; `event_id` is the payment.reversed event the cycle applies."""

    __tablename__ = "payment_reversals"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # bank_return | stripe_refund | stripe_dispute
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    payment_event_id: Mapped[str] = mapped_column(String(128), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)
    event_id: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CheckoutSession(Base):
    """A Stripe Checkout session made for a proforma. Stripe's idempotency key (proforma, amount)
    returns the same session id for a retry, and the unique session id stores it once."""

    __tablename__ = "checkout_sessions"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    proforma_number: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CardRefund(Base):
    """A card refund part sent to Stripe: one per (refund, part), and one per Stripe refund id.

    `closed_status` is written once, by the webhook that reports the refund final (succeeded or
    failed); the guarded UPDATE … WHERE closed_status IS NULL is what makes a redelivered or
    concurrent webhook append the RefundStatusRow only once."""

    __tablename__ = "card_refunds"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    refund_id: Mapped[int] = mapped_column(Integer, index=True)
    part_index: Mapped[int] = mapped_column(Integer)
    stripe_refund_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    closed_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("refund_id", "part_index", name="uq_card_refunds_part"),)
