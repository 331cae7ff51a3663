"""Query parameters several resources share: a locale, a day."""
from __future__ import annotations

from datetime import date

from billing.dates import budapest_today, parse_day
from billing.errors import InvalidInput

LOCALES = ("hu", "ro", "en", "de")


def locale_param(value: str | None) -> str | None:
    if value is not None and value not in LOCALES:
        raise InvalidInput("unsupported locale", {"errors": [{"field": "locale", "message": f"one of {LOCALES}"}]})
    return value


def day_param(value: str | None, name: str) -> date | None:
    return None if value is None else parse_day(value, name)


def as_of_param(value: str | None, name: str) -> date:
    """A day that defaults to today in Budapest."""
    return budapest_today() if value is None else parse_day(value, name)


def release(session) -> None:
    """End the request session's transaction before a use case opens its own. On SQLite every
    transaction starts with BEGIN IMMEDIATE (billing.db.session), so a key looked up in the
    database would otherwise hold the write lock and the use case's write would wait on it."""
    session.close()
