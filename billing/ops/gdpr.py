"""Erasing a customer's personal data (GDPR art. 17) without touching what was issued.

What is erased: the account row's name (→ "erased"), e-mail, address, Hungarian tax number and EU VAT
number, and the same fields in the stored `account.created` and `account.updated` events (otherwise a
replay would bring them back). `personal_data_erased_at` records when.

What is kept, byte for byte: every issued document (proforma, invoice, credit note). Its buyer block is
part of the frozen body (`documents.body`, append-only by trigger), and its PDF and NAV XML are pure
renderers of that body, so they stay identical. The Hungarian accounting act keeps invoices for 8 years
(the privacy notice promises 10); that retention is the legal ground for keeping the buyer data on them.
Bank-statement entries (`bank_entries.debtor_name`) are supporting accounting records too and are kept.

When: only once the account is closed (`terminated` or `expired`, as processed by the daily cycle) and
no event of it waits for the cycle. A live account still gets invoices, and an invoice to a Hungarian
business needs the buyer's name and tax number: erasing earlier would put "erased" on the next invoice
and report a business buyer to NAV as a private person. So a live account answers 409 (terminate it
first); a repeated erasure answers 200 with the first erasure's time (idempotent).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from billing.db import models as m
from billing.db.base import utcnow
from billing.errors import Conflict, NotFound

log = logging.getLogger("billing.gdpr")

ERASED_NAME = "erased"
CLOSED_STATES = ("terminated", "expired")
PERSONAL_EVENT_FIELDS = ("name", "email", "address", "tax_number", "eu_vat_number")
EMPTY_ADDRESS = {"postal_code": "", "city": "", "street": ""}


def _erased_event_data(data: dict[str, Any]) -> dict[str, Any]:
    """The account.created data with its personal fields blanked; still a valid event body, so a
    replay from events recreates the (erased) account."""
    return {**data, "name": ERASED_NAME, "email": None, "address": dict(EMPTY_ADDRESS),
            "tax_number": None, "eu_vat_number": None}


def _erased_update_data(data: dict[str, Any]) -> dict[str, Any]:
    """An account.updated's data with its personal fields erased, still a valid update (at least one
    field; e-mail, which cannot be null there, is left out)."""
    erased = {"name": ERASED_NAME, "address": dict(EMPTY_ADDRESS), "tax_number": None, "eu_vat_number": None}
    kept = {k: (erased[k] if k in erased else v) for k, v in data.items() if k != "email"}
    return kept or {"name": ERASED_NAME}


def _answer(account: m.Account, documents_kept: int) -> dict[str, Any]:
    return {"account_id": account.id, "personal_data_erased_at": account.personal_data_erased_at.isoformat(),
            "erased_fields": list(PERSONAL_EVENT_FIELDS), "documents_kept": documents_kept}


def erase_personal_data(factory: sessionmaker, account_id: str, now: datetime | None = None) -> dict[str, Any]:
    """One transaction. Raises NotFound for an unknown account, Conflict for a live one."""
    with factory.begin() as session:
        # FOR UPDATE on the account row, the lock the daily cycle takes (billing/cycle/run.py): a cycle
        # run that is issuing this account's closing credit note right now finishes first, and one
        # that starts after us sees the erased row and the closed state, so issues nothing more.
        account = session.scalars(select(m.Account).where(m.Account.id == account_id).with_for_update()).first()
        if account is None:
            raise NotFound(f"no account {account_id}")
        documents_kept = len(session.scalars(select(m.DocumentRow.number).where(
            m.DocumentRow.account_id == account_id)).all())
        if account.personal_data_erased_at is not None:
            return _answer(account, documents_kept)
        _require_closed(session, account_id)
        account.name = ERASED_NAME
        account.email = None
        account.address = dict(EMPTY_ADDRESS)
        account.tax_number = None
        account.eu_vat_number = None
        account.personal_data_erased_at = now or utcnow()
        personal = session.scalars(select(m.Event).where(
            m.Event.account_id == account_id, m.Event.type.in_(("account.created", "account.updated")))).all()
        for event in personal:
            event.data = (_erased_event_data if event.type == "account.created" else _erased_update_data)(event.data)
        session.flush()
        log.info("personal data of account %s erased; %d documents kept as issued", account_id, documents_kept)
        return _answer(account, documents_kept)


def _require_closed(session: Session, account_id: str) -> None:
    row = session.get(m.AccountStateRow, account_id)
    status = row.status if row is not None else "trialing"
    if status not in CLOSED_STATES:
        raise Conflict(f"the account is {status}; terminate it and run the cycle before erasing its personal "
                       "data (a live account still gets invoices that must name the buyer)",
                       {"errors": [{"field": "account_id", "message": f"state {status}, not terminated or expired"}]})
    waiting = session.scalar(select(exists().where(m.PendingEvent.account_id == account_id)))
    if waiting:
        raise Conflict("events of the account wait for the daily cycle; run it before erasing",
                       {"errors": [{"field": "account_id", "message": "unprocessed events"}]})
