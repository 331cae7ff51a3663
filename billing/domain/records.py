"""Immutable records the pure core reads and writes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from invoices.documents import VatTreatment

ACCESS = {
    "trialing": "limited",
    "awaiting_payment": "limited",
    "active": "full",
    "past_due": "full",
    "suspended": "suspended",
    "terminated": "closed",
    "expired": "closed",
}

CHARGING_STATES = frozenset({"awaiting_payment", "active", "past_due", "suspended"})


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    account_id: str
    occurred_at: datetime
    day: date  # the local business day of occurred_at in the account's time zone
    seq: int  # arrival order, breaks ties between equal instants
    data: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class PriceTerms:
    plan: str
    currency: str
    list_price: Decimal  # per seat per calendar month
    discount_percent: Decimal
    prices_include_vat: bool


@dataclass(frozen=True, slots=True)
class Profile:
    account_id: str
    currency: str
    country: str
    terms: Literal["hu", "ro"]
    trial_days: int
    created_day: date
    vat: VatTreatment


@dataclass(frozen=True, slots=True)
class CycleConfig:
    proforma_day: int = 20
    payment_terms_days: int = 8
    grace_days: int = 30  # lateness beyond this suspends (§2.2) or expires an unpaid first proforma (§1)
    refund_days: int = 30
    # settled history older than this leaves the hot state (billing/domain/compaction.py)
    archive_after_days: int = 45


@dataclass(frozen=True, slots=True)
class Posting:
    """One balanced journal entry. `amount` is signed from the customer's side (payment +,
    charge −); `legs` are (ledger account, signed amount: debit +, credit −) summing to zero."""
    account_id: str
    day: date
    kind: str
    amount: Decimal
    currency: str
    legs: tuple[tuple[str, Decimal], ...]
    details: dict[str, Any] = field(hash=False, compare=False, default_factory=dict)
    event_id: str | None = None
    document_number: str | None = None


@dataclass(frozen=True, slots=True)
class DraftLine:
    """One line of a document as the engine decides it: `quantity` of `unit` ("seat-day", or
    "piece" for a lump sum), worth `gross` (VAT included, currency precision). `unit_gross` is
    the exact price of one seat-day as charged (monthly price × (1 − discount) / days in that
    month); the document's net unit price is derived from it (billing/cycle/issuing.py). An
    `advance` is money received beyond what proformas asked for (Áfa tv. 59. §)."""
    description: str
    quantity: Decimal
    unit: str
    gross: Decimal
    period_start: date | None = None
    period_end: date | None = None
    details: dict[str, Any] = field(hash=False, compare=False, default_factory=dict)
    unit_gross: Fraction | None = None
    advance: bool = False


@dataclass(frozen=True, slots=True)
class DocumentDraft:
    number: str
    kind: Literal["proforma", "invoice", "credit_note"]
    account_id: str
    issue_date: date
    due_date: date
    fulfilment_date: date
    currency: str
    gross: Decimal
    lines: tuple[DraftLine, ...]
    payment_method: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    references: tuple[str, ...] = ()
    modification_index: int | None = None
    event_id: str | None = None
    details: dict[str, Any] = field(hash=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Allocation:
    payment_event_id: str
    proforma_number: str
    amount: Decimal
    day: date


@dataclass(frozen=True, slots=True)
class StateChange:
    day: date
    old: str | None
    new: str

    @property
    def access_changed(self) -> bool:
        return self.old is None or ACCESS.get(self.old) != ACCESS[self.new]


@dataclass(frozen=True, slots=True)
class RefundPart:
    payment_event_id: str
    external_id: str | None
    method: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundOrder:
    account_id: str
    day: date
    due_date: date
    amount: Decimal
    currency: str
    parts: tuple[RefundPart, ...]
    credit_notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    event_id: str
    day: date
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    postings: tuple[Posting, ...]
    documents: tuple[DocumentDraft, ...]
    allocations: tuple[Allocation, ...]
    state_changes: tuple[StateChange, ...]
    refunds: tuple[RefundOrder, ...]
    rejections: tuple[Rejection, ...]


@dataclass(frozen=True, slots=True)
class History:
    """What a late seat or plan event needs to re-derive the days already charged: the seat and
    plan events already applied, who was charged on each day since the earliest late day, and the
    exact and posted totals of the earlier months it reaches into."""
    initial_plan: str
    applied_events: tuple[Event, ...]
    posted_users: dict[date, frozenset[str]] = field(hash=False, compare=False)
    month_totals: dict[str, tuple[Any, Decimal]] = field(hash=False, compare=False)  # month → (Fraction, posted)
