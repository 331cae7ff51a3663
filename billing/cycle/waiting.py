"""Invoices that wait for their exchange rate (CONTRACT §6: no guess ever reaches a tax document).

A payment in a foreign currency is credited on its day like any other (balance, allocation,
state: the engine does that), but its invoice needs MNB's official rate of the fulfilment day. While
MNB cannot give one, the cycle takes no number for it: the engine's draft gets a provisional number
(`provisional_number`), and instead of the document, its VAT booking and its NAV report, the draft
is stored in `waiting_invoices`, in the transaction that credits the payment (`park_if_waiting`).
Every cycle run first tries the waiting invoices again (billing/cycle/rates.py issue_waiting); the
transaction that issues an invoice deletes its row.

This module is the queue itself: the provisional numbers, the draft as JSON and back, and what the
account view and /metrics show of it.
"""
from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.cycle.issuing import known_reason
from billing.db import models as m
from billing.db.base import utcnow
from billing.domain import records as r
from billing.money import fmt

PROVISIONAL = "WAITING-FOR-RATE-"


def provisional_number() -> str:
    """What the engine's invoice is called until its rate is known: never a document number (the
    series stay gapless) and never written anywhere but into the waiting row's draft."""
    return f"{PROVISIONAL}{uuid.uuid4().hex}"


def is_provisional(number: str | None) -> bool:
    return bool(number) and number.startswith(PROVISIONAL)


def park_if_waiting(session: Session, draft: r.DocumentDraft) -> bool:
    """Store the draft of an invoice that waits for its rate (True), or leave it to be issued."""
    if not is_provisional(draft.number):
        return False
    assert draft.kind == "invoice" and draft.event_id, "only a payment's invoice waits for its rate"
    reason = (known_reason(session, draft.currency, draft.fulfilment_date)
              or "waits for an earlier invoice of the account, which waits for its MNB rate")
    session.add(m.WaitingInvoice(event_id=draft.event_id, account_id=draft.account_id,
                                 payment_day=draft.fulfilment_date, currency=draft.currency,
                                 amount=draft.gross, draft=draft_to_json(draft),
                                 last_attempt_at=utcnow(), last_error=reason[:2000]))
    return True


def waiting_rows(session: Session, account_id: str | None = None) -> list[m.WaitingInvoice]:
    """In the order they were parked (the order their payments were credited in)."""
    query = select(m.WaitingInvoice).order_by(m.WaitingInvoice.id)
    if account_id is not None:
        query = query.where(m.WaitingInvoice.account_id == account_id)
    return list(session.scalars(query))


def has_waiting(session: Session, account_id: str) -> bool:
    return session.scalar(select(func.count()).select_from(m.WaitingInvoice)
                          .where(m.WaitingInvoice.account_id == account_id)) > 0


def waiting_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(m.WaitingInvoice)) or 0


def waiting_view(session: Session, account_id: str) -> list[dict[str, Any]]:
    """What GET /v1/accounts/{id} lists under `invoices_waiting_for_rate`."""
    return [{"payment_day": row.payment_day.isoformat(), "amount": fmt(row.amount, row.currency),
             "currency": row.currency, "event_id": row.event_id,
             "waiting_since": row.created_at.isoformat(),
             "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
             "reason": row.last_error or f"no MNB exchange rate for {row.currency} on {row.payment_day.isoformat()}"}
            for row in waiting_rows(session, account_id)]


# -- the draft as JSON and back: every field of the records, whatever fields they gain ---------------

_RECORDS = {"DocumentDraft": r.DocumentDraft, "DraftLine": r.DraftLine}


def draft_to_json(draft: r.DocumentDraft) -> dict[str, Any]:
    return _encode(draft)


def draft_from_json(data: dict[str, Any]) -> r.DocumentDraft:
    draft = _decode(data)
    assert isinstance(draft, r.DocumentDraft), "a waiting row holds a DocumentDraft"
    return draft


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        assert _RECORDS.get(name) is type(value), f"cannot store a {name}"
        return {"$record": name, "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, Fraction):
        return {"$fraction": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value), "JSON keys are strings"
        return {"$dict": {k: _encode(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in a waiting invoice's draft")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$record" in value:
        cls = _RECORDS[value["$record"]]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: _decode(v) for k, v in value["fields"].items() if k in known})
    [(tag, inner)] = value.items()
    if tag == "$decimal":
        return Decimal(inner)
    if tag == "$fraction":
        return Fraction(inner)
    if tag == "$datetime":
        return datetime.fromisoformat(inner)
    if tag == "$date":
        return date.fromisoformat(inner)
    if tag == "$tuple":
        return tuple(_decode(v) for v in inner)
    if tag == "$dict":
        return {k: _decode(v) for k, v in inner.items()}
    raise ValueError(f"unknown tag {tag} in a waiting invoice's draft")
