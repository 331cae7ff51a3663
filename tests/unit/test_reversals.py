"""A payment whose money went back (CONTRACT §5a), in the pure engine, every forint written out.

The account of test_mutants_engine: 2 seats on the gross 9,990 HUF plan, conversion on 16 March;
the first proforma asks R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312, due 24 March (§4)."""
from __future__ import annotations

from decimal import Decimal as D

from tests.unit.test_mutants_engine import Account, amounts, changes, day


def paid_account(amount="10312"):
    account = Account()
    account.run(day(3, 17))
    pay = account.event("payment.received", day(3, 18), amount=amount, currency="HUF", method="bank_transfer",
                        reference="proforma-1", external_id="bank-1")
    account.run(day(3, 18))
    return account, pay


def reversal(account, on, payment, amount, source="bank_return"):
    return account.event("payment.reversed", on, payment=payment.id, amount=amount, currency="HUF",
                         source=source, reason="AC04", reference="ret-1")


def test_a_returned_payment_undoes_ledger_allocation_state_and_invoice():
    account, pay = paid_account()
    assert account.state.status == "active" and account.state.proformas[0].paid == D(10312)
    ret = reversal(account, day(3, 19), pay, "10312")
    outcome = account.run(day(3, 19))
    # the balance after 16 … 18 March: 10,312 − R(2 × 9,990 × 3/31) = 10,312 − 1,934 = 8,378; the
    # return takes the 10,312 back, the 19th's charge is R(2 × 9,990 × 4/31) − 1,934 = 2,578 − 1,934 = 644
    assert amounts(outcome) == [(day(3, 19), "payment_reversal", D(-10312)), (day(3, 19), "charge", D(-644))]
    assert account.state.balance == 10312 - 2578 - 10312
    assert [(a.payment_event_id, a.proforma_number, a.amount) for a in outcome.allocations] == [
        (pay.id, "proforma-1", D(-10312))]
    assert account.state.proformas[0].paid == 0
    # no payment is left: no contract was formed (§1), the account waits for its first payment again
    assert changes(outcome) == [(day(3, 19), "active", "awaiting_payment")]
    [note] = outcome.documents
    assert (note.kind, note.gross, note.references, note.modification_index, note.event_id) == (
        "credit_note", D(-10312), ("invoice-1",), 1, ret.id)
    assert account.state.invoices[0].credited == D(10312)
    # the 20th's proforma asks for April, the first one being open again:
    # R(2 × 9,990 × 12/31 + 19,980) − (−2,578) − 10,312 = 27,714 + 2,578 − 10,312 = 19,980
    outcome = account.run(day(3, 20))
    assert [d.gross for d in outcome.documents if d.kind == "proforma"] == [D(19980)]


def test_paying_again_after_a_return_is_invoiced_in_seat_days():
    account, pay = paid_account()
    reversal(account, day(3, 19), pay, "10312")
    account.run(day(3, 19))
    account.event("payment.received", day(3, 19), amount="10312", currency="HUF", method="bank_transfer",
                  reference="proforma-1", external_id="bank-2")
    outcome = account.run(day(3, 20))
    invoice = next(d for d in outcome.documents if d.kind == "invoice")
    # the re-opened proforma kept its lines: 2 seats × 16 days of March
    assert [(l.quantity, l.unit, l.gross) for l in invoice.lines] == [(D(32), "seat-day", D(10312))]
    assert account.state.status == "active"


def test_a_partial_return_takes_the_advance_first():
    account, pay = paid_account("15312")   # 10,312 for the proforma, 5,000 an advance
    reversal(account, day(3, 19), pay, "5000")
    outcome = account.run(day(3, 19))
    assert amounts(outcome, "payment_reversal") == [(day(3, 19), "payment_reversal", D(-5000))]
    assert outcome.allocations == () and account.state.proformas[0].paid == D(10312)
    assert account.state.status == "active" and changes(outcome) == []
    assert [(d.kind, d.gross, d.references) for d in outcome.documents] == [("credit_note", D(-5000), ("invoice-1",))]
    # the rest of it comes out of the proforma it paid
    reversal(account, day(3, 21), pay, "99999")
    outcome = account.run(day(3, 21))
    assert amounts(outcome, "payment_reversal") == [(day(3, 21), "payment_reversal", D(-10312))]
    assert [a.amount for a in outcome.allocations] == [D(-10312)]
    assert [(d.kind, d.gross) for d in outcome.documents if d.kind == "credit_note"] == [("credit_note", D(-10312))]
    assert account.state.status == "awaiting_payment"


def test_an_unknown_or_already_reversed_payment_is_rejected_and_changes_nothing():
    account, pay = paid_account()
    reversal(account, day(3, 19), pay, "10312")
    account.run(day(3, 19))
    again = reversal(account, day(3, 20), pay, "10312")
    outcome = account.run(day(3, 20))
    assert [(r.event_id, r.reason) for r in outcome.rejections] == [(again.id, f"payment {pay.id} is already reversed")]
    assert amounts(outcome, "payment_reversal") == []
    stranger = account.event("payment.reversed", day(3, 21), payment="nope", amount="1", currency="HUF", source="x")
    outcome = account.run(day(3, 21))
    assert [r.event_id for r in outcome.rejections] == [stranger.id]


def test_a_return_processed_late_is_posted_on_the_first_day_run():
    account, pay = paid_account()
    account.run(day(3, 22))
    reversal(account, day(3, 19), pay, "10312")   # booked on the 19th, imported on the 23rd
    outcome = account.run(day(3, 23))
    assert amounts(outcome, "payment_reversal") == [(day(3, 23), "payment_reversal", D(-10312))]
    assert changes(outcome) == [(day(3, 23), "active", "awaiting_payment")]


def test_a_refund_on_termination_never_pays_back_reversed_money():
    account, pay = paid_account("15312")
    reversal(account, day(3, 19), pay, "5000")
    account.event("account.terminated", day(3, 20), by="customer", reason="")
    outcome = account.run(day(3, 20))
    # balance 15,312 − 5,000 − R(2 × 9,990 × 5/31) = 10,312 − 3,223 = 7,089, all of it from the one payment
    [refund] = outcome.refunds
    assert refund.amount == D(7089) and [(p.payment_event_id, p.amount) for p in refund.parts] == [(pay.id, D(7089))]
    assert account.state.payments[0].held == D(15312 - 5000 - 7089)
