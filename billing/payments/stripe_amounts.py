"""Decimal <-> the integer `amount` Stripe's API speaks, per currency.

Stripe's exponent is not always ISO 4217's: HUF is a "special case" that Stripe keeps as a
two-decimal currency in the API (1 forint = 100) although forints are whole in our ledger
(billing.money.minor_units('HUF') == 0) and Stripe pays them out as zero-decimal. So this module
keeps its own table and never reuses billing.money.minor_units for Stripe amounts.
"""
from __future__ import annotations

from decimal import Decimal

from billing.money import has_currency_precision, quantum
from billing.payments.errors import StripeAmountError

# Stripe's zero-decimal and three-decimal currencies (stripe.com/docs/currencies); all others,
# HUF included, are sent with two decimals.
_STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
_STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


def stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _STRIPE_ZERO_DECIMAL:
        return 0
    if code in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_stripe_amount(amount: Decimal, currency: str) -> int:
    """A positive amount in our currency precision -> Stripe's integer; never rounds.

    12345 HUF -> 1234500; 12.34 EUR -> 1234. An amount finer than our precision (12345.5 HUF)
    is refused: a charge must equal the proforma's amount exactly.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise StripeAmountError(f"amount must be a finite Decimal, got {amount!r}")
    if amount <= 0:
        raise StripeAmountError(f"amount must be positive, got {amount}")
    if not has_currency_precision(amount, currency.upper()):
        raise StripeAmountError(f"{amount} has more decimals than {currency.upper()} allows")
    scaled = amount.scaleb(stripe_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise StripeAmountError(f"{amount} {currency.upper()} is finer than Stripe's unit")
    return int(scaled)


def from_stripe_amount(value: int, currency: str) -> Decimal:
    """Stripe's integer -> Decimal in our currency precision (1234500 HUF -> Decimal('12345')).

    A value with a fraction our ledger cannot hold (1234550 HUF = 12345.50 Ft) is refused
    instead of rounded: money received is booked exactly or not at all.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise StripeAmountError(f"Stripe amount must be an integer, got {value!r}")
    exact = Decimal(value).scaleb(-stripe_exponent(currency))
    code = currency.upper()
    if not has_currency_precision(exact, code):
        raise StripeAmountError(f"Stripe amount {value} {code} has a fraction {code} cannot hold")
    return exact.quantize(quantum(code))
