"""Money entering the ledger: a payment becomes a stored `payment.received` event, which the
daily cycle credits, allocates and invoices. Shared by the webhook, the bank import, finance's
assignment and the off-session card charges; it imports nothing of the cycle (the cycle calls the
card charges)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.accounts import account_from_event
from billing.dates import BUDAPEST
from billing.db import models as m
from billing.errors import Conflict, InvalidInput
from billing.events import ingest
from billing.money import fmt


def payment_event_id(prefix: str, external: str) -> str:
    """Our event id for an outside payment; hashed when the outside id would not fit the
    Identifier pattern (128 chars of [A-Za-z0-9_.:@-])."""
    candidate = f"{prefix}:{external}"
    if len(candidate) <= 128 and all(c.isalnum() or c in "_.:@-" for c in candidate):
        return candidate
    return f"{prefix}:sha256:{hashlib.sha256(external.encode()).hexdigest()}"


def payment_event(event_id: str, account_id: str, occurred_at: datetime, amount: Decimal,
                   currency: str, method: str, reference: str | None, external_id: str) -> dict:
    return {"id": event_id, "type": "payment.received", "account_id": account_id,
            "occurred_at": occurred_at.isoformat(),
            # fmt: PostgreSQL gives NUMERIC(24, 8) back as 7000.00000000; the event is in currency precision.
            "data": {"amount": fmt(amount, currency), "currency": currency, "method": method,
                     "reference": reference, "external_id": external_id}}


def book_payment(session: Session, event: dict) -> str | None:
    """Store the payment.received event; None when stored, else why it cannot be booked.

    ingest validates the whole event (known account, currency, not terminated at that instant)
    before it adds anything, so a refusal leaves the session clean. One more rule is ours: an
    account already closed by the cycle (terminated or expired) would have the payment rejected
    later by the engine, i.e. silently lost, so it is parked now instead."""
    status = session.scalar(select(m.AccountStateRow.status).where(
        m.AccountStateRow.account_id == event["account_id"]))
    if status in ("terminated", "expired"):
        return f"account {event['account_id']} is {status}"
    try:
        ingest(session, [event], account_from_event)
    except (InvalidInput, Conflict) as exc:
        errors = (exc.details or {}).get("errors", []) if isinstance(exc.details, dict) else []
        return "; ".join(f"{e['field']}: {e['message']}" for e in errors) or exc.message
    return None


def booking_instant(day: date) -> datetime:
    """A bank credit has a booking day, no time: noon in Budapest maps to that day everywhere
    the contract cares about (and never crosses a DST edge)."""
    return datetime.combine(day, time(12, 0), tzinfo=BUDAPEST)


def pending_payments(session: Session, proforma: m.DocumentRow) -> Decimal:
    """Payments stored for this proforma that the cycle has not allocated yet: a customer who paid
    a minute ago must not be sent to pay again."""
    rows = session.scalars(select(m.Event).join(m.PendingEvent, m.PendingEvent.seq == m.Event.seq).where(
        m.PendingEvent.account_id == proforma.account_id, m.Event.type == "payment.received"))
    return sum((Decimal(e.data["amount"]) for e in rows if e.data.get("reference") == proforma.number),
               Decimal(0))
