from decimal import Decimal

import pytest

from billing.payments.errors import StripeAmountError
from billing.payments.stripe_amounts import from_stripe_amount, to_stripe_amount


@pytest.mark.parametrize("amount, currency, expected", [
    (Decimal("12345"), "HUF", 1234500),   # HUF is two-decimal in Stripe's API: 12345 * 100
    (Decimal("12345"), "huf", 1234500),
    (Decimal("12.34"), "EUR", 1234),      # 12.34 * 100
    (Decimal("0.01"), "RON", 1),
    (Decimal("500"), "JPY", 500),         # zero-decimal in Stripe: no scaling
])
def test_to_stripe_amount(amount, currency, expected):
    assert to_stripe_amount(amount, currency) == expected


@pytest.mark.parametrize("amount, currency", [
    (Decimal("12345.5"), "HUF"),   # forints are whole in our ledger
    (Decimal("1.234"), "EUR"),
    (Decimal("0"), "EUR"),
    (Decimal("-5"), "HUF"),
    (Decimal("NaN"), "EUR"),
    (12.5, "EUR"),                 # never a float
])
def test_to_stripe_amount_refuses(amount, currency):
    with pytest.raises(StripeAmountError):
        to_stripe_amount(amount, currency)


def test_from_stripe_amount():
    assert from_stripe_amount(1234500, "huf") == Decimal("12345")      # 1234500 / 100
    assert str(from_stripe_amount(1234500, "huf")) == "12345"
    assert str(from_stripe_amount(1234, "eur")) == "12.34"
    assert str(from_stripe_amount(1200, "eur")) == "12.00"
    assert from_stripe_amount(500, "jpy") == Decimal("500")


def test_from_stripe_amount_refuses_fractional_forints():
    with pytest.raises(StripeAmountError):
        from_stripe_amount(1234550, "huf")   # 12345.50 Ft cannot be booked
    with pytest.raises(StripeAmountError):
        from_stripe_amount("1234", "eur")
