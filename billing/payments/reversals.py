"""Storing a payment's reversal (CONTRACT §5a) as the event the cycle applies.

A bank return, a refund made in Stripe's dashboard and a dispute's withdrawn funds all end here:
one `payment_reversals` row, claimed by its source's key (INSERT … ON CONFLICT DO NOTHING, so a
re-import or a redelivered webhook stops at the constraint), and one `payment.reversed` event in
the account's log and the cycle's queue. The cycle then undoes the payment on the event's day
(billing/domain/reversals.py): ledger, allocations, state, and a credit note for its invoice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.dates import local_day
from billing.db import models as m
from billing.domain.reversals import PAYMENT_REVERSED
from billing.money import fmt
from billing.payments import models as pm
from billing.payments.claims import insert_new
from invoices.documents import canonical_json

SOURCES = ("bank_return", "stripe_refund", "stripe_dispute")


@dataclass(frozen=True, slots=True)
class Reversal:
    key: str                # unique at its source
    source: str             # one of SOURCES
    payment_event_id: str   # the payment.received event it undoes
    amount: Decimal
    at: datetime            # when the money went back (a bank's booking day at noon, Stripe's event time)
    reference: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None


def book_reversal(session: Session, reversal: Reversal) -> tuple[pm.PaymentReversal, bool]:
    """The reversal's row and whether this call stored it (False: it was stored before)."""
    payment = session.scalars(select(m.Event).where(m.Event.id == reversal.payment_event_id)).one()
    account = session.get(m.Account, payment.account_id)
    # Never before the payment it undoes: the cycle applies an account's events in time order.
    at = max(reversal.at, payment.occurred_at + timedelta(microseconds=1))
    event_id = f"reversal:{hashlib.sha256(reversal.key.encode()).hexdigest()[:40]}"
    currency = payment.data["currency"]
    data = {"payment": payment.id, "amount": fmt(reversal.amount, currency), "currency": currency,
            "source": reversal.source, "reason": reversal.reason, "reference": reversal.reference}
    day = local_day(at, account.timezone)
    claimed = insert_new(session, pm.PaymentReversal, {
        "key": reversal.key, "source": reversal.source, "account_id": account.id,
        "payment_event_id": payment.id, "external_id": payment.data.get("external_id"),
        "amount": reversal.amount, "currency": currency, "day": day, "event_id": event_id,
        "details": reversal.details or {}})
    if claimed:
        event = m.Event(id=event_id, type=PAYMENT_REVERSED, account_id=account.id, occurred_at=at, day=day,
                        body_hash=hashlib.sha256(canonical_json(data).encode()).hexdigest(), data=data)
        session.add(event)
        session.flush()  # its seq, for the queue
        session.add(m.PendingEvent(seq=event.seq, account_id=account.id, day=day))
    row = session.scalars(select(pm.PaymentReversal).where(pm.PaymentReversal.key == reversal.key)).one()
    return row, claimed


def reversed_total(session: Session, payment_event_id: str, source: str | None = None) -> Decimal:
    query = select(pm.PaymentReversal.amount).where(pm.PaymentReversal.payment_event_id == payment_event_id)
    if source is not None:
        query = query.where(pm.PaymentReversal.source == source)
    return sum(session.scalars(query), Decimal(0))


def reversal_json(session: Session, row: pm.PaymentReversal) -> dict[str, Any]:
    """What finance sees of one: the money, where it came from, and what the cycle did with it."""
    notes = list(session.scalars(select(m.DocumentRow.number).where(
        m.DocumentRow.event_id == row.event_id).order_by(m.DocumentRow.number)))
    applied = session.scalar(select(m.JournalEntry.id).where(m.JournalEntry.event_id == row.event_id,
                                                             m.JournalEntry.kind == "payment_reversal")) is not None
    return {"id": row.id, "source": row.source, "account_id": row.account_id,
            "payment_event_id": row.payment_event_id, "external_id": row.external_id,
            "amount": fmt(row.amount, row.currency), "currency": row.currency, "day": row.day.isoformat(),
            "event_id": row.event_id, "applied": applied, "credit_notes": notes, "details": row.details}


def list_reversals(session: Session, account_id: str | None = None) -> dict[str, Any]:
    query = select(pm.PaymentReversal).order_by(pm.PaymentReversal.day, pm.PaymentReversal.id)
    if account_id is not None:
        query = query.where(pm.PaymentReversal.account_id == account_id)
    return {"reversals": [reversal_json(session, row) for row in session.scalars(query)]}
