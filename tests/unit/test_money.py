"""The contract's rounding R: half-up on the magnitude, on exact values, in one place."""
from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import round_money, to_huf


@pytest.mark.parametrize("amount, rate, forints", [
    (D("12.345"), D("393.5"), D("4858")),   # 4,857.7575
    (D("1.01"), D("0.5"), D("1")),          # 0.505: half up
    (D("-1.01"), D("0.5"), D("-1")),        # −0.505: half up on the magnitude
    (D("-0.01"), D("50"), D("-1")),         # −0.5
    (D("0.01"), D("49.99"), D("0")),        # 0.4999
    (D("9990"), D("1"), D("9990")),         # a HUF document at rate 1
])
def test_a_document_amount_in_forints(amount, rate, forints):
    assert to_huf(amount, rate) == forints


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False),
       st.decimals(min_value=D("0.0001"), max_value=10**4, places=4, allow_nan=False))
def test_the_decimal_conversion_is_the_exact_rational_rounding(amount, rate):
    assert to_huf(amount, rate) == round_money(Fraction(amount) * Fraction(rate), "HUF")
