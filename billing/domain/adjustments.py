"""Finance's adjustments of an account, as events the engine applies (pure).

A goodwill credit (`credit.granted`) and a correction of an issued invoice (`invoice.corrected`)
are not side writes: each is stored in the account's event log and applied by the engine like any
other event, under the account's lock (billing/ops/adjustments.py), so a replay of the log gives
the same balance, the same credit notes and the same modification indexes. The CRM cannot post
them (schemas/api.py knows only its own event types); they never enter the cycle's queue, because
the request that stores one applies it in the same transaction.

Both are finance actions taken after the cycle processed their day, so the engine applies them
after that day's charges and proforma (engine._process_day), as the live request did.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billing.domain.credit_notes import credit_latest_invoices
from billing.domain.records import DocumentDraft, Event, Posting, Rejection
from billing.domain.state import AccountState, InvoiceState, creditable_sum, require_history

CREDIT_GRANTED = "credit.granted"
INVOICE_CORRECTED = "invoice.corrected"
ADJUSTMENTS = frozenset({CREDIT_GRANTED, INVOICE_CORRECTED})
CLOSED = ("terminated", "expired")


def creditable(state: AccountState) -> Decimal:
    """What the account's invoices still hold: gross invoiced less what credit notes took (§6),
    the archived ones included (billing/domain/compaction.py)."""
    return creditable_sum(state.invoices) + state.archive.invoices_creditable


def invoice_of(state: AccountState, number: str) -> InvoiceState | None:
    return next((i for i in state.invoices if i.number == number), None)


def apply_adjustment(run: Any, day: date, event: Event) -> None:
    """Called by the engine (`run` is its billing.domain.engine._Run) for an adjustment event."""
    if event.type == CREDIT_GRANTED:
        _grant_credit(run, day, event)
    else:
        _correct_invoice(run, day, event)


def _grant_credit(run: Any, day: date, event: Event) -> None:
    """Credit the prepaid balance and document it: one credit note per invoice it reduces, the
    latest invoices first (as the termination refund does), each the next modification of its
    invoice. Ledger: Dr revenue, Cr customer; the credit notes' VAT goes back from vat_payable
    to revenue when they are issued (billing/cycle/write.py _book_vat)."""
    st = run.state
    amount = Decimal(event.data["amount"])
    reason = event.data["reason"]
    if st.status in CLOSED:
        # A closed account's balance was settled (refunded or reversed); a credit would be a payout.
        run.rejections.append(Rejection(event.id, day, f"account is {st.status}"))
        return
    if not 0 < amount <= creditable(st):
        run.rejections.append(Rejection(event.id, day, f"{amount} is more than the invoices still hold "
                                                       f"({creditable(st)})"))
        return
    notes = credit_latest_invoices(run, st, day, amount, f"Goodwill credit: {reason}", event.id, details={
        "credit": event.data["amount"], "reason": reason, "rule": "latest invoices first, each at most gross − credited"})
    run.post(day, "credit", amount, "revenue", event_id=event.id, document_number=notes[0],
             details={"reason": reason, "credit_notes": notes})


def _correct_invoice(run: Any, day: date, event: Event) -> None:
    """A correction of an invoice's buyer data: no amount changes, so the ledger gets a memo entry
    without legs (the customer sees it beside the money); the invoice's modification chain gets
    its next index, which a later credit note of that invoice continues."""
    st = run.state
    invoice = invoice_of(st, event.data["invoice"])
    if invoice is None:
        require_history(st, f"the correction of {event.data['invoice']}")
        run.rejections.append(Rejection(event.id, day, f"{event.data['invoice']} is not an invoice of this account"))
        return
    invoice.modifications += 1
    number = run.ctx.allocate_number("correction", day)
    run.documents.append(DocumentDraft(
        number=number, kind="correction", account_id=run.profile.account_id,  # type: ignore[arg-type]
        issue_date=day, due_date=day, fulfilment_date=day, currency=run.currency, gross=Decimal(0), lines=(),
        references=(invoice.number,), modification_index=invoice.modifications, event_id=event.id,
        details={"fields": list(event.data["fields"]), "reason": event.data["reason"]}))
    run.postings.append(Posting(run.profile.account_id, day, "correction", Decimal(0), run.currency, (),
                                details={"corrects": invoice.number, "fields": list(event.data["fields"]),
                                         "reason": event.data["reason"], "modification_index": invoice.modifications},
                                event_id=event.id, document_number=number))
