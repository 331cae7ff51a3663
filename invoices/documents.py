"""The frozen records every renderer (PDF, NAV XML, exports) reads.

An issued document is one of these, serialised once into the database with its hash; nothing
renders from live account data, so a later change of the account never changes a document.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import orjson

DocumentKind = Literal["proforma", "invoice", "credit_note", "correction"]
VatKind = Literal["domestic", "reverse_charge", "out_of_scope"]
PaymentMethod = Literal["card", "bank_transfer"]


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    country: str  # ISO 3166-1 alpha-2, e.g. "HU", "RO"
    postal_code: str
    city: str
    street: str
    tax_number: str | None = None  # Hungarian adószám "12345678-2-42"
    eu_vat_number: str | None = None  # with country prefix, e.g. "RO18547290"
    third_country_id: str | None = None
    bank_account: str | None = None  # seller only
    email: str | None = None


@dataclass(frozen=True, slots=True)
class VatTreatment:
    kind: VatKind
    rate: Decimal  # 0.27 for domestic, 0 otherwise
    # NAV vatOutOfScope case: "EUFAD37" (EU reverse charge) or "HO" (outside the EU); None if domestic.
    nav_case: str | None = None
    # The wording the law requires on the invoice (e.g. "Fordított adózás / Reverse charge").
    legal_text: str | None = None
    vies_reference: str | None = None
    vies_checked_on: date | None = None


@dataclass(frozen=True, slots=True)
class DocumentLine:
    description: str
    quantity: Decimal  # seat-days (four decimals at most), or 1 for a lump sum
    unit: str  # "seat-day" or "piece"
    # One seat for one day (monthly net price after discount / days in that month), two more
    # decimals than the currency; quantity × unit price may differ from `net` by the rounding.
    unit_price_net: Decimal  # in document currency
    net: Decimal
    vat: Decimal
    gross: Decimal
    period_start: date | None = None
    period_end: date | None = None
    advance: bool = False  # money received beyond what proformas asked for (Áfa tv. 59. §)


@dataclass(frozen=True, slots=True)
class Document:
    number: str
    kind: DocumentKind
    account_id: str
    issue_date: date
    fulfilment_date: date
    due_date: date
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    net: Decimal
    vat: Decimal
    gross: Decimal
    vat_treatment: VatTreatment
    exchange_rate: Decimal  # HUF per one unit of currency; 1 for HUF
    exchange_rate_date: date | None
    net_huf: Decimal
    vat_huf: Decimal
    gross_huf: Decimal
    locale: str = "hu"
    payment_method: PaymentMethod | None = None
    period_start: date | None = None
    period_end: date | None = None
    # A credit note: the invoice it modifies and its place in that invoice's modification chain.
    references: tuple[str, ...] = ()
    modification_index: int | None = None
    notes: tuple[str, ...] = ()
    # A correction: each corrected buyer field as (field, as the invoice's chain stated it, corrected),
    # e.g. ("name", "Acme Kft.", "Acme Zrt."); and, for a correction or a goodwill credit note, why.
    corrected: tuple[tuple[str, str, str], ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)

    def content_hash(self) -> str:
        return text_hash(self.canonical_json())

    def canonical_json(self) -> str:
        """canonical_json(self.to_json()), written by orjson straight from the record (the cycle
        stores one per proforma); the standard library for what orjson refuses (a lone surrogate)."""
        try:
            return orjson.dumps(self, default=_orjson_default, option=_ORJSON_CANONICAL).decode()
        except TypeError:
            return canonical_json(self.to_json())

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Document":
        return Document(
            number=data["number"],
            kind=data["kind"],
            account_id=data["account_id"],
            issue_date=date.fromisoformat(data["issue_date"]),
            fulfilment_date=date.fromisoformat(data["fulfilment_date"]),
            due_date=date.fromisoformat(data["due_date"]),
            currency=data["currency"],
            seller=Party(**data["seller"]),
            buyer=Party(**data["buyer"]),
            lines=tuple(_line_from_json(line) for line in data["lines"]),
            net=Decimal(data["net"]),
            vat=Decimal(data["vat"]),
            gross=Decimal(data["gross"]),
            vat_treatment=_vat_from_json(data["vat_treatment"]),
            exchange_rate=Decimal(data["exchange_rate"]),
            exchange_rate_date=_date_or_none(data.get("exchange_rate_date")),
            net_huf=Decimal(data["net_huf"]),
            vat_huf=Decimal(data["vat_huf"]),
            gross_huf=Decimal(data["gross_huf"]),
            locale=data.get("locale", "hu"),
            payment_method=data.get("payment_method"),
            period_start=_date_or_none(data.get("period_start")),
            period_end=_date_or_none(data.get("period_end")),
            references=tuple(data.get("references", ())),
            modification_index=data.get("modification_index"),
            notes=tuple(data.get("notes", ())),
            corrected=tuple(tuple(item) for item in data.get("corrected", ())),  # type: ignore[misc]
            reason=data.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class StatementLine:
    date_from: date
    date_to: date
    kind: str  # "payment" | "charge" | "charge_correction" | "charge_reversal" | "clawback" | "refund"
    description: str
    amount: Decimal  # signed, from the customer's side: payments +, charges -
    seats: int | None = None
    monthly_price: Decimal | None = None
    reference: str | None = None
    entry_ids: tuple[int, ...] = ()  # the ledger entries behind the line (their derivations explain it)


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: str
    month: str  # "YYYY-MM"
    currency: str
    buyer: Party
    seller: Party
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    payments: Decimal
    charges: Decimal  # positive number: what was charged (net of corrections and reversals)
    refunds: Decimal
    closing_balance: Decimal
    locale: str = "hu"
    explain: tuple[dict, ...] = field(default_factory=tuple)
    credits: Decimal = Decimal(0)  # goodwill credits to the balance (positive)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)


def json_hash(data: dict[str, Any]) -> str:
    """The stored hash of a frozen document: SHA-256 of its canonical JSON."""
    return text_hash(canonical_json(data))


def text_hash(canonical: str) -> str:
    """SHA-256 of a document's canonical JSON text, as stored beside it."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_LEAVES = (str, int, bool, float, type(None))
# Sorted keys, records handed to _orjson_default as dicts; the same text as canonical_json for the
# values a document holds (no floats: orjson writes some of them differently).
_ORJSON_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _orjson_default(value: Any) -> Any:
    if type(value) is Decimal:
        return str(value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(value, name) for name in fields}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _jsonable(value: Any) -> Any:
    # Records are walked field by field (dataclasses.asdict would deep-copy every value first);
    # the plain leaves, most of a document, are tested first and by exact type.
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is Decimal:
        return str(value)
    if kind is date:
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _date_or_none(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _line_from_json(data: dict[str, Any]) -> DocumentLine:
    return DocumentLine(
        description=data["description"],
        quantity=Decimal(data["quantity"]),
        unit=data["unit"],
        unit_price_net=Decimal(data["unit_price_net"]),
        net=Decimal(data["net"]),
        vat=Decimal(data["vat"]),
        gross=Decimal(data["gross"]),
        period_start=_date_or_none(data.get("period_start")),
        period_end=_date_or_none(data.get("period_end")),
        advance=bool(data.get("advance", False)),
    )


def _vat_from_json(data: dict[str, Any]) -> VatTreatment:
    return VatTreatment(
        kind=data["kind"],
        rate=Decimal(data["rate"]),
        nav_case=data.get("nav_case"),
        legal_text=data.get("legal_text"),
        vies_reference=data.get("vies_reference"),
        vies_checked_on=_date_or_none(data.get("vies_checked_on")),
    )
