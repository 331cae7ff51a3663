from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from invoices.vat import (
    EU_COUNTRIES,
    HU_STANDARD_RATE,
    OUT_OF_SCOPE_TEXT,
    VatError,
    VatPending,
    decide_vat,
    monthly_price,
    split_gross,
    vat_prefix,
)


def test_eu_countries_are_the_27_member_states_with_greece_as_gr():
    assert len(EU_COUNTRIES) == 27
    assert "GR" in EU_COUNTRIES and "EL" not in EU_COUNTRIES
    assert "GB" not in EU_COUNTRIES and "XI" not in EU_COUNTRIES and "CH" not in EU_COUNTRIES
    assert vat_prefix("GR") == "EL" and vat_prefix("RO") == "RO"


def test_hungarian_buyer_is_domestic_27_percent():
    t = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None)
    assert (t.kind, t.rate, t.nav_case, t.legal_text) == ("domestic", Decimal("0.27"), None, None)


def test_eu_business_confirmed_by_vies_is_reverse_charge_with_the_wording():
    t = decide_vat(
        buyer_country="RO", eu_vat_number="RO18547290", vies_valid=True,
        vies_reference="WAPIAAAAW1234", checked_on=date(2026, 3, 2),
    )
    assert t.kind == "reverse_charge" and t.rate == 0 and t.nav_case == "EUFAD37"
    assert t.legal_text.startswith("Fordított adózás / Reverse charge")
    assert "37. §" in t.legal_text
    assert (t.vies_reference, t.vies_checked_on) == ("WAPIAAAAW1234", date(2026, 3, 2))


def test_greek_buyer_uses_the_el_prefix():
    t = decide_vat(buyer_country="GR", eu_vat_number="EL094259216", vies_valid=True)
    assert t.kind == "reverse_charge"
    with pytest.raises(VatError):
        decide_vat(buyer_country="GR", eu_vat_number="DE136695976", vies_valid=True)


@pytest.mark.parametrize("number,valid", [(None, None), ("DE136695976", False)])
def test_eu_buyer_without_a_confirmed_number_pays_hungarian_vat(number, valid):
    t = decide_vat(buyer_country="DE", eu_vat_number=number, vies_valid=valid)
    assert (t.kind, t.rate) == ("domestic", HU_STANDARD_RATE)


def test_vies_unanswered_is_pending_never_reverse_charge():
    with pytest.raises(VatPending):
        decide_vat(buyer_country="DE", eu_vat_number="DE136695976", vies_valid=None)


@pytest.mark.parametrize("country", ["US", "GB", "CH", "XI"])
def test_non_eu_buyer_is_out_of_scope(country):
    t = decide_vat(buyer_country=country, eu_vat_number=None, vies_valid=None)
    assert (t.kind, t.rate, t.nav_case, t.legal_text) == ("out_of_scope", 0, "HO", OUT_OF_SCOPE_TEXT)


DOMESTIC = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None)
REVERSE = decide_vat(buyer_country="AT", eu_vat_number="ATU13585627", vies_valid=True)
OUTSIDE = decide_vat(buyer_country="US", eu_vat_number=None, vies_valid=None)


def test_monthly_price_gross_plan():
    assert monthly_price(Decimal("9990"), True, DOMESTIC) == 9990
    # 9990 / 1.27 = 999000 / 127 (≈ 7866.14), exactly
    assert monthly_price(Decimal("9990"), True, REVERSE) == Fraction(999000, 127)
    assert monthly_price(Decimal("9990"), True, OUTSIDE) == Fraction(999000, 127)
    # 12.70 EUR / 1.27 = 10 EUR
    assert monthly_price(Decimal("12.70"), True, REVERSE) == 10


def test_monthly_price_net_plan():
    assert monthly_price(Decimal("10000"), False, DOMESTIC) == 12700  # 10000 × 1.27
    assert monthly_price(Decimal("10000"), False, REVERSE) == 10000
    assert monthly_price(Decimal("9.99"), False, DOMESTIC) == Fraction(126873, 10000)  # 9.99 × 1.27 = 12.6873


@pytest.mark.parametrize(
    "gross,rate,currency,net,vat",
    [
        ("12700", "0.27", "HUF", "10000", "2700"),  # 12700 / 1.27 = 10000
        ("10312", "0.27", "HUF", "8120", "2192"),  # 10312 / 1.27 = 8119.69 → 8120; 10312 − 8120
        ("100.00", "0.27", "EUR", "78.74", "21.26"),  # 100 / 1.27 = 78.740… → 78.74
        ("1", "0.27", "HUF", "1", "0"),  # 1 / 1.27 = 0.787 → 1; VAT 0
        ("5000", "0", "HUF", "5000", "0"),
        ("-12700", "0.27", "HUF", "-10000", "-2700"),  # a credit note splits the same way
    ],
)
def test_split_gross(gross, rate, currency, net, vat):
    got = split_gross(Decimal(gross), Decimal(rate), currency)
    assert got == (Decimal(net), Decimal(vat))
    assert got[0] + got[1] == Decimal(gross)
