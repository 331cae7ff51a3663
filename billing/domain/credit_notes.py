"""Credit notes reduce invoices: the latest first (CONTRACT §5), each by at most what it still holds
(gross − credited), one note per invoice, each the next modification of its invoice's chain. Used
by the termination refund and finance's goodwill credit (latest first), and by a payment's return
or outside refund, which reduces the invoice that payment produced (billing/domain/reversals.py)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billing.domain.records import DocumentDraft, DraftLine
from billing.domain.state import AccountState, InvoiceState, require_history


def credit_invoice(run: Any, invoice: InvoiceState, day: date, amount: Decimal, description: str,
                   event_id: str, details: dict[str, Any] | None = None) -> tuple[str, Decimal] | None:
    """One credit note of at most `amount` against `invoice`, appended to `run.documents`:
    (its number, its share), or None when the invoice holds nothing more."""
    share = min(amount, invoice.creditable)
    if share <= 0:
        return None
    invoice.credited += share
    invoice.modifications += 1
    number = run.ctx.allocate_number("credit_note", day)
    run.documents.append(DocumentDraft(
        number=number, kind="credit_note", account_id=run.profile.account_id, issue_date=day,
        due_date=day, fulfilment_date=day, currency=run.currency, gross=-share,
        lines=(DraftLine(description, Decimal(-1), "piece", -share),),
        references=(invoice.number,), modification_index=invoice.modifications, event_id=event_id,
        **({"details": {**details, "share": str(share)}} if details is not None else {})))
    return number, share


def credit_latest_invoices(run: Any, state: AccountState, day: date, amount: Decimal, description: str,
                           event_id: str, details: dict[str, Any] | None = None) -> list[str]:
    """Append the credit notes of `amount` to `run.documents`; return their numbers."""
    notes: list[str] = []
    remaining = amount
    for invoice in reversed(state.invoices):
        noted = credit_invoice(run, invoice, day, remaining, description, event_id, details)
        if noted is None:
            continue
        notes.append(noted[0])
        remaining -= noted[1]
        if remaining == 0:
            break
    if remaining > 0:
        require_history(state, "a credit beyond what the hot invoices hold")
    return notes
