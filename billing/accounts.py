"""Turning an account.created event into the account's record, with its VAT treatment decided once
(and the VIES evidence kept on it)."""
from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from billing.db.models import Account
from billing.events import local_day
from invoices.documents import Party, VatTreatment, _jsonable, _vat_from_json
from invoices.vat import VatError, VatPending, decide_vat, is_eu

log = logging.getLogger("billing.accounts")

_LOCALES = {"HU": "hu", "RO": "ro", "DE": "de", "AT": "de"}


def vies_check(vat_number: str) -> tuple[bool | None, str | None, date | None]:
    """(valid, consultation reference, date). Without VIES_URL the service is offline by design:
    the format was checked on input and the reference says so (README: VAT decisions)."""
    if not os.environ.get("VIES_URL"):
        return True, "offline: VIES_URL not configured, format checked only", None
    from invoices.vies import InvalidVatNumber, ViesClient, ViesUnavailable

    try:
        result = ViesClient().check(vat_number)
    except InvalidVatNumber:
        return False, None, None
    except ViesUnavailable as exc:
        log.warning("VIES unavailable, VAT decision pending: %s", exc)
        return None, None, None
    reference = result.request_identifier or f"VIES checkVat {result.request_date.isoformat()}"
    return result.valid, reference, result.request_date


def decide_account_vat(country: str, eu_vat_number: str | None) -> dict[str, Any]:
    valid, reference, checked_on = (None, None, None)
    if eu_vat_number and is_eu(country) and country != "HU":
        valid, reference, checked_on = vies_check(eu_vat_number)
    try:
        treatment = decide_vat(buyer_country=country, eu_vat_number=eu_vat_number, vies_valid=valid,
                               vies_reference=reference, checked_on=checked_on)
        pending = False
    except VatPending:
        # Never reverse charge on a guess: Hungarian VAT until VIES confirms (README).
        treatment, pending = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None), True
    except VatError as exc:
        log.warning("VAT number does not match the country: %s", exc)
        treatment, pending = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None), False
    return {**_jsonable(treatment), "pending": pending}


def account_from_event(event, data) -> Account:
    return Account(
        id=event.account_id, name=data.name, email=data.email, country=data.country,
        currency=data.currency, locale=data.locale or _LOCALES.get(data.country, "en"),
        terms=data.terms or ("ro" if data.country == "RO" else "hu"), trial_days=data.trial_days,
        timezone=data.timezone, plan=data.plan, created_day=local_day(event.occurred_at, data.timezone),
        created_at_instant=event.occurred_at, address=data.address.model_dump(),
        tax_number=data.tax_number, eu_vat_number=data.eu_vat_number,
        vat=decide_account_vat(data.country, data.eu_vat_number), created_event_id=event.id)


def retry_pending_vat(account: Account) -> None:
    """VIES could not answer when the account was created: ask again before each cycle run. Until
    it confirms, Hungarian VAT applies (never a reverse charge on a guess)."""
    if not (account.vat or {}).get("pending"):
        return
    decided = decide_account_vat(account.country, account.eu_vat_number)
    if not decided["pending"]:
        log.info("VIES answered for account %s: %s", account.id, decided["kind"])
        account.vat = decided


def vat_of(account: Account) -> VatTreatment:
    return _vat_from_json(account.vat)


def buyer_of(account: Account) -> Party:
    address = account.address or {}
    return Party(name=account.name, country=account.country, postal_code=address.get("postal_code", ""),
                 city=address.get("city", ""), street=address.get("street", ""),
                 tax_number=account.tax_number, eu_vat_number=account.eu_vat_number, email=account.email)
