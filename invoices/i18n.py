"""Labels (from the translation catalogs, billing/locale) and number / date / money formats (Babel,
per locale) for the documents we render. Pure: no I/O beyond Babel's bundled CLDR data and the
catalogs, each read once."""
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

from billing.locale.catalog import words
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


def label(locale: str, key: str) -> str:
    """The label in `locale` (context `pdf` of the catalogs, billing/locale); an unknown key (e.g. a
    new statement line kind) shows as itself."""
    return words(locale, "pdf").get(key, key)


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
