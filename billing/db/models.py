"""Tables of the billing core. Events, journal entries, postings, documents and allocations are
append-only; `account_states` is a rebuildable projection (see billing/domain/state.py)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, ColumnElement, Date, ForeignKey, Index, Integer, Numeric,
                        String, Text, UniqueConstraint, exists)
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.base import AwareDateTime, Base, ExactDecimal, utcnow

Money = ExactDecimal()
# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Serial = BigInteger().with_variant(Integer(), "sqlite")


class Plan(Base):
    __tablename__ = "plans"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class PlanPrice(Base):
    """A price version. The first one is in force from the beginning; a later one takes effect
    30 days after it was announced (Romanian terms §2), never retroactively."""
    __tablename__ = "plan_prices"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("plans.code"), index=True)
    monthly_seat_price: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    prices_include_vat: Mapped[bool] = mapped_column(Boolean)
    announced_on: Mapped[date | None] = mapped_column(Date)
    effective_from: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("plan_code", "effective_from", name="plan_effective"),)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    locale: Mapped[str] = mapped_column(String(8))
    terms: Mapped[str] = mapped_column(String(2))
    trial_days: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    plan: Mapped[str] = mapped_column(String(64))
    created_day: Mapped[date] = mapped_column(Date)
    created_at_instant: Mapped[datetime] = mapped_column(AwareDateTime)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    tax_number: Mapped[str | None] = mapped_column(String(32))
    eu_vat_number: Mapped[str | None] = mapped_column(String(32))
    vat: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_event_id: Mapped[str] = mapped_column(String(128))
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class Event(Base):
    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)  # dedup is a constraint, not an if
    type: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime)
    day: Mapped[date] = mapped_column(Date)
    body_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (Index("ix_events_account_type", "account_id", "type"),)


class PendingEvent(Base):
    """An event the cycle has not applied yet: a work queue beside the append-only event log.
    Ingestion adds the row with its event; the cycle deletes it in the transaction that applies the
    event. A queue rather than a flag on the event: on PostgreSQL, deleting this small row costs
    about a seventh of rewriting the event row and its index entries, and the cycle never rewrites
    an event (only erasing personal data does, billing/ops/gdpr.py)."""
    __tablename__ = "pending_events"
    seq: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=False)  # events.seq
    account_id: Mapped[str] = mapped_column(String(128))
    day: Mapped[date] = mapped_column(Date)
    __table_args__ = (Index("ix_pending_events_account_day", "account_id", "day"),)


def event_applied() -> ColumnElement[bool]:
    """The event has been applied by the cycle: it has left the queue."""
    return ~exists().where(PendingEvent.seq == Event.seq)


class AccountStateRow(Base):
    __tablename__ = "account_states"
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    through: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    # Raised by every write: a step prepared from an older version is not written (billing/cycle/run.py).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ArchivedStateRecord(Base):
    """A settled proforma, payment or invoice moved out of its account's hot state
    (billing/domain/compaction.py): part of the projection, read back only by the rare run that
    reaches that far (billing/cycle/archive.py)."""
    __tablename__ = "account_state_archive"
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    archived_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(String(128))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money)  # signed, customer's side
    currency: Mapped[str] = mapped_column(String(3))
    event_id: Mapped[str | None] = mapped_column(String(128))
    document_number: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (Index("ix_journal_account_day", "account_id", "day", "id"),)


class PostingRow(Base):
    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    ledger_account: Mapped[str] = mapped_column(String(160))  # no index: nothing looks postings up by it
    amount: Mapped[Decimal] = mapped_column(Money)  # debit +, credit −
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)


class DocumentRow(Base):
    __tablename__ = "documents"
    # an account's documents a page at a time, in the order its list shows (billing/views/documents.py)
    __table_args__ = (Index("ix_documents_account_issue_number", "account_id", "issue_date", "number"),)
    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(128))  # indexed with issue_date, number (above)
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[Decimal] = mapped_column(Money)
    net: Mapped[Decimal] = mapped_column(Money)
    vat: Mapped[Decimal] = mapped_column(Money)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the frozen invoices.documents.Document
    content_hash: Mapped[str] = mapped_column(String(64))
    explain: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class AllocationRow(Base):
    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    payment_event_id: Mapped[str] = mapped_column(String(128))
    proforma_number: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    day: Mapped[date] = mapped_column(Date)


class RefundRow(Base):
    __tablename__ = "refunds"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    day: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    parts: Mapped[list[Any]] = mapped_column(JSON)
    credit_notes: Mapped[list[Any]] = mapped_column(JSON)


class RefundStatusRow(Base):
    """The refund's state machine as appended transitions: due → submitted → succeeded | failed,
    or due → payout_instructed → paid_out."""
    __tablename__ = "refund_status"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    part_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Notice(Base):
    """Outgoing notices for the CRM (access changes, documents issued), delivered from here."""
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    day: Mapped[date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Rejection(Base):
    __tablename__ = "event_rejections"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), index=True)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)


class ApiKey(Base):
    __tablename__ = "api_keys"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # admin | crm | finance | customer
    account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CycleRun(Base):
    __tablename__ = "cycle_runs"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    until: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    accounts: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(Integer)  # a run is recorded when it has finished


class WaitingInvoice(Base):
    """An invoice that waits for MNB's exchange rate of its fulfilment day (CONTRACT §6): the
    engine's draft, unnumbered, as JSON (billing/cycle/waiting.py). Written in the cycle
    transaction that credits its payment, deleted in the one that issues it; the payment event is
    the key, so a payment never waits, nor is invoiced, twice. A work queue, like pending_events:
    `last_error` and `last_attempt_at` say why it still waits."""
    __tablename__ = "waiting_invoices"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)  # the payment.received event
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    payment_day: Mapped[date] = mapped_column(Date)  # the fulfilment day: its rate is the one needed
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)  # gross, as received
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)



class AuditEntry(Base):
    """One transaction that changed something on behalf of a key (or Stripe, or a portal visitor),
    written in that transaction (billing/db/audit.py). Event intake is the event log itself."""
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a key id (env:finance, key:…), stripe, portal:…
    action: Mapped[str] = mapped_column(String(200))  # the route: "POST /v1/refunds/execute"
    target: Mapped[str | None] = mapped_column(String(300))  # its path parameters: "number=INV-2026-000001"
    request_id: Mapped[str | None] = mapped_column(String(128))


class MailMessage(Base):
    """One message to a customer (CONTRACT §8), written in the transaction that decides it
    (billing/mail/store.py) and sent from here after commit (billing/mail/outbox.py). (account,
    key) is unique and inserted with ON CONFLICT DO NOTHING, so a rerun of a day, a retried chunk
    or a second process never adds a message twice. `key` says what it is about: kind and document
    or day (`proforma_issued:PRO-2026-000012`, `overdue:PRO-2026-000012:due+15`); the Message-ID is
    derived from it and stored at the first claim, so a resend carries the same one. `params` is
    the JSON text of what the message names (amounts, dates, numbers), rendered at send time.
    A work queue: status pending → sending (claimed until `claimed_until`) → sent, or dead."""
    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)  # the account's business day that decided it
    document_number: Mapped[str | None] = mapped_column(String(64))
    to_address: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    params: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))  # pending | sending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(AwareDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(AwareDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime)
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_mail_outbox_account_key"),
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
    )
