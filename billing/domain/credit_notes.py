"""Credit notes reduce the latest invoices first (CONTRACT §5), each by at most what it still holds
(gross − credited), one note per invoice, each the next modification of its invoice's chain. Used
by the termination refund and by finance's goodwill credit alike."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billing.domain.records import DocumentDraft, DraftLine
from billing.domain.state import AccountState


def credit_latest_invoices(run: Any, state: AccountState, day: date, amount: Decimal, description: str,
                           event_id: str, details: dict[str, Any] | None = None) -> list[str]:
    """Append the credit notes of `amount` to `run.documents`; return their numbers."""
    notes: list[str] = []
    remaining = amount
    for invoice in reversed(state.invoices):
        share = min(remaining, invoice.gross - invoice.credited)
        if share <= 0:
            continue
        invoice.credited += share
        invoice.modifications += 1
        remaining -= share
        number = run.ctx.allocate_number("credit_note", day)
        notes.append(number)
        run.documents.append(DocumentDraft(
            number=number, kind="credit_note", account_id=run.profile.account_id, issue_date=day,
            due_date=day, fulfilment_date=day, currency=run.currency, gross=-share,
            lines=(DraftLine(description, Decimal(-1), "piece", -share),),
            references=(invoice.number,), modification_index=invoice.modifications, event_id=event_id,
            **({"details": {**details, "share": str(share)}} if details is not None else {})))
        if remaining == 0:
            break
    return notes
