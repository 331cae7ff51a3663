"""The running state of one account between two cycle runs: a projection of its events, kept so a
run costs days-since-last-run, never the whole history. It can always be rebuilt by replay."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any


@dataclass
class ProformaState:
    number: str
    issue_date: date
    due_date: date
    amount: Decimal
    paid: Decimal = Decimal(0)
    first: bool = False
    void: bool = False
    period_start: date | None = None
    period_end: date | None = None

    @property
    def unpaid(self) -> Decimal:
        return self.amount - self.paid


@dataclass
class PaymentState:
    event_id: str
    external_id: str | None
    method: str
    amount: Decimal
    refunded: Decimal = Decimal(0)


@dataclass
class InvoiceState:
    number: str
    gross: Decimal
    credited: Decimal = Decimal(0)
    modifications: int = 0


@dataclass
class AccountState:
    account_id: str
    status: str
    conversion_day: date
    plan: str
    through: date | None = None
    active_users: list[str] = field(default_factory=list)
    balance: Decimal = Decimal(0)
    month: str | None = None
    month_exact: Fraction = Fraction(0)
    month_list_exact: Fraction = Fraction(0)
    month_posted: Decimal = Decimal(0)
    charged_since_conversion: Decimal = Decimal(0)
    paid_ever: bool = False
    terminated_on: date | None = None
    expired_on: date | None = None
    proformas: list[ProformaState] = field(default_factory=list)
    payments: list[PaymentState] = field(default_factory=list)
    invoices: list[InvoiceState] = field(default_factory=list)

    def copy(self) -> "AccountState":
        # The nested records are the only mutable parts; Decimal, Fraction and date are immutable.
        return replace(self, active_users=list(self.active_users),
                       proformas=[replace(p) for p in self.proformas],
                       payments=[replace(p) for p in self.payments],
                       invoices=[replace(i) for i in self.invoices])

    def open_proformas(self) -> list[ProformaState]:
        return [p for p in self.proformas if not p.void and p.unpaid > 0]

    def oldest_overdue(self, day: date) -> ProformaState | None:
        overdue = [p for p in self.open_proformas() if p.due_date < day]
        return min(overdue, key=lambda p: (p.due_date, p.issue_date, p.number)) if overdue else None

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["proformas"] = [_record(p) for p in self.proformas]
        data["payments"] = [_record(p) for p in self.payments]
        data["invoices"] = [_record(i) for i in self.invoices]
        return _encode(data)

    @staticmethod
    def from_json(data: dict[str, Any]) -> "AccountState":
        raw = _decode(data)
        raw["proformas"] = [ProformaState(**p) for p in raw["proformas"]]
        raw["payments"] = [PaymentState(**p) for p in raw["payments"]]
        raw["invoices"] = [InvoiceState(**i) for i in raw["invoices"]]
        # A field an older version stored and this one no longer has is dropped: the state is a
        # projection, rebuilt by replay if anything that matters were missing.
        known = {f.name for f in fields(AccountState)}
        return AccountState(**{k: v for k, v in raw.items() if k in known})


def _record(value) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


_DATE_KEYS = {"conversion_day", "through", "terminated_on", "expired_on", "issue_date", "due_date",
              "period_start", "period_end"}
_DECIMAL_KEYS = {"balance", "month_posted", "charged_since_conversion", "amount", "paid", "refunded",
                 "gross", "credited"}
_FRACTION_KEYS = {"month_exact", "month_list_exact"}


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, (Decimal, Fraction)):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _decode(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if value is None:
        return None
    if key in _DATE_KEYS:
        return date.fromisoformat(value)
    if key in _DECIMAL_KEYS:
        return Decimal(value)
    if key in _FRACTION_KEYS:
        return Fraction(value)
    return value
