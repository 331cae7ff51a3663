"""What an invoice line says (CONTRACT §4, §6; issue #16) and the Romanian clawback of a late
termination (§5), on the pure engine. The harness and the story are tests/unit/test_mutants_engine.py's:
a gross 9,990 HUF seat-month plan, 2 seats, created 2 March 2026, conversion C = 16 March."""
from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F
from types import SimpleNamespace

import pytest

from billing.domain.engine import ADVANCE_TEXT, _asked_lines
from billing.domain.records import DraftLine
from billing.money import round_money, round_quantity, unit_price_huf
from tests.unit.test_mutants_engine import C, Account, amounts, day


def seat_lines(document):
    return [(l.quantity, l.unit, l.gross, l.period_start, l.period_end, l.unit_gross, l.advance)
            for l in document.lines]


def test_a_payment_beyond_the_proforma_is_its_covered_lines_and_an_advance():
    account = Account()
    account.event("payment.received", day(3, 18), amount="20000")
    outcome = account.run(day(3, 18))
    [proforma, invoice] = outcome.documents
    # the first proforma: 2 seats × 16 days (16 … 31 March) = 32 seat-days at 9,990 / 31 gross each:
    # R(32 × 9,990 / 31) = R(10,312.26) = 10,312
    assert seat_lines(proforma) == [(D(32), "seat-day", D(10312), C, day(3, 31), F(9990, 31), False)]
    # 20,000 = the proforma's covered line (10,312) + 9,688 beyond it: an advance (Áfa tv. 59. §),
    # one lump sum, no period, no seat-days
    assert seat_lines(invoice) == [(D(32), "seat-day", D(10312), C, day(3, 31), F(9990, 31), False),
                                   (D(1), "piece", D(9688), None, None, None, True)]
    assert invoice.lines[1].description == ADVANCE_TEXT
    assert (invoice.period_start, invoice.period_end) == (C, day(3, 31))  # the advance adds no period


def test_partial_payments_state_the_seat_days_they_pay_and_add_up_to_the_line():
    account = Account()
    account.event("payment.received", day(3, 17), amount="5000")
    account.event("payment.received", day(3, 18), amount="5312")
    outcome = account.run(day(3, 18))
    first, second = [d for d in outcome.documents if d.kind == "invoice"]
    # 32 seat-days for 10,312: 5,000 pays 32 × 5,000 / 10,312 = 15.51590… → 15.5159 of them,
    # the rest 32 − 15.5159 = 16.4841 (cumulative along the line, so the parts add up to 32)
    assert [(l.quantity, l.gross, l.period_start) for l in first.lines] == [(D("15.5159"), D(5000), C)]
    assert [(l.quantity, l.gross, l.period_start) for l in second.lines] == [(D("16.4841"), D(5312), C)]
    assert first.lines[0].quantity + second.lines[0].quantity == 32


def test_the_proforma_deduction_pays_the_earliest_seat_days_first():
    account = Account()
    account.event("seat.activated", day(3, 17), user_id="c")
    account.event("payment.received", day(3, 18), amount="10312")
    outcome = account.run(day(3, 20))
    april = outcome.documents[-1]
    # 20 March: 3 seats. Lines: R(3 × 9,990 × 12/31) = R(11,601.29) = 11,601 (36 seat-days), then
    # April R(11,601.29 + 29,970) − 11,601 = 29,970 (90 seat-days). Balance through the 19th:
    # 10,312 − R(9,990 × (2 + 3 × 3)/31) = 10,312 − R(3,544.84) = 10,312 − 3,545 = 6,767.
    # Amount 41,571 − 6,767 = 34,804. The 6,767 prepaid pays the first 6,767 of 20 … 31 March:
    # left 11,601 − 6,767 = 4,834 = 36 × 4,834 / 11,601 = 15.00077… → 15.0008 seat-days
    assert april.gross == 34804
    lines = [(l.quantity, l.gross, l.period_start, l.period_end)
             for l in account.state.proformas[-1].lines]
    assert lines == [(D("15.0008"), D(4834), day(3, 20), day(3, 31)), (D(90), D(29970), day(4, 1), day(4, 30))]
    assert sum(g for _, g, _, _ in lines) == april.gross


