"""Money: exact amounts and the one place where the contract's rounding happens.

Exact intermediate values are `fractions.Fraction` (a daily charge is price / days_in_month, which
has no finite decimal form); posted amounts are `Decimal` in the currency's precision.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation
from fractions import Fraction
from functools import lru_cache

# ISO 4217 minor units for the currencies we expect; anything else defaults to 2.
_MINOR_UNITS = {"HUF": 0, "EUR": 2, "RON": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "PLN": 2, "CZK": 2}

SUPPORTED_CURRENCIES = frozenset({"HUF", "EUR", "RON", "USD", "GBP", "CHF", "PLN", "CZK"})


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


@lru_cache(maxsize=None)
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(value: Fraction | Decimal | int, currency: str) -> Decimal:
    """R of the contract: half-up to the currency's precision. The only rounding of money."""
    if isinstance(value, Fraction):
        # half-up on the magnitude, exact on rationals (no binary or decimal approximation).
        return _round_digits(value, minor_units(currency)).quantize(quantum(currency))
    return Decimal(value).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def parse_amount(text: str) -> Decimal:
    """A decimal string from outside; raises ValueError on anything that is not a finite number."""
    try:
        amount = Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal number: {text!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return amount


def has_currency_precision(amount: Decimal, currency: str) -> bool:
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def fmt(amount: Decimal, currency: str) -> str:
    """The JSON face of an amount: a decimal string in the currency's precision."""
    return str(Decimal(amount).quantize(quantum(currency)))


def round_unit_price(value: Fraction | Decimal, currency: str) -> Decimal:
    """A net unit price shown on a document: two more digits than the currency, half-up."""
    return _round_digits(Fraction(value), minor_units(currency) + 2)


QUANTITY_DIGITS = 4


def round_quantity(value: Fraction | Decimal | int) -> Decimal:
    """A quantity of seat-days a line states when a payment covers only part of a proforma
    line: four decimals, half-up (NAV's quantity takes ten). Not money: amounts stay exact."""
    rounded = _round_digits(Fraction(value), QUANTITY_DIGITS)
    whole = rounded.to_integral_value()
    # 32, not 32.0000: a whole number of seat-days reads as one (and normalize() would give 1E+2)
    return whole if rounded == whole else rounded.normalize()


def unit_price_huf(unit_price: Decimal, rate: Decimal) -> Decimal:
    """A unit price in HUF at the document's exchange rate, as NAV's unitPriceHUF takes it
    (at most ten decimals, half-up): unit price × rate, exact for our four-decimal prices."""
    return _round_digits(Fraction(Decimal(unit_price)) * Fraction(Decimal(rate)), 10)


# A product of two decimals is a decimal: exact with enough digits, and Inexact traps if not.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])


def to_huf(amount: Decimal, rate: Decimal) -> Decimal:
    """A document amount converted at the exchange rate, in whole forints (the HUF precision)."""
    return round_money(_EXACT.multiply(Decimal(amount), Decimal(rate)), "HUF")


def _round_digits(value: Fraction, digits: int) -> Decimal:
    # Half-up on the magnitude, in integers: floor(|n| * 10^digits / d + 1/2).
    numerator, denominator = value.numerator, value.denominator
    whole = (abs(numerator) * 10**digits * 2 + denominator) // (2 * denominator)
    return Decimal(-whole if numerator < 0 else whole).scaleb(-digits)


def approximate(value: Fraction, digits: int = 6) -> Decimal:
    """An exact fraction shown to a person (explanations only; never posted)."""
    return _round_digits(value, digits)
