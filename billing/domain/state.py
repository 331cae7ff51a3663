"""The running state of one account between two cycle runs: a projection of its events, kept so a
run costs days-since-last-run, never the whole history. It can always be rebuilt by replay."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from collections.abc import Sequence
from typing import Any


@dataclass(frozen=True, slots=True)
class CoveredLine:
    """One line of what a proforma asks for (its seat-day lines less the balance and the open
    proformas it deducts): the invoice of a payment of that proforma states the part it pays.
    `quantity` in seat-days (or 1 piece when `unit_gross` is None: an outstanding balance),
    `gross` the money asked for it; `unit_gross` the exact price of one seat-day."""
    description: str
    period_start: date | None
    period_end: date | None
    quantity: Decimal
    gross: Decimal
    unit_gross: Fraction | None


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
    # What it asks for, line by line (adding up to `amount`); kept only while it is open. From a
    # stored state a StoredLines, decoded only when read (most runs only carry them along).
    lines: "tuple[CoveredLine, ...] | StoredLines" = ()

    def __setattr__(self, name: str, value: Any) -> None:
        # Read from a stored state, it keeps the JSON it was read from and is written back as that
        # (proforma_json): most runs change none of an account's proformas. A change makes it stale.
        self.__dict__.pop("_stored", None)
        object.__setattr__(self, name, value)

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
    # What a return or an outside refund of it must undo (CONTRACT §5a): its invoice, and its
    # shares of the proformas it paid, in the order they were allocated.
    invoice: str | None = None
    allocations: list[tuple[str, Decimal]] = field(default_factory=list)
    reversed: Decimal = Decimal(0)
    day: date | None = None  # its booking day: how old it is decides when it leaves the hot state (compaction.py)

    @property
    def held(self) -> Decimal:
        """What of it is still the customer's money with us: neither refunded nor reversed."""
        return self.amount - self.refunded - self.reversed

    @property
    def unreversed(self) -> Decimal:
        """What a return or an outside refund may still take back of it."""
        return self.amount - self.reversed


@dataclass
class InvoiceState:
    number: str
    gross: Decimal
    credited: Decimal = Decimal(0)
    modifications: int = 0

    @property
    def creditable(self) -> Decimal:
        """What credit notes may still take off it (§6)."""
        return max(Decimal(0), self.gross - self.credited)


def creditable_sum(invoices) -> Decimal:
    return sum((invoice.creditable for invoice in invoices), Decimal(0))


@dataclass(frozen=True, slots=True)
class Archive:
    """What of the account's settled history left the hot state (billing/domain/compaction.py):
    how many records of each kind (the archived ones are the first of each list), and the two
    figures the engine still needs of them without reading them back."""
    proformas: int = 0
    payments: int = 0
    invoices: int = 0
    invoices_creditable: Decimal = Decimal(0)  # Σ max(0, gross − credited) of the archived invoices
    payments_unreversed: int = 0              # archived payments with some of their money still in

    def __bool__(self) -> bool:
        return bool(self.proformas or self.payments or self.invoices)


NO_ARCHIVE = Archive()


class HistoryNotLoaded(RuntimeError):
    """The engine reached for an archived record in a run that was not given the history
    (billing/domain/compaction.py needs_history missed a case): never a customer's doing."""


