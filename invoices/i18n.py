"""Labels (hand-written, per locale) and number / date / money formats (Babel, per locale) for the
documents we render. Pure: no I/O beyond Babel's bundled CLDR data."""
from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import DateTimePattern, match_skeleton
from babel.dates import parse_pattern as parse_date_pattern
from babel.numbers import NumberPattern
from babel.numbers import parse_pattern as parse_number_pattern

from billing.money import minor_units

LOCALES = ("hu", "ro", "en", "de")
DEFAULT_LOCALE = "hu"


class UnsupportedLocale(ValueError):
    pass


def normalize_locale(locale: str | None, fallback: str = DEFAULT_LOCALE) -> str:
    """"hu", "de-DE", "ro_RO" → "hu", "de", "ro"; None → the fallback; anything else is refused."""
    if not locale:
        return fallback
    code = locale.replace("-", "_").split("_")[0].lower()
    if code not in LOCALES:
        raise UnsupportedLocale(f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    return code


_LABELS: dict[str, dict[str, str]] = {
    "hu": {
        "invoice": "SZÁMLA",
        "proforma": "DÍJBEKÉRŐ – nem számla",
        "proforma_note": "Ez a díjbekérő fizetési felszólítás, nem számla, áfa levonására nem jogosít. "
                         "A számlát a befizetés beérkezésekor állítjuk ki.",
        "credit_note": "SZÁMLÁT MÓDOSÍTÓ DOKUMENTUM (jóváírás)",
        "modifies": "Módosított számla sorszáma",
        "modification_index": "Módosítás sorszáma",
        "number": "Sorszám",
        "issue_date": "Kiállítás dátuma",
        "fulfilment_date": "Teljesítés dátuma",
        "due_date": "Fizetési határidő",
        "payment_method": "Fizetési mód",
        "card": "bankkártya",
        "bank_transfer": "átutalás",
        "payment_reference": "Közlemény",
        "period": "Elszámolási időszak",
        "currency": "Pénznem",
        "seller": "Eladó",
        "buyer": "Vevő",
        "tax_number": "Adószám",
        "eu_vat_number": "Közösségi adószám",
        "third_country_id": "Adóazonosító",
        "bank_account": "Bankszámlaszám",
        "description": "Megnevezés",
        "quantity": "Mennyiség",
        "unit": "Egység",
        "unit_price_net": "Nettó egységár",
        "vat_rate": "ÁFA-kulcs",
        "net": "Nettó érték",
        "vat": "ÁFA-összeg",
        "gross": "Bruttó érték",
        "seat-day": "fő-nap",
        "piece": "db",
        "advance_line": "Előleg (Áfa tv. 59. §)",
        "vat_summary": "ÁFA-összesítő kulcsonként",
        "net_total": "Nettó összesen",
        "vat_total": "ÁFA összesen",
        "gross_total": "Bruttó összesen",
        "amount_payable": "Fizetendő",
        "in_huf": "Forintban (Áfa tv. 80. §)",
        "exchange_rate": "MNB árfolyam",
        "rate_date": "árfolyam napja",
        "reverse_charge": "fordított adózás",
        "out_of_scope": "áfa hatályán kívül",
        "notes": "Megjegyzés",
        "statement": "EGYENLEGKIVONAT",
        "account": "Ügyfélazonosító",
        "month": "Időszak",
        "opening_balance": "Nyitó egyenleg",
        "closing_balance": "Záró egyenleg",
        "payments": "Befizetések",
        "charges": "Díjak",
        "refunds": "Visszatérítések",
        "date": "Dátum",
        "kind": "Tétel",
        "seats": "Felhasználók",
        "monthly_price": "Havi díj",
        "amount": "Összeg",
        "reference": "Hivatkozás",
        "payment": "befizetés",
        "charge": "díj",
        "charge_correction": "díjhelyesbítés",
        "charge_reversal": "díj sztornó",
        "clawback": "kedvezmény-visszaterhelés",
        "refund": "visszatérítés",
        "explain": "Részletes számítás",
        "correction_title": "MÓDOSÍTÓ SZÁMLA (a vevő adatainak javítása)",
        "correction": "adatjavítás",
        "credit": "jóváírás",
        "credits": "Jóváírások",
        "corrected_data": "Javított adatok",
        "corrected_field": "Adat",
        "as_issued": "Korábbi adat",
        "corrected_value": "Helyes adat",
        "modification_reason": "A módosítás oka",
        "no_amount_change": "A módosítás összegszerű hatása: 0 – az ellenérték, az adóalap és az áfa nem változik.",
        "field_name": "Vevő neve",
        "field_address": "Vevő címe",
        "field_tax_number": "Vevő adószáma",
        "field_eu_vat_number": "Vevő közösségi adószáma",
    },
    "ro": {
        "invoice": "FACTURĂ",
        "proforma": "FACTURĂ PROFORMĂ – nu este factură fiscală",
        "proforma_note": "Acest document este o cerere de plată, nu o factură fiscală, și nu dă drept de "
                         "deducere a TVA. Factura se emite la încasarea plății.",
        "credit_note": "FACTURĂ DE CORECȚIE (storno)",
        "modifies": "Factura corectată",
        "modification_index": "Numărul corecției",
        "number": "Număr",
        "issue_date": "Data emiterii",
        "fulfilment_date": "Data prestării",
        "due_date": "Termen de plată",
        "payment_method": "Modalitate de plată",
        "card": "card",
        "bank_transfer": "transfer bancar",
        "payment_reference": "Referință plată",
        "period": "Perioada de facturare",
        "currency": "Moneda",
        "seller": "Furnizor",
        "buyer": "Cumpărător",
        "tax_number": "Cod fiscal",
        "eu_vat_number": "Cod de TVA UE",
        "third_country_id": "Cod fiscal",
        "bank_account": "Cont bancar",
        "description": "Denumire",
        "quantity": "Cantitate",
        "unit": "U.M.",
        "unit_price_net": "Preț unitar fără TVA",
        "vat_rate": "Cota TVA",
        "net": "Valoare fără TVA",
        "vat": "Valoare TVA",
        "gross": "Valoare cu TVA",
        "seat-day": "utilizator-zi",
        "piece": "buc.",
        "advance_line": "Avans (legea maghiară a TVA, art. 59)",
        "vat_summary": "Sinteză TVA pe cote",
        "net_total": "Total fără TVA",
        "vat_total": "Total TVA",
        "gross_total": "Total cu TVA",
        "amount_payable": "De plată",
        "in_huf": "În forinți (HUF)",
        "exchange_rate": "Curs MNB",
        "rate_date": "data cursului",
        "reverse_charge": "taxare inversă",
        "out_of_scope": "în afara sferei TVA din Ungaria",
        "notes": "Mențiuni",
        "statement": "EXTRAS DE CONT",
        "account": "Cont client",
        "month": "Perioada",
        "opening_balance": "Sold inițial",
        "closing_balance": "Sold final",
        "payments": "Plăți",
        "charges": "Taxe",
        "refunds": "Rambursări",
        "date": "Data",
        "kind": "Tip",
        "seats": "Utilizatori",
        "monthly_price": "Preț lunar",
        "amount": "Sumă",
        "reference": "Referință",
        "payment": "plată",
        "charge": "taxă",
        "charge_correction": "corecție taxă",
        "charge_reversal": "anulare taxă",
        "clawback": "recuperare reducere",
        "refund": "rambursare",
        "explain": "Detalii de calcul",
        "correction_title": "FACTURĂ DE CORECȚIE (datele cumpărătorului)",
        "correction": "corecție de date",
        "credit": "credit comercial",
        "credits": "Credite",
        "corrected_data": "Date corectate",
        "corrected_field": "Câmp",
        "as_issued": "Anterior",
        "corrected_value": "Corect",
        "modification_reason": "Motivul corecției",
        "no_amount_change": "Efectul valoric al corecției: 0 – valoarea, baza de impozitare și TVA nu se modifică.",
        "field_name": "Denumirea cumpărătorului",
        "field_address": "Adresa cumpărătorului",
        "field_tax_number": "Codul fiscal maghiar al cumpărătorului",
        "field_eu_vat_number": "Codul de TVA UE al cumpărătorului",
    },
    "en": {
        "invoice": "INVOICE",
        "proforma": "PROFORMA – not an invoice",
        "proforma_note": "This proforma is a request for payment, not an invoice, and gives no right to "
                         "deduct VAT. The invoice is issued when the payment arrives.",
        "credit_note": "CREDIT NOTE (modifying invoice)",
        "modifies": "Modifies invoice",
        "modification_index": "Modification number",
        "number": "Number",
        "issue_date": "Issue date",
        "fulfilment_date": "Fulfilment date",
        "due_date": "Due date",
        "payment_method": "Payment method",
        "card": "card",
        "bank_transfer": "bank transfer",
        "payment_reference": "Payment reference",
        "period": "Billing period",
        "currency": "Currency",
        "seller": "Seller",
        "buyer": "Buyer",
        "tax_number": "Tax number",
        "eu_vat_number": "EU VAT number",
        "third_country_id": "Tax ID",
        "bank_account": "Bank account",
        "description": "Description",
        "quantity": "Quantity",
        "unit": "Unit",
        "unit_price_net": "Net unit price",
        "vat_rate": "VAT rate",
        "net": "Net amount",
        "vat": "VAT amount",
        "gross": "Gross amount",
        "seat-day": "seat-day",
        "piece": "pcs",
        "advance_line": "Advance payment (Hungarian VAT Act, s. 59)",
        "vat_summary": "VAT summary by rate",
        "net_total": "Net total",
        "vat_total": "VAT total",
        "gross_total": "Gross total",
        "amount_payable": "Amount payable",
        "in_huf": "In Hungarian forints (HUF)",
        "exchange_rate": "MNB exchange rate",
        "rate_date": "rate date",
        "reverse_charge": "reverse charge",
        "out_of_scope": "outside the scope of Hungarian VAT",
        "notes": "Notes",
        "statement": "ACCOUNT STATEMENT",
        "account": "Account",
        "month": "Period",
        "opening_balance": "Opening balance",
        "closing_balance": "Closing balance",
        "payments": "Payments",
        "charges": "Charges",
        "refunds": "Refunds",
        "date": "Date",
        "kind": "Item",
        "seats": "Seats",
        "monthly_price": "Monthly price",
        "amount": "Amount",
        "reference": "Reference",
        "payment": "payment",
        "charge": "charge",
        "charge_correction": "charge correction",
        "charge_reversal": "charge reversal",
        "clawback": "discount clawback",
        "refund": "refund",
        "explain": "Calculation details",
        "correction_title": "CORRECTION (modifying invoice: buyer data)",
        "correction": "data correction",
        "credit": "goodwill credit",
        "credits": "Credits",
        "corrected_data": "Corrected data",
        "corrected_field": "Field",
        "as_issued": "Previously",
        "corrected_value": "Corrected",
        "modification_reason": "Reason for the modification",
        "no_amount_change": "Numeric effect of the modification: 0 – the price, the tax base and the VAT do not change.",
        "field_name": "Buyer's name",
        "field_address": "Buyer's address",
        "field_tax_number": "Buyer's Hungarian tax number",
        "field_eu_vat_number": "Buyer's EU VAT number",
    },
    "de": {
        "invoice": "RECHNUNG",
        "proforma": "PROFORMA-RECHNUNG – keine Rechnung",
        "proforma_note": "Diese Proforma-Rechnung ist eine Zahlungsaufforderung, keine Rechnung, und "
                         "berechtigt nicht zum Vorsteuerabzug. Die Rechnung wird bei Zahlungseingang ausgestellt.",
        "credit_note": "RECHNUNGSKORREKTUR (Storno)",
        "modifies": "Korrigierte Rechnung",
        "modification_index": "Korrektur Nr.",
        "number": "Nummer",
        "issue_date": "Rechnungsdatum",
        "fulfilment_date": "Leistungsdatum",
        "due_date": "Fällig am",
        "payment_method": "Zahlungsart",
        "card": "Karte",
        "bank_transfer": "Überweisung",
        "payment_reference": "Verwendungszweck",
        "period": "Abrechnungszeitraum",
        "currency": "Währung",
        "seller": "Leistungserbringer",
        "buyer": "Leistungsempfänger",
        "tax_number": "Steuernummer",
        "eu_vat_number": "USt-IdNr.",
        "third_country_id": "Steuer-ID",
        "bank_account": "Bankverbindung",
        "description": "Bezeichnung",
        "quantity": "Menge",
        "unit": "Einheit",
        "unit_price_net": "Einzelpreis netto",
        "vat_rate": "USt-Satz",
        "net": "Nettobetrag",
        "vat": "USt-Betrag",
        "gross": "Bruttobetrag",
        "seat-day": "Nutzer-Tag",
        "piece": "Stk.",
        "advance_line": "Anzahlung (§ 59 ungar. UStG)",
        "vat_summary": "USt-Übersicht nach Steuersatz",
        "net_total": "Summe netto",
        "vat_total": "Summe USt",
        "gross_total": "Summe brutto",
        "amount_payable": "Zu zahlen",
        "in_huf": "In Forint (HUF)",
        "exchange_rate": "MNB-Kurs",
        "rate_date": "Kursdatum",
        "reverse_charge": "Steuerschuldnerschaft des Leistungsempfängers",
        "out_of_scope": "nicht steuerbar in Ungarn",
        "notes": "Hinweise",
        "statement": "KONTOAUSZUG",
        "account": "Kundenkonto",
        "month": "Zeitraum",
        "opening_balance": "Anfangssaldo",
        "closing_balance": "Endsaldo",
        "payments": "Zahlungen",
        "charges": "Gebühren",
        "refunds": "Erstattungen",
        "date": "Datum",
        "kind": "Posten",
        "seats": "Nutzer",
        "monthly_price": "Monatspreis",
        "amount": "Betrag",
        "reference": "Referenz",
        "payment": "Zahlung",
        "charge": "Gebühr",
        "charge_correction": "Gebührenkorrektur",
        "charge_reversal": "Gebührenstorno",
        "clawback": "Rabattrückforderung",
        "refund": "Erstattung",
        "explain": "Berechnungsdetails",
        "correction_title": "RECHNUNGSBERICHTIGUNG (Käuferdaten)",
        "correction": "Datenberichtigung",
        "credit": "Kulanzgutschrift",
        "credits": "Gutschriften",
        "corrected_data": "Berichtigte Angaben",
        "corrected_field": "Angabe",
        "as_issued": "Bisher",
        "corrected_value": "Richtig",
        "modification_reason": "Grund der Berichtigung",
        "no_amount_change": "Betragsmäßige Auswirkung der Berichtigung: 0 – Entgelt, Bemessungsgrundlage und USt ändern sich nicht.",
        "field_name": "Name des Käufers",
        "field_address": "Anschrift des Käufers",
        "field_tax_number": "Ungarische Steuernummer des Käufers",
        "field_eu_vat_number": "USt-IdNr. des Käufers",
    },
}


def label(locale: str, key: str) -> str:
    """The label in `locale`; an unknown key (e.g. a new statement line kind) shows as itself."""
    return _LABELS[locale].get(key, key)


# Babel's format_* functions parse the locale and the pattern (and match the skeleton) on every
# call; an invoice formats ~40 values, so the parsed forms are cached: the same Babel objects do
# the same formatting, only once per locale and pattern.


@lru_cache(maxsize=None)
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def country_name(country: str, locale: str) -> str:
    """"RO" → hu "Románia", de "Rumänien"; an unknown code shows as itself."""
    return babel_locale(locale).territories.get(country, country)


@lru_cache(maxsize=None)
def _skeleton_pattern(skeleton: str, locale: str) -> DateTimePattern:
    # As babel.dates.format_skeleton(fuzzy=True) picks it.
    skeletons = babel_locale(locale).datetime_skeletons
    if skeleton not in skeletons:
        skeleton = match_skeleton(skeleton, skeletons)
    return parse_date_pattern(skeletons[skeleton])


@lru_cache(maxsize=None)
def _number_pattern(pattern: str) -> NumberPattern:
    return parse_number_pattern(pattern)


def _format_decimal(value: Decimal, pattern: str, locale: str, quantize: bool = True) -> str:
    """babel.numbers.format_decimal(value, format=pattern, locale=locale, decimal_quantization=quantize)."""
    return _number_pattern(pattern).apply(
        value, babel_locale(locale), decimal_quantization=quantize, group_separator=True, numbering_system="latn"
    )


def fmt_date(day: date, locale: str) -> str:
    """Numeric date with a four-digit year: hu 2026. 03. 18., ro/de 18.03.2026, en 3/18/2026."""
    return _skeleton_pattern("yMMdd", locale).apply(day, babel_locale(locale))


def fmt_month(month: str, locale: str) -> str:
    """"2026-03" → hu "2026. március", de "März 2026"."""
    year, number = month.split("-")
    return _skeleton_pattern("yMMMM", locale).apply(date(int(year), int(number), 1), babel_locale(locale))


def fmt_amount(amount: Decimal, currency: str, locale: str) -> str:
    """An amount in the currency's precision with the locale's separators, no currency sign."""
    digits = minor_units(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return _format_decimal(amount, pattern, locale)


def fmt_money(amount: Decimal, currency: str, locale: str) -> str:
    """The locale's currency format at our precision (HUF has no decimals, whatever CLDR says)."""
    pattern = _money_pattern(locale, minor_units(currency))
    return pattern.apply(amount, babel_locale(locale), currency=currency, currency_digits=False)


def fmt_unit_price(amount: Decimal, currency: str, locale: str) -> str:
    """A unit price keeps up to four more decimals than the currency (a seat-day of a monthly price)."""
    digits = minor_units(currency)
    pattern = "#,##0." + "0" * digits + "#" * 4
    return _format_decimal(amount, pattern, locale)


def fmt_quantity(quantity: Decimal, locale: str) -> str:
    """Seat-days: whole, or with the four decimals of a part of a line (billing.money.round_quantity)."""
    return _format_decimal(quantity, "#,##0.####", locale, quantize=True)


def fmt_number(value: Decimal, locale: str) -> str:
    """A number of a calculation step, up to ten decimals (display only, no money rounding)."""
    return _format_decimal(value, "#,##0.##########", locale)


def fmt_rate(rate: Decimal, locale: str) -> str:
    """An exchange rate, HUF per unit: at least two decimals, up to six."""
    return _format_decimal(rate, "#,##0.00####", locale)


def fmt_percent(rate: Decimal, locale: str) -> str:
    # The locale's own pattern keeps its spacing (de/ro "27 %"); our rates are whole percents.
    return _number_pattern(babel_locale(locale).percent_formats[None]).apply(
        rate, babel_locale(locale), decimal_quantization=True, group_separator=True, numbering_system="latn"
    )


@lru_cache(maxsize=None)
def _money_pattern(locale: str, digits: int) -> NumberPattern:
    pattern = copy.copy(babel_locale(locale).currency_formats["standard"])
    pattern.frac_prec = (digits, digits)
    return pattern
