"""The words of the four languages, read from the gettext catalogs beside this file
(`<locale>/LC_MESSAGES/billing.po`) with Babel at first use: no compile step, so a clean checkout
and an installed wheel (the .po files are package data) read the same files.

The msgid is a key and the msgctxt says who uses it: `pdf` (invoices/i18n.py), `portal`
(billing/portal/labels.py), `mail` (billing/mail/render.py). Pure apart from reading those files
once per process."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = ("hu", "ro", "en", "de")
DOMAIN = "billing"
_HERE = Path(__file__).resolve().parent


def po_path(locale: str) -> Path:
    return _HERE / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def words(locale: str, context: str) -> dict[str, str]:
    """{key: text} of one context in one language (an untranslated entry is left out)."""
    if locale not in LOCALES:
        raise KeyError(f"no catalog for locale {locale!r}")
    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    return {message.id: message.string for message in catalog
            if message.id and message.context == context and message.string}


def text(locale: str, context: str, key: str) -> str:
    """The text of `key`; a key without one shows as itself (as a missing label always did)."""
    return words(locale, context).get(key, key)