@pytest.mark.parametrize("price,first,balance,line,april", [
    # 1 seat at 90: C asks R(90 × 16/31) = R(46.45) = 46, paid; the charges of 16 … 19 March are
    # R(90 × 4/31) = R(11.61) = 12, so 34 is prepaid; but the 20 … 31 March line is
    # R(90 × 12/31) = R(34.84) = 35: one forint of it is still asked, and goes with April (90 + 1)
    (90, 46, 34, 35, 91),
    # at 94: R(48.52) = 49 paid, R(12.13) = 12 charged, 37 prepaid against a line of R(36.39) = 36:
    # the forint the balance holds beyond the line comes off April (94 − 1)
    (94, 49, 37, 36, 93),
])
def test_a_rounding_residual_is_no_line_of_its_own(price, first, balance, line, april):
    account = Account(users=("a",), plans={"std": str(price), "big": "1"})
    account.event("payment.received", C, amount=str(first))
    outcome = account.run(day(3, 20))
    proforma = outcome.documents[-1]
    assert (proforma.lines[0].gross, D(proforma.details["balance"])) == (line, balance)
    # April's line keeps its 30 seat-days (quantity × unit price is then a forint off its
    # amount: rounding, inside NAV's tolerance), and no 0.34-seat-day line of one forint appears
    assert [(l.quantity, l.gross, l.period_start) for l in account.state.proformas[-1].lines] == [
        (D(30), D(april), day(4, 1))]
    assert proforma.gross == april


def test_a_debt_beyond_the_open_proformas_is_a_line_of_days_already_used():
    account = Account()
    account.event("payment.received", C, amount="10312")
    account.run(day(3, 19))
    late = [f"u{n}" for n in range(10)]
    for user in late:   # ten more seats from 16 March, posted after the 19th was charged
        account.event("seat.activated", C, user_id=user)
    account.run(day(3, 20), history=True)
    proforma = account.state.proformas[-1]
    # the correction of 16 … 19 March: R(9,990 × (8 + 40)/31) = R(15,468.39) = 15,468 − 2,578 posted
    # = 12,890; the balance through the 19th: 10,312 − 15,468 = −5,156, and no proforma is open.
    # 20 March, 12 seats: R(12 × 9,990 × 12/31) = R(46,405.16) = 46,405 (144 seat-days), April
    # R(46,405.16 + 119,880) − 46,405 = 119,880 (360 seat-days); 166,285 + 5,156 = 171,441
    assert proforma.amount == 171441
    assert [(l.description, l.quantity, l.gross, l.period_start, l.unit_gross) for l in proforma.lines] == [
        ("Seat licences already used (outstanding balance)", D(1), D(5156), None, None),
        ("Seat licences: 12 seats × 12 days (std)", D(144), D(46405), day(3, 20), F(9990, 31)),
        ("Seat licences: 12 seats × 30 days (std)", D(360), D(119880), day(4, 1), F(333))]
    # a payment of exactly the first line pays that line and nothing of the next
    account.event("payment.received", day(3, 21), amount="5156")
    [invoice] = account.run(day(3, 21)).documents
    assert [(l.quantity, l.unit, l.gross, l.unit_gross) for l in invoice.lines] == [(D(1), "piece", D(5156), None)]
    assert (invoice.period_start, invoice.period_end) == (None, None)
    account.event("payment.received", day(3, 22), amount=str(171441 - 5156))
    [invoice] = account.run(day(3, 22)).documents
    assert [(l.quantity, l.unit, l.gross) for l in invoice.lines] == [
        (D(144), "seat-day", D(46405)), (D(360), "seat-day", D(119880))]
    assert (invoice.period_start, invoice.period_end) == (day(3, 20), day(4, 30))


def test_an_old_state_without_lines_gets_a_lump_sum_line():
    account = Account()
    account.run(C)
    account.state.proformas[0].lines = ()   # as a state stored before lines were kept
    account.event("payment.received", day(3, 17), amount="10312")
    [invoice] = account.run(day(3, 17)).documents
    assert [(l.description, l.quantity, l.unit, l.gross, l.period_start, l.period_end) for l in invoice.lines] == [
        ("Seat licences, per proforma proforma-1", D(1), "piece", D(10312), C, day(3, 31))]


