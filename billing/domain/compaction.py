"""Settled history leaves the hot state (pure), so a cycle run costs the same in year three as in
month two (issue #19).

The state keeps every proforma, payment and invoice the engine may still act on. Once they are
settled and old, nothing the cycle does every day reads them again; only a few rare events can
reach back to them. So, at the end of a run, the oldest records that are

- a payment booked more than `keep_days` (CycleConfig.archive_after_days, 45) before the run's first day whose invoice is
  issued (an invoice still waiting for its MNB rate keeps its payment hot: billing/cycle/rates.py);
- an invoice no hot payment names (a payment's return credits its own invoice);
- a proforma paid in full or void, due more than `keep_days` before the run's first day,
  that no hot payment paid (a payment's return re-opens the proformas it paid)

move to an archive (the adapter stores them as rows: billing/cycle/archive.py), each list's
oldest records first and only as an unbroken run from the start, so the archive is always the
head of each list. The state keeps a summary of them (state.Archive): their counts and the two
figures the engine still needs of them, what their invoices may still be credited and whether any
payment of them still holds money.

A run whose events may reach the archive is given the whole history first (`needs_history`):
a termination (its refund and credit notes go back through the latest payments and invoices, and
it voids every proforma), the return of an archived payment (or of the last payments holding
money: the account may then expire), a goodwill credit beyond what the hot invoices hold, a
correction of an archived invoice, and any run of an account awaiting its first payment (its
expiry voids every proforma). The engine refuses to guess if one still reaches an archive it
was not given (HistoryNotLoaded). With the history given, the run is exactly what it would have
been without any archive: records are only ever moved, never changed or summed away, so a replay
gives the same documents, ledger and figures.

The reminders and overdue notices look back 31 days from a run's first day (billing/mail/decide.py),
and the age threshold keeps every record they look at hot.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable

from billing.domain.adjustments import CREDIT_GRANTED, INVOICE_CORRECTED
from billing.domain.records import Event
from billing.domain.reversals import PAYMENT_REVERSED
from billing.domain.state import (NO_ARCHIVE, AccountState, Archive, creditable_sum, invoice_from_json, invoice_json,
                                  payment_from_json, payment_json, proforma_from_json, proforma_json)

KINDS = ("proforma", "payment", "invoice")


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    kind: str       # one of KINDS
    ordinal: int    # its place in the account's whole list of that kind, from 0
    key: str        # the proforma's or invoice's number, the payment's event id
    data: dict[str, Any]


def compact(state: AccountState, first_day: date, keep_days: int) -> tuple[AccountState, tuple[ArchivedRecord, ...]]:
    """`state` with its settled head moved out, and the records moved (to be stored). `first_day`
    is the first day the run that produced `state` processed."""
    if state.status == "awaiting_payment":  # it reads its whole history every run (needs_history)
        return state, ()
    cutoff = first_day - timedelta(days=keep_days)
    if _nothing_due(state, cutoff):  # nearly every run of nearly every account: no scan, no copy
        return state, ()
    issued = {invoice.number for invoice in state.invoices}
    payments = _head(state.payments, lambda p: p.day is not None and p.day < cutoff
                     and (p.invoice is None or p.invoice in issued))
    hot_payments = state.payments[payments:]
    named = {p.invoice for p in hot_payments}
    paid_by_hot = {number for p in hot_payments for number, _ in p.allocations}
    invoices = _head(state.invoices, lambda i: i.number not in named)
    proformas = _head(state.proformas, lambda p: (p.void or p.unpaid <= 0) and p.due_date < cutoff
                      and p.number not in paid_by_hot)
    if not (payments or invoices or proformas):
        return state, ()
    archive = state.archive
    moved = (
        [ArchivedRecord("proforma", archive.proformas + n, p.number, proforma_json(p))
         for n, p in enumerate(state.proformas[:proformas])]
        + [ArchivedRecord("payment", archive.payments + n, p.event_id, payment_json(p))
           for n, p in enumerate(state.payments[:payments])]
        + [ArchivedRecord("invoice", archive.invoices + n, i.number, invoice_json(i))
           for n, i in enumerate(state.invoices[:invoices])])
    summary = Archive(
        proformas=archive.proformas + proformas, payments=archive.payments + payments,
        invoices=archive.invoices + invoices,
        invoices_creditable=archive.invoices_creditable + creditable_sum(state.invoices[:invoices]),
        payments_unreversed=archive.payments_unreversed + sum(1 for p in state.payments[:payments] if p.unreversed > 0))
    hot = state.copy()
    hot.proformas, hot.payments, hot.invoices = hot.proformas[proformas:], hot.payments[payments:], hot.invoices[invoices:]
    hot.archive = summary
    return hot, tuple(moved)


def with_history(state: AccountState, records: Iterable[ArchivedRecord]) -> AccountState:
    """The whole state: the archived records back at the head of their lists."""
    by_kind: dict[str, list[ArchivedRecord]] = {kind: [] for kind in KINDS}
    for record in records:
        by_kind[record.kind].append(record)
    for kind, found in by_kind.items():
        found.sort(key=lambda record: record.ordinal)
        expected = getattr(state.archive, f"{kind}s")
        if [record.ordinal for record in found] != list(range(expected)):
            raise ValueError(f"account {state.account_id}: the archive holds {len(found)} {kind}s, "
                             f"its state counts {expected}")
    whole = state.copy()
    whole.proformas = [proforma_from_json(r.data) for r in by_kind["proforma"]] + whole.proformas
    whole.payments = [payment_from_json(r.data) for r in by_kind["payment"]] + whole.payments
    whole.invoices = [invoice_from_json(r.data) for r in by_kind["invoice"]] + whole.invoices
    whole.archive = NO_ARCHIVE
    return whole


def needs_history(state: AccountState, events: Iterable[Event]) -> bool:
    """Whether a run of these events may reach the archive (see the module's docstring)."""
    if not state.archive:
        return False
    if state.status == "awaiting_payment":
        return True
    events = list(events)
    hot_invoices = {invoice.number for invoice in state.invoices}
    hot_creditable = creditable_sum(state.invoices)
    returned = {e.data.get("payment") for e in events if e.type == PAYMENT_REVERSED}
    if returned and not _returns_stay_hot(state, returned):
        return True
    for event in events:
        if event.type == "account.terminated":
            return True
        if event.type == INVOICE_CORRECTED and event.data.get("invoice") not in hot_invoices:
            return True
        if event.type == CREDIT_GRANTED and Decimal(event.data["amount"]) > hot_creditable:
            return True
    return False


def _returns_stay_hot(state: AccountState, returned: set) -> bool:
    """Returns of hot payments that name their invoice need nothing archived: what they undo is
    hot (compact keeps a hot payment's invoice and the proformas it paid), unless every payment is
    then gone, when the account may expire and void every proforma (§1)."""
    hot = {p.event_id: p for p in state.payments}
    if any(payment not in hot or hot[payment].invoice is None for payment in returned):
        return False
    return bool(state.archive.payments_unreversed) or any(
        p.unreversed > 0 for p in state.payments if p.event_id not in returned)


def _nothing_due(state: AccountState, cutoff: date) -> bool:
    """The head of no list can move: the first payment and the first proforma are too recent (or
    there are none), and the first invoice is the first payment's (or there is none)."""
    payments, proformas, invoices = state.payments, state.proformas, state.invoices
    if payments and payments[0].day is not None and payments[0].day < cutoff:
        return False
    if proformas and proformas[0].due_date < cutoff:
        return False
    return not invoices or bool(payments and payments[0].invoice == invoices[0].number)


def _head(records: list, settled) -> int:
    """How many records from the start are settled, up to the first that is not."""
    count = 0
    for record in records:
        if not settled(record):
            break
        count += 1
    return count
