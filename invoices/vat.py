"""The VAT decision for a buyer and the VAT arithmetic on amounts (pure).

Place of supply of a B2B service is the buyer's establishment (Áfa tv. 37. § (1)): a Hungarian
buyer pays 27 % Hungarian VAT, an EU business self-accounts (reverse charge), a buyer outside the
EU is outside the scope of Hungarian VAT. An EU buyer counts as a business only with a VAT number
VIES confirmed (Reg. 282/2011 Art. 18): without that proof we charge Hungarian VAT.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.money import round_money
from invoices.documents import VatTreatment

HU_STANDARD_RATE = Decimal("0.27")

# ISO 3166-1 alpha-2 codes of the 27 member states. Greece is "GR" as a country but "EL" as a
# VAT prefix (see VAT_PREFIXES); Northern Ireland's "XI" prefix covers goods only, so for a
# service it is the United Kingdom, outside the EU.
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
VAT_PREFIXES = {"GR": "EL"}

REVERSE_CHARGE_TEXT = (
    "Fordított adózás / Reverse charge"
    " (Áfa tv. 37. § (1), 2006/112/EK irányelv 44. és 196. cikk / Art. 44, 196 Directive 2006/112/EC)"
)
OUT_OF_SCOPE_TEXT = (
    "Az áfa hatályán kívüli ügylet (Áfa tv. 37. § (1)) /"
    " Outside the scope of Hungarian VAT (place of supply outside the EU)"
)


class VatError(Exception):
    """A VAT decision that cannot be made from what we know."""


class VatPending(VatError):
    """VIES could not answer: the treatment waits for a check; we never reverse-charge on a guess."""


def country_of(code: str) -> str:
    """ISO country of a country code or a VAT prefix ("EL" → "GR")."""
    code = code.strip().upper()
    return "GR" if code == "EL" else code


def vat_prefix(country: str) -> str:
    country = country_of(country)
    return VAT_PREFIXES.get(country, country)


def is_eu(country: str) -> bool:
    return country_of(country) in EU_COUNTRIES


def decide_vat(
    *,
    buyer_country: str,
    eu_vat_number: str | None,
    vies_valid: bool | None,
    vies_reference: str | None = None,
    checked_on: date | None = None,
    seller_country: str = "HU",
) -> VatTreatment:
    buyer = country_of(buyer_country)
    if buyer == country_of(seller_country):
        return _domestic()
    if buyer not in EU_COUNTRIES:
        return VatTreatment(kind="out_of_scope", rate=Decimal(0), nav_case="HO", legal_text=OUT_OF_SCOPE_TEXT)
    if not eu_vat_number:
        return _domestic()  # a consumer or an unregistered business: no proof of business status
    if not eu_vat_number.strip().upper().startswith(vat_prefix(buyer)):
        raise VatError(f"VAT number {eu_vat_number!r} does not belong to country {buyer}")
    if vies_valid is None:
        raise VatPending(f"VIES has not confirmed {eu_vat_number!r} yet")
    if not vies_valid:
        return _domestic()
    return VatTreatment(
        kind="reverse_charge",
        rate=Decimal(0),
        nav_case="EUFAD37",
        legal_text=REVERSE_CHARGE_TEXT,
        vies_reference=vies_reference,
        vies_checked_on=checked_on,
    )


def vies_note(treatment: VatTreatment) -> str:
    """The line an invoice shows for the VIES check behind its reverse charge."""
    checked = f" ({treatment.vies_checked_on.isoformat()})" if treatment.vies_checked_on else ""
    return f"VIES konzultációs szám / consultation number: {treatment.vies_reference}{checked}"


def _domestic() -> VatTreatment:
    return VatTreatment(kind="domestic", rate=HU_STANDARD_RATE)


def monthly_price(list_price: Decimal, prices_include_vat: bool, treatment: VatTreatment) -> Fraction:
    """The monthly seat price the buyer is charged, exact (CONTRACT §1, §6).

    A gross list price holds 27 % Hungarian VAT: a buyer who pays none gets exactly list / 1.27.
    A net list price gets the VAT added for a domestic buyer. Otherwise the list price stands.
    """
    price = Fraction(list_price)
    hu_factor = 1 + Fraction(HU_STANDARD_RATE)
    pays_hu_vat = treatment.kind == "domestic"
    if prices_include_vat and not pays_hu_vat:
        return price / hu_factor
    if not prices_include_vat and pays_hu_vat:
        return price * (1 + Fraction(treatment.rate))
    return price


def split_gross(gross: Decimal, rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(net, vat) of a VAT-inclusive amount: net rounded once, VAT the remainder so the two always
    add up to the gross actually received."""
    net = round_money(Fraction(gross) / (1 + Fraction(rate)), currency)
    return net, round_money(Decimal(gross) - net, currency)