# ---- §5 the Romanian clawback of a late termination ------------------------------------------------

def _ro_prepaid_through_april() -> Account:
    # list 10,000 HUF, 20 % off, 2 seats; trial 1 … 28 February, conversion 1 March: March costs
    # 2 × 8,000 = 16,000, paid on the 1st; April's proforma of 20 March (16,000) paid on the 25th
    account = Account(created=day(2, 1), trial_days=28, terms="ro", discount_percent="20",
                      plans={"std": "10000", "big": "20000"})
    account.event("payment.received", day(3, 1), amount="16000")
    account.event("payment.received", day(3, 25), amount="16000")
    account.run(day(4, 2))
    return account


@pytest.mark.parametrize("until", [day(4, 2), day(4, 3)])   # a re-run of 2 April, or the next day
def test_a_late_termination_in_the_next_month_keeps_the_romanian_clawback(until):
    account = _ro_prepaid_through_april()
    assert account.state.month == "2026-04" and account.state.balance == 32000 - 16000 - 1067
    stop = account.event("account.terminated", day(3, 28), by="customer")
    outcome = account.run(until, history=True)
    posting_day = until
    # the days after T = 28 March are taken back: March R(16,000 × 28/31) = R(14,451.61) = 14,452
    # against 16,000 posted → +1,548; April 1 … 2: R(16,000 × 2/30) = R(1,066.67) = 1,067 → +1,067
    # balance 32,000 − 14,452 = 17,548.
    # Clawback (§5): the used days of MARCH, 1 … 28, re-priced at the list price:
    # L = 2 × 10,000 × 28/31 = 18,064.52 → R(L) = 18,065; D = 2 × 8,000 × 28/31 → R(D) = 14,452;
    # refund = max(0, 17,548 − (18,065 − 14,452)) = 17,548 − 3,613 = 13,935
    assert amounts(outcome) == [(posting_day, "charge_correction", D(1548)),
                                (posting_day, "charge_correction", D(1067)),
                                (posting_day, "clawback", D(-3613)), (posting_day, "refund", D(-13935))]
    clawback = outcome.postings[2]
    assert (F(clawback.details["list_exact"]), F(clawback.details["discounted_exact"])) == (
        F(2 * 10000 * 28, 31), F(2 * 8000 * 28, 31))
    assert round_money(F(2 * 10000 * 28, 31), "HUF") - round_money(F(2 * 8000 * 28, 31), "HUF") == 3613
    assert clawback.event_id == stop.id
    (order,) = outcome.refunds
    assert order.amount == 13935 and order.credit_notes == ("credit_note-1",)
    assert account.state.status == "terminated" and account.state.balance == 0


def test_a_late_termination_processed_on_the_first_of_the_next_month_keeps_it_too():
    account = Account(created=day(2, 1), trial_days=28, terms="ro", discount_percent="20",
                      plans={"std": "10000", "big": "20000"})
    account.event("payment.received", day(3, 1), amount="16000")
    account.run(day(3, 31))                       # March charged whole: 16,000
    account.event("account.terminated", day(3, 28), by="customer")
    outcome = account.run(day(4, 1), history=True)
    # the run of 1 April starts a new month; the clawback is still March's 1 … 28:
    # balance 16,000 − 14,452 = 1,548 < R(L) − R(D) = 3,613: all of it kept, nothing refunded
    assert amounts(outcome) == [(day(4, 1), "charge_correction", D(1548)), (day(4, 1), "clawback", D(-1548))]
    assert outcome.refunds == ()


def test_a_late_hungarian_termination_has_no_clawback():
    account = Account(created=day(2, 1), trial_days=28, terms="hu", discount_percent="20",
                      plans={"std": "10000", "big": "20000"})
    account.event("payment.received", day(3, 1), amount="16000")
    account.event("payment.received", day(3, 25), amount="16000")
    account.run(day(4, 2))
    account.event("account.terminated", day(3, 28), by="customer")
    outcome = account.run(day(4, 3), history=True)
    assert [p.kind for p in outcome.postings] == ["charge_correction", "charge_correction", "refund"]
    assert outcome.refunds[0].amount == 17548   # the whole balance: 32,000 − 14,452


