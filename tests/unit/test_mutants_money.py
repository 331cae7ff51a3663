"""The contract's arithmetic, number by number (CONTRACT §1, §2, §4, §5): R, the currency precisions,
the daily charge, month spans, the projection of a proforma and the termination refund.

Written to kill the mutants `./dev mutate` found alive in billing/money.py and proration/; every
expected amount carries its formula."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from billing.money import (approximate, fmt, has_currency_precision, minor_units, parse_amount,
                           round_money, round_unit_price)
from proration.days import (cumulative_entry, daily_charge, days_in_month, month_end, month_key,
                            month_spans, month_start, next_month_end, span_charge, termination_refund)


# ---- §1: currency precision and R, half-up on the magnitude ----------------------------------

@pytest.mark.parametrize("currency, digits", [
    ("HUF", 0), ("JPY", 0), ("EUR", 2), ("RON", 2), ("USD", 2),
    ("XYZ", 2),  # a currency not in the table: the common ISO 4217 case, 2 minor units
])
def test_minor_units(currency, digits):
    assert minor_units(currency) == digits


@pytest.mark.parametrize("value, currency, text", [
    (F(2 * 9990 * 16, 31), "HUF", "10312"),   # R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312 (§4 example)
    (F(5, 2), "HUF", "3"),                     # 2.5 → 3: half up
    (F(-5, 2), "HUF", "-3"),                   # −2.5 → −3: half up on the magnitude
    (F(7, 3), "HUF", "2"),                     # 2.33 → 2
    (F(-7, 3), "HUF", "-2"),                   # −2.33 → −2
    (F(1, 3), "HUF", "0"),                     # 0.33 → 0
    (F(0), "HUF", "0"),
    (F(1, 200), "EUR", "0.01"),                # 0.005 → 0.01
    (F(-1, 200), "EUR", "-0.01"),              # −0.005 → −0.01
    (F(1, 300), "EUR", "0.00"),                # 0.0033 → 0.00
    (F(9990, 31), "EUR", "322.26"),            # 322.2580… → 322.26
    (F(1234567, 1000), "RON", "1234.57"),      # 1,234.567 → 1,234.57
    (F(10), "EUR", "10.00"),                   # always in the currency's precision
])
def test_r_of_an_exact_amount(value, currency, text):
    rounded = round_money(value, currency)
    assert str(rounded) == text


@pytest.mark.parametrize("value, currency, text", [
    (D("2.5"), "HUF", "3"),        # half up, not the banker's 2
    (D("-2.5"), "HUF", "-3"),
    (D("0.125"), "EUR", "0.13"),   # half up, not 0.12
    (D("12345.00"), "HUF", "12345"),
    (7, "EUR", "7.00"),
])
def test_r_of_a_decimal_or_an_integer(value, currency, text):
    assert str(round_money(value, currency)) == text


def test_a_document_unit_price_has_two_more_digits():
    # net unit price of a gross 9,990 HUF seat-month: 9,990 / 1.27 = 7,866.1417… → 7,866.14 (0 + 2 digits)
    assert str(round_unit_price(F(9990) / F(127, 100), "HUF")) == "7866.14"
    # EUR: 2 + 2 = 4 digits; 1/3 → 0.3333, 2/3 → 0.6667 (half up)
    assert str(round_unit_price(F(1, 3), "EUR")) == "0.3333"
    assert str(round_unit_price(D("0.66665"), "EUR")) == "0.6667"


def test_an_approximation_shown_to_a_person():
    assert str(approximate(F(1, 3))) == "0.333333"   # six digits unless told
    assert str(approximate(F(2, 3), 2)) == "0.67"


@pytest.mark.parametrize("amount, currency, text", [
    (D("12345"), "HUF", "12345"), (D("12345"), "EUR", "12345.00"), (D("-3.5"), "RON", "-3.50"),
])
def test_the_json_face_of_an_amount(amount, currency, text):
    assert fmt(amount, currency) == text


@pytest.mark.parametrize("amount, currency, fits", [
    (D("12345"), "HUF", True), (D("12345.00"), "HUF", True), (D("0.5"), "HUF", False),
    (D("1.10"), "EUR", True), (D("0.001"), "EUR", False), (D("-0.01"), "RON", True),
])
def test_an_amount_in_the_currency_precision(amount, currency, fits):
    assert has_currency_precision(amount, currency) is fits


def test_parse_amount_reads_decimal_strings_and_says_what_is_wrong():
    assert parse_amount("12345.00") == D("12345.00")
    with pytest.raises(ValueError, match=r"not a decimal number: '12,5'"):
        parse_amount("12,5")
    with pytest.raises(ValueError, match=r"not a finite number: 'Infinity'"):
        parse_amount("Infinity")
    with pytest.raises(ValueError, match=r"not a finite number: 'NaN'"):
        parse_amount("NaN")


# ---- calendar months (§2, §4) ------------------------------------------------------------------

def test_calendar_months():
    assert [days_in_month(date(2026, m, 10)) for m in (1, 2, 3, 4)] == [31, 28, 31, 30]
    assert days_in_month(date(2028, 2, 1)) == 29
    assert month_start(date(2026, 3, 16)) == date(2026, 3, 1)
    assert month_end(date(2026, 2, 3)) == date(2026, 2, 28)
    assert month_key(date(2026, 3, 16)) == "2026-03"
    # the proforma of the 20th covers the next month too
    assert next_month_end(date(2026, 3, 20)) == date(2026, 4, 30)
    assert next_month_end(date(2026, 1, 31)) == date(2026, 2, 28)
    assert next_month_end(date(2026, 12, 20)) == date(2027, 1, 31)


def test_month_spans_cut_a_period_at_month_ends():
    assert month_spans(date(2026, 3, 20), date(2026, 4, 30)) == [
        (date(2026, 3, 20), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 4, 30))]
    assert month_spans(date(2026, 3, 31), date(2026, 4, 1)) == [
        (date(2026, 3, 31), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 4, 1))]
    assert month_spans(date(2026, 3, 16), date(2026, 3, 16)) == [(date(2026, 3, 16), date(2026, 3, 16))]
    assert month_spans(date(2026, 3, 17), date(2026, 3, 16)) == []


# ---- §2: the exact charge of a day, cumulative rounding -----------------------------------------

def test_the_exact_charge_of_a_day():
    # seats × monthly price × (1 − discount) / days in month: 2 × 9,990 × 0.85 / 31 = 16,983/31
    assert daily_charge(2, F(9990), F(15, 100), date(2026, 3, 16)) == F(16983, 31)
    # February: 3 × 9,990 / 28 = 29,970/28
    assert daily_charge(3, F(9990), F(0), date(2026, 2, 5)) == F(29970, 28)


def test_a_span_is_priced_with_each_months_own_length():
    # §4 example: R(2 × 9,990 × 16/31) = 10,312
    assert round_money(span_charge(2, F(9990), F(0), date(2026, 3, 16), date(2026, 3, 31)), "HUF") == 10312
    # 20 March … 30 April: 2 × 9,990 × 12/31 + 2 × 9,990 × 30/30 = 7,734.19 + 19,980 = 27,714.19
    exact = span_charge(2, F(9990), F(0), date(2026, 3, 20), date(2026, 4, 30))
    assert exact == F(2 * 9990 * 12, 31) + 2 * 9990
    # with 15 %: × 0.85
    assert span_charge(2, F(9990), F(15, 100), date(2026, 3, 20), date(2026, 4, 30)) == exact * F(85, 100)


def test_cumulative_entry_posts_the_rounded_month_to_date_less_what_was_posted():
    # day 1: R(2 × 9,990 / 31) = R(644.52) = 645; day 2: R(1,289.03) − 645 = 644
    assert cumulative_entry(F(2 * 9990, 31), D(0), "HUF") == 645
    assert cumulative_entry(F(2 * 9990 * 2, 31), D(645), "HUF") == 644


# ---- §5: termination refund and the Romanian clawback --------------------------------------------

def _refund(balance, list_exact, discounted_exact, clawback_applies, currency):
    """(kept as clawback, refunded) of termination_refund."""
    result = termination_refund(balance, list_exact, discounted_exact, clawback_applies, currency)
    return result.clawback, result.refund


def test_the_refund_without_clawback_is_the_balance():
    assert _refund(D("7680"), F(0), F(0), False, "HUF") == (D(0), D("7680"))
    assert _refund(D("1"), F(0), F(0), False, "HUF") == (D(0), D("1"))   # one forint is refunded
    assert _refund(D("0.50"), F(0), F(0), False, "EUR") == (D(0), D("0.50"))
    # the Hungarian terms keep nothing even where the days were discounted
    refund = termination_refund(D("10000"), F(3 * 9990 * 16, 31), F(3 * 9990 * 16 * 85, 3100), False, "HUF")
    assert (refund.clawback, refund.refund) == (0, 10000)


def test_no_refund_and_no_clawback_without_a_positive_balance():
    assert _refund(D(0), F(3 * 9990 * 16, 31), F(0), True, "HUF") == (D(0), D(0))
    assert _refund(D(-500), F(3 * 9990 * 16, 31), F(0), True, "HUF") == (D(0), D(0))


def test_the_clawback_reprices_the_used_days_at_list_price():
    # 3 seats, 16 days of March at 9,990, 15 % discount:
    # L = 3 × 9,990 × 16/31 = 15,468.39 → 15,468; D = L × 0.85 = 13,148.13 → 13,148
    # refund = max(0, 10,000 − (15,468 − 13,148)) = 10,000 − 2,320 = 7,680
    list_exact = F(3 * 9990 * 16, 31)
    refund = termination_refund(D(10000), list_exact, list_exact * F(85, 100), True, "HUF")
    assert (refund.clawback, refund.refund) == (D(2320), D(7680))
    # EUR: L = 100.005 → 100.01, D = 90.004 → 90.00: clawback 10.01 of a 50.00 balance
    refund = termination_refund(D("50.00"), F(100005, 1000), F(90004, 1000), True, "EUR")
    assert (str(refund.clawback), str(refund.refund)) == ("10.01", "39.99")


def test_the_clawback_never_exceeds_the_balance_and_is_never_negative():
    list_exact = F(3 * 9990 * 16, 31)
    # clawback 2,320 > balance 1,000: all of it is kept, nothing refunded
    assert _refund(D(1000), list_exact, list_exact * F(85, 100), True, "HUF") == (D(1000), D(0))
    # no discount: L = D, nothing to claw back
    assert _refund(D(1000), list_exact, list_exact, True, "HUF") == (D(0), D(1000))
    # a discounted charge above the list price (cannot come from a discount) claws back nothing
    assert _refund(D(1000), F(100), F(300), True, "HUF") == (D(0), D(1000))
