"""A payment whose money went back (CONTRACT §5a), as an event the engine applies (pure).

A bank return or reversal of a credit, a refund made in Stripe's dashboard, a dispute's withdrawn
funds: each is stored as a `payment.reversed` event naming the payment it undoes
(billing/payments/reversals.py), and the cycle applies it on its booking day like any other event,
so a replay of the log gives the same ledger. Undoing a payment means:

- the ledger: the money leaves the clearing account it came in by (Dr customer, Cr clearing);
- its allocations: the proformas it paid ask for that money again, the latest share first (what
  was never allocated, an advance, goes first, since it paid no proforma);
- the state: decided again by the day's lateness rules; an account none of whose payments is left
  never formed a contract (§1), so it is awaiting its first payment again;
- the invoice the payment produced is reduced by a credit note (NAV MODIFY) for the reversed part.

It applies to a closed account too: the money left the bank whatever the account's state.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billing.domain.credit_notes import credit_invoice, credit_latest_invoices
from billing.domain.records import Allocation, Event, Rejection
from billing.domain.state import AccountState, PaymentState, require_history

PAYMENT_REVERSED = "payment.reversed"
_PAYING = ("active", "past_due", "suspended")


def payment_of(state: AccountState, event_id: str) -> PaymentState | None:
    for payment in reversed(state.payments):  # the payment wanted is nearly always a recent one
        if payment.event_id == event_id:
            return payment
    return None


def reverse_payment(run: Any, day: date, event: Event) -> None:
    """Called by the engine (`run` is its billing.domain.engine._Run)."""
    st = run.state
    payment = payment_of(st, event.data["payment"])
    if payment is None:
        require_history(st, f"the return of payment {event.data['payment']}")
        run.rejections.append(Rejection(event.id, day, f"no payment {event.data['payment']} on this account"))
        return
    amount = min(Decimal(event.data["amount"]), payment.unreversed)
    if amount <= 0:
        run.rejections.append(Rejection(event.id, day, f"payment {payment.event_id} is already reversed"))
        return
    payment.reversed += amount
    run.post(day, "payment_reversal", -amount, f"clearing:{payment.method}", event_id=event.id,
             details={"payment": payment.event_id, "source": event.data.get("source"),
                      "reason": event.data.get("reason"), "reference": event.data.get("reference"),
                      "external_id": payment.external_id, "method": payment.method})
    _undo_allocations(run, st, day, payment, amount)
    _credit_its_invoice(run, st, day, payment, amount, event)
    if not any(p.unreversed > 0 for p in st.payments) and not st.archive.payments_unreversed:
        st.paid_ever = False
        if st.status in _PAYING:
            run.set_status(day, "awaiting_payment")


def _undo_allocations(run: Any, st: AccountState, day: date, payment: PaymentState, amount: Decimal) -> None:
    allocated = sum((share for _, share in payment.allocations), Decimal(0))
    # What the earlier reversals took beyond the advance came out of the allocations already.
    advance_left = max(Decimal(0), payment.amount - allocated - (payment.reversed - amount))
    left = amount - min(amount, advance_left)
    proformas = {p.number: p for p in st.proformas}
    for index in range(len(payment.allocations) - 1, -1, -1):
        if left <= 0:
            break
        number, share = payment.allocations[index]
        undo = min(left, share)
        if undo <= 0:
            continue
        payment.allocations[index] = (number, share - undo)
        left -= undo
        proforma = proformas.get(number)
        if proforma is None:
            require_history(st, f"the return of a payment of {number}")
        if proforma is not None:
            proforma.paid -= undo
        run.allocations.append(Allocation(payment.event_id, number, -undo, day))


def _credit_its_invoice(run: Any, st: AccountState, day: date, payment: PaymentState, amount: Decimal,
                        event: Event) -> None:
    description = f"Payment returned ({event.data.get('source') or 'reversal'}): {day.isoformat()}"
    details = {"payment": payment.event_id, "source": event.data.get("source"),
               "reason": event.data.get("reason")}
    invoice = next((i for i in st.invoices if i.number == payment.invoice), None) if payment.invoice else None
    if invoice is not None:
        credit_invoice(run, invoice, day, amount, description, event.id, details)
    elif payment.invoice is None:
        # A state stored before payments named their invoice: the latest invoices, as a refund does.
        credit_latest_invoices(run, st, day, amount, description, event.id, details)