def test_a_late_termination_of_a_conversion_month_counts_from_conversion():
    # the mutants story on Romanian terms, 10 % off: C = 16 March, paid on C; the April proforma
    # of the 20th unpaid; charged through 2 April, then a termination of 28 March arrives
    account = Account(terms="ro", discount_percent="10")
    account.event("payment.received", C, amount="9281")   # R(2 × 9,990 × 0.9 × 16/31) = R(9,281.03)
    account.run(day(4, 2))
    account.event("account.terminated", day(3, 28), by="customer")
    outcome = account.run(day(4, 3), history=True)
    # used days of March: 16 … 28, 13 days × 2 seats (not the trial days 2 … 15):
    # L = 2 × 9,990 × 13/31 = 8,378.71 → 8,379; D = L × 0.9 = 7,540.84 → 7,541: clawback 838;
    # balance 9,281 − 7,541 = 1,740 → refund 1,740 − 838 = 902
    assert [(p.kind, p.amount) for p in outcome.postings if p.kind in ("clawback", "refund")] == [
        ("clawback", D(-838)), ("refund", D(-902))]
    claw = next(p for p in outcome.postings if p.kind == "clawback")
    assert F(claw.details["list_exact"]) == F(2 * 9990 * 13, 31)
    assert F(claw.details["discounted_exact"]) == F(2 * 9990 * 13, 31) * F(9, 10)


# ---- the pieces: quantities, HUF unit prices, the rounding slack -----------------------------------

def test_a_quantity_has_four_decimals_and_a_whole_one_none():
    assert [str(round_quantity(v)) for v in (32, F(31, 2), F(1, 3), F(2, 3), F(-1, 3), 100)] == [
        "32", "15.5", "0.3333", "0.6667", "-0.3333", "100"]


def test_a_unit_price_in_huf_is_the_product_to_ten_decimals():
    assert str(unit_price_huf(D("3.2258"), D("401.57"))) == "1295.3845060000"   # exact
    # 0.123456 × 0.654321 = 0.080779853376 (12 decimals) → 0.0807798534
    assert str(unit_price_huf(D("0.123456"), D("0.654321"))) == "0.0807798534"


def _seat(gross, quantity, unit=F(10)):
    return DraftLine("line", D(quantity), "seat-day", D(gross), unit_gross=unit)


HUF = SimpleNamespace(currency="HUF")


@pytest.mark.parametrize("deduction,expected", [
    (0, [(10, 100), (30, 300)]),
    (2, [(10, 98), (30, 300)]),            # within the slack of whole: the whole quantity
    (3, [(D("9.7"), 97), (30, 300)]),      # beyond it: 10 × 97/100
    (97, [(D("0.3"), 3), (30, 300)]),      # 3 forints left: a part of a line
    (98, [(30, 302)]),                     # 2 left: they go with the next line, which stays whole
    (100, [(30, 300)]),
    (-5, [(1, 5), (10, 100), (30, 300)]),  # a debt beyond the open proformas: its own line first
])
def test_the_deduction_and_the_rounding_slack(deduction, expected):
    asked = _asked_lines(HUF, [_seat(100, 10), _seat(300, 30)], D(deduction))
    assert [(l.quantity, l.gross) for l in asked] == [(D(q), D(g)) for q, g in expected]
    assert sum(l.gross for l in asked) == 400 - deduction


def test_the_last_line_keeps_even_a_forint():
    # nothing after it to take the forint: a part of a line, 10 × 1/100 = 0.1 seat-days
    assert [(l.quantity, l.gross) for l in _asked_lines(HUF, [_seat(100, 10)], D(99))] == [(D("0.1"), D(1))]
    # a line of no money (a price of 0) is no line, and takes no forint
    lines = [_seat(100, 10), DraftLine("free", D(10), "seat-day", D(0), unit_gross=F(0))]
    assert [(l.description, l.quantity, l.gross) for l in _asked_lines(HUF, lines, D(99))] == [
        ("line", D("0.1"), D(1))]
    # the balance lines of a proforma (no unit price) are no seat-days
    lines = [_seat(100, 10), DraftLine("Prepaid balance", D(1), "piece", D(-50))]
    assert [(l.quantity, l.gross) for l in _asked_lines(HUF, lines, D(50))] == [(D(5), D(50))]