def require_history(state: "AccountState", what: str) -> None:
    """Called by the engine where the record it needs next may be an archived one."""
    if state.archive:
        raise HistoryNotLoaded(f"account {state.account_id}: {what} reaches its archived history, "
                               "which this run was not given")


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
    archive: Archive = NO_ARCHIVE

    def copy(self) -> "AccountState":
        # The nested records are the only mutable parts; Decimal, Fraction and date are immutable.
        # Copied through __dict__: dataclasses.replace re-runs __init__, and every run copies once.
        clone = _shallow(self)
        clone.active_users = list(self.active_users)
        clone.proformas = [_shallow(p) for p in self.proformas]
        clone.payments = [_shallow(p) for p in self.payments]
        for payment in clone.payments:
            payment.allocations = list(payment.allocations)
        clone.invoices = [_shallow(i) for i in self.invoices]
        return clone

    def open_proformas(self) -> list[ProformaState]:
        return [p for p in self.proformas if not p.void and p.paid < p.amount]  # unpaid > 0

    def oldest_overdue(self, day: date) -> ProformaState | None:
        overdue = [p for p in self.open_proformas() if p.due_date < day]
        return min(overdue, key=lambda p: (p.due_date, p.issue_date, p.number)) if overdue else None

    def to_json(self) -> dict[str, Any]:
        """Field by field, not by reflection: a cycle run encodes every account's state once."""
        return {
            "account_id": self.account_id, "status": self.status,
            "conversion_day": self.conversion_day.isoformat(), "plan": self.plan,
            "through": _date_text(self.through), "active_users": list(self.active_users),
            "balance": str(self.balance), "month": self.month,
            "month_exact": (exact := str(self.month_exact)),
            "month_list_exact": exact if self.month_list_exact is self.month_exact else str(self.month_list_exact),
            "month_posted": str(self.month_posted), "charged_since_conversion": str(self.charged_since_conversion),
            "paid_ever": self.paid_ever, "terminated_on": _date_text(self.terminated_on),
            "expired_on": _date_text(self.expired_on),
            "proformas": [proforma_json(p) for p in self.proformas],
            "payments": [payment_json(p) for p in self.payments],
            "invoices": [invoice_json(i) for i in self.invoices],
            **({"archive": _archive_json(self.archive)} if self.archive else {}),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> "AccountState":
        # A key an older version stored and this one no longer has is ignored, a missing one takes
        # its default: the state is a projection, rebuilt by replay if anything that matters were missing.
        get = data.get
        exact_text, list_text = get("month_exact", "0"), get("month_list_exact", "0")
        month_exact = _fraction(exact_text)
        return AccountState(
            account_id=data["account_id"], status=data["status"],
            conversion_day=date.fromisoformat(data["conversion_day"]), plan=data["plan"],
            through=_date_or_none(get("through")), active_users=list(get("active_users") or ()),
            balance=Decimal(get("balance", "0")), month=get("month"),
            month_exact=month_exact, month_list_exact=(
                month_exact if list_text == exact_text else _fraction(list_text)),  # one value shared (engine._charge)
            month_posted=Decimal(get("month_posted", "0")),
            charged_since_conversion=Decimal(get("charged_since_conversion", "0")),
            paid_ever=bool(get("paid_ever", False)), terminated_on=_date_or_none(get("terminated_on")),
            expired_on=_date_or_none(get("expired_on")),
            proformas=[proforma_from_json(p) for p in get("proformas") or ()],
            payments=[payment_from_json(p) for p in get("payments") or ()],
            invoices=[invoice_from_json(i) for i in get("invoices") or ()],
            archive=_archive_from_json(get("archive")),
        )


def _archive_json(a: Archive) -> dict[str, Any]:
    return {"proformas": a.proformas, "payments": a.payments, "invoices": a.invoices,
            "invoices_creditable": str(a.invoices_creditable), "payments_unreversed": a.payments_unreversed}


def _archive_from_json(data: dict[str, Any] | None) -> Archive:
    if not data:
        return NO_ARCHIVE
    return Archive(int(data["proformas"]), int(data["payments"]), int(data["invoices"]),
                   Decimal(data["invoices_creditable"]), int(data["payments_unreversed"]))


# One record as JSON and back: the hot state's lists and the archive's rows use the same text.

def invoice_json(i: InvoiceState) -> dict[str, Any]:
    return {"number": i.number, "gross": str(i.gross), "credited": str(i.credited), "modifications": i.modifications}


def invoice_from_json(i: dict[str, Any]) -> InvoiceState:
    return InvoiceState(i["number"], Decimal(i["gross"]), Decimal(i.get("credited", "0")), int(i.get("modifications", 0)))


def payment_json(p: PaymentState) -> dict[str, Any]:
    data = {"event_id": p.event_id, "external_id": p.external_id, "method": p.method,
            "amount": str(p.amount), "refunded": str(p.refunded), "invoice": p.invoice,
            "allocations": [[number, str(amount)] for number, amount in p.allocations]}
    if p.reversed:
        data["reversed"] = str(p.reversed)
    if p.day is not None:
        data["day"] = p.day.isoformat()
    return data


def payment_from_json(p: dict[str, Any]) -> PaymentState:
    return PaymentState(p["event_id"], p.get("external_id"), p["method"], Decimal(p["amount"]),
                        Decimal(p.get("refunded", "0")), p.get("invoice"),
                        [(number, Decimal(amount)) for number, amount in p.get("allocations") or ()],
                        Decimal(p.get("reversed", "0")), _date_or_none(p.get("day")))


def proforma_from_json(p: dict[str, Any]) -> ProformaState:
    # Field by field into a new record (its __init__ would pass each through __setattr__), with
    # the JSON it was read from.
    proforma = object.__new__(ProformaState)
    get = p.get
    proforma.__dict__.update({
        "number": p["number"], "issue_date": date.fromisoformat(p["issue_date"]),
        "due_date": date.fromisoformat(p["due_date"]), "amount": Decimal(p["amount"]),
        "paid": Decimal(get("paid", "0")), "first": bool(get("first", False)), "void": bool(get("void", False)),
        "period_start": _date_or_none(get("period_start")), "period_end": _date_or_none(get("period_end")),
        "lines": StoredLines(lines) if (lines := get("lines")) else (), "_stored": p})
    return proforma


def proforma_json(p: ProformaState) -> dict[str, Any]:
    stored = p.__dict__.get("_stored")
    if stored is not None:
        return stored
    data = {"number": p.number, "issue_date": p.issue_date.isoformat(), "due_date": p.due_date.isoformat(),
            "amount": str(p.amount), "paid": str(p.paid), "first": p.first, "void": p.void,
            "period_start": _date_text(p.period_start), "period_end": _date_text(p.period_end)}
    if p.lines:  # an older state has none (engine._paid_lines then states a lump sum)
        data["lines"] = _lines_json(p.lines)
    return data


class StoredLines(Sequence):
    """A proforma's lines as stored, decoded the first time they are read and always written back
    as they were read (a line never changes once its proforma is issued). Equal to the tuple of
    the same lines."""
    __slots__ = ("_items", "_lines")

    def __init__(self, items: list) -> None:
        self._items, self._lines = items, None

    def _decoded(self) -> tuple[CoveredLine, ...]:
        if self._lines is None:
            self._lines = _lines_from_json(self._items)
        return self._lines

    def __getitem__(self, index):
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._decoded())

    def __eq__(self, other) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, StoredLines)) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._decoded())

    def json(self) -> list:
        return self._items


def _lines_json(lines) -> list:
    if type(lines) is StoredLines:
        return lines.json()
    return [[line.description, _date_text(line.period_start), _date_text(line.period_end),
             str(line.quantity), str(line.gross), None if line.unit_gross is None else str(line.unit_gross)]
            for line in lines]


def _lines_from_json(items: list | None) -> tuple[CoveredLine, ...]:
    return tuple(CoveredLine(text, _date_or_none(start), _date_or_none(end), Decimal(quantity), Decimal(gross),
                             None if unit is None else _fraction(unit))
                 for text, start, end, quantity, gross, unit in items or ())


def _shallow(record):
    clone = object.__new__(type(record))
    clone.__dict__.update(record.__dict__)
    return clone


def _date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_or_none(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _fraction(text: str) -> Fraction:
    """"n/d" or "n" as str(Fraction) writes them; two ints parse much faster than Fraction(text)."""
    numerator, _, denominator = text.partition("/")
    return Fraction(int(numerator), int(denominator)) if denominator else Fraction(int(numerator))
