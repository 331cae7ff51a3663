"""Finance's adjustments met by the termination refund (CONTRACT §5, §6): a goodwill credit note
and a correction take their place in an invoice's modification chain, and the refund's credit notes
only reduce what each invoice still holds. Same account as test_mutants_engine.py: 2 seats at
9,990 HUF, conversion on 16 March 2026."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.unit.test_mutants_engine import C, Account, day

adjustments = pytest.importorskip("billing.domain.adjustments")


def _paid_twice() -> Account:
    account = Account()
    account.event("payment.received", C, amount="10312")          # invoice-1
    account.event("payment.received", day(3, 18), amount="5000")  # invoice-2
    return account


def _credit_notes(outcome):
    return [(d.number, d.gross, d.references, d.modification_index)
            for d in outcome.documents if d.kind == "credit_note"]


def test_the_refund_skips_an_invoice_a_goodwill_credit_emptied():
    account = _paid_twice()
    account.event(adjustments.CREDIT_GRANTED, day(3, 20), amount="5000", reason="outage")
    account.event("account.terminated", day(4, 2), by="customer")
    outcome = account.run(day(4, 2))
    # the credit takes invoice-2 whole (latest first). T = 2 April: charges R(2 × 9,990 × 16/31) = 10,312
    # + R(2 × 9,990 × 2/30) = 1,332; refund = 10,312 + 5,000 + 5,000 − 11,644 = 8,668, all on invoice-1
    assert _credit_notes(outcome) == [("credit_note-1", D(-5000), ("invoice-2",), 1),
                                      ("credit_note-2", D(-8668), ("invoice-1",), 1)]
    assert outcome.refunds[0].credit_notes == ("credit_note-2",)
    assert [(i.credited, i.modifications) for i in account.state.invoices] == [(D(8668), 1), (D(5000), 1)]


def test_the_refund_credits_what_is_left_of_an_invoice_as_its_next_modification():
    account = _paid_twice()
    account.event(adjustments.CREDIT_GRANTED, day(3, 20), amount="1000", reason="outage")
    account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 25))
    # refund = 15,312 + 1,000 − R(2 × 9,990 × 10/31) = 16,312 − 6,445 = 9,867:
    # invoice-2 holds 5,000 − 1,000 = 4,000 (its 2nd modification), invoice-1 the other 5,867
    assert _credit_notes(outcome) == [("credit_note-1", D(-1000), ("invoice-2",), 1),
                                      ("credit_note-2", D(-4000), ("invoice-2",), 2),
                                      ("credit_note-3", D(-5867), ("invoice-1",), 1)]
    assert [(i.credited, i.modifications) for i in account.state.invoices] == [(D(5867), 1), (D(5000), 2)]


def test_a_correction_of_a_closed_account_continues_the_chain():
    account = _paid_twice()
    account.event("account.terminated", day(3, 25), by="customer")
    account.run(day(3, 25))
    account.event(adjustments.INVOICE_CORRECTED, day(3, 27), invoice="invoice-2", fields=["name"], reason="typo")
    outcome = account.run(day(3, 27))
    # the refund's credit note was invoice-2's 1st modification; the correction is its 2nd
    assert outcome.rejections == ()
    assert [(d.kind, d.references, d.modification_index, d.gross) for d in outcome.documents] == [
        ("correction", ("invoice-2",), 2, D(0))]


def test_a_credit_comes_after_the_days_charge_and_proforma():
    account = _paid_twice()
    account.event(adjustments.CREDIT_GRANTED, day(3, 20), amount="1000", reason="outage")
    outcome = account.run(day(3, 20))
    # finance acts on a day the cycle already processed: the proforma of the 20th asks against the
    # balance before the credit, 27,714 − (15,312 − 2,578) = 14,980, and the credit is booked last
    assert [(d.number, d.gross) for d in outcome.documents if d.issue_date == day(3, 20)] == [
        ("proforma-2", D(14980)), ("credit_note-1", D(-1000))]
    assert [(p.kind, p.amount) for p in outcome.postings if p.day == day(3, 20)] == [
        ("charge", D(-645)), ("credit", D(1000))]


def test_two_adjustments_of_a_day_both_apply():
    account = _paid_twice()
    account.event(adjustments.CREDIT_GRANTED, day(3, 20), amount="1000", reason="outage")
    account.event(adjustments.CREDIT_GRANTED, day(3, 20), amount="500", reason="late answer")
    outcome = account.run(day(3, 20))
    assert [p.amount for p in outcome.postings if p.kind == "credit"] == [D(1000), D(500)]
