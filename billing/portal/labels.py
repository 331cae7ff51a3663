"""The portal's own words in the four languages of the documents (hu, ro, en, de), from the
translation catalogs the PDFs and the messages use (context `portal` of
billing/locale/<locale>/LC_MESSAGES/billing.po). A new word is a `msgctxt "portal"` entry in each
of the four catalogs."""
from __future__ import annotations

from billing.locale.catalog import LOCALES as _CATALOG_LOCALES
from billing.locale.catalog import words

LABELS = {lang: words(lang, "portal") for lang in _CATALOG_LOCALES}
LOCALES = tuple(LABELS)


def labels(locale: str) -> dict[str, str]:
    return LABELS.get(locale, LABELS["en"])
