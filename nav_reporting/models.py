"""The NAV outbox tables: one row per reported document, one per manage* request we sent."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.base import AwareDateTime, Base, utcnow

# QUEUED: waiting to be sent. SENDING: claimed, its request id committed, outcome not yet known.
# SENT/RECEIVED/PROCESSING: NAV gave a transaction id and is working. DONE/ABORTED: final.
STATUSES = ("QUEUED", "SENDING", "SENT", "RECEIVED", "PROCESSING", "DONE", "ABORTED")
FINAL = frozenset({"DONE", "ABORTED"})
IN_NAV = frozenset({"SENT", "RECEIVED", "PROCESSING"})


class NavOutbox(Base):
    __tablename__ = "nav_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_number: Mapped[str] = mapped_column(String(50), unique=True)
    operation: Mapped[str] = mapped_column(String(10))  # CREATE | MODIFY
    base_document_number: Mapped[str | None] = mapped_column(String(50), index=True)
    modification_index: Mapped[int | None] = mapped_column(Integer)
    line_count: Mapped[int] = mapped_column(Integer)
    invoice_xml: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="QUEUED", index=True)
    request_id: Mapped[str | None] = mapped_column(String(30), ForeignKey("nav_transactions.request_id"), index=True)
    transaction_id: Mapped[str | None] = mapped_column(String(30), index=True)
    op_index: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, onupdate=utcnow)


class NavTransaction(Base):
    """A manage* request, recorded (committed) before it is sent so a lost answer can be traced."""

    __tablename__ = "nav_transactions"
    __table_args__ = (UniqueConstraint("transaction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # INVOICE | ANNULMENT
    # SENDING (outcome unknown) -> SENT (NAV's transaction id known) | FAILED (NAV refused it)
    # | NOT_FOUND (lost, and a lookup proved NAV never got it).
    state: Mapped[str] = mapped_column(String(12), default="SENDING")
    transaction_id: Mapped[str | None] = mapped_column(String(30))
    sent_at: Mapped[datetime] = mapped_column(AwareDateTime())
    recover_after: Mapped[datetime | None] = mapped_column(AwareDateTime())
    document_numbers: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
