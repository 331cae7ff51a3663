"""Read models of an account: what the API shows of its state and its ledger.

The ledger is in (day, id) order, a page at a time if asked (keyset: the cursor is the last entry
shown). `balance_after` is the running balance over the customer's kinds from the account's first
entry; a page (or a window `from`) starts from one SQL sum of the entries before its first row,
so a page costs the same at month 36 as at month 2."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from billing.accounts import buyer_data, vat_decision_view
from billing.cycle.run import dry_run, load_state
from billing.cycle.waiting import waiting_view
from billing.db import models as m
from billing.domain.records import ACCESS
from billing.domain.state import AccountState
from billing.db.money_sums import money_sums
from billing.errors import NotFound
from billing.money import fmt, has_currency_precision, quantum
from billing.views.cursors import after_key, decode_day_key, encode_day_key

# What the customer sees in the ledger and the statement: `credit` a goodwill credit (a credit note),
# `correction` a memo without amount (a correction of an invoice's buyer data, billing/ops/corrections.py).
CUSTOMER_KINDS = ("payment", "charge", "charge_correction", "charge_reversal", "clawback", "refund", "credit",
                  "correction", "payment_reversal")


def get_account(session: Session, account_id: str) -> m.Account:
    account = session.get(m.Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def current_state(session: Session, account: m.Account, stored: AccountState | None = None) -> AccountState:
    """The account as of the service's business day: the last day the cycle ran through (before any
    run, the day of the account's latest event). Events posted since the last run for days up to
    then are applied in memory by the same engine, so a new account shows its trial at once;
    events dated later wait, as they do for the cycle. Money is only posted by the cycle.
    `stored`: the stored state (load_state), when the caller has it already (decoding it is the
    larger part of reading it)."""
    state = stored if stored is not None else load_state(session, account)
    latest = session.scalar(select(func.max(m.PendingEvent.day)).where(m.PendingEvent.account_id == account.id))
    if latest is None:
        return state
    last_run = session.scalar(select(func.max(m.CycleRun.until)))
    horizon = max(d for d in (state.through, last_run) if d) if (state.through or last_run) else latest
    if horizon < account.created_day:
        return state
    return dry_run(session, account, horizon, state)[0]


def account_view(session: Session, account_id: str, stored: AccountState | None = None) -> dict[str, Any]:
    """`stored`: the account's stored state (load_state), when the caller has read it already."""
    account = get_account(session, account_id)
    stored = stored if stored is not None else load_state(session, account)
    processed = stored.through
    state = current_state(session, account, stored)  # the engine works on a copy: `stored` stays as read
    oldest = state.oldest_overdue(state.through + timedelta(days=1)) if state.through else None
    overdue_since = oldest.due_date + timedelta(days=1) if oldest and state.status not in ("terminated", "expired") else None
    # The buyer a document issued now would name: the row, with the account.updated events up to the
    # day shown laid over it (the cycle writes them on the row when it processes their day).
    buyer = buyer_data(account, pending_updates(session, account.id, state.through))
    return {
        "id": account.id, "name": buyer["name"], "state": state.status, "access": ACCESS[state.status],
        "balance": fmt(state.balance, account.currency), "currency": account.currency,
        "seats": len(state.active_users), "plan": state.plan, "country": account.country,
        "terms": account.terms, "locale": buyer["locale"],
        "trial_ends_on": (state.conversion_day - timedelta(days=1)).isoformat(),
        "conversion_day": state.conversion_day.isoformat(),
        "overdue_since": overdue_since.isoformat() if overdue_since else None,
        "processed_through": processed.isoformat() if processed else None,
        "as_of": state.through.isoformat() if state.through else None,
        "terminated_on": state.terminated_on.isoformat() if state.terminated_on else None,
        "vat": vat_decision_view(account),
        "buyer": buyer,
        # Payments credited whose invoice waits for MNB's exchange rate (CONTRACT §6)
        "invoices_waiting_for_rate": waiting_view(session, account.id),
    }


def pending_updates(session: Session, account_id: str, through: date | None) -> list[dict]:
    if through is None:
        return []
    return list(session.scalars(select(m.Event.data).join(m.PendingEvent, m.PendingEvent.seq == m.Event.seq).where(
        m.PendingEvent.account_id == account_id, m.PendingEvent.day <= through, m.Event.type == "account.updated",
    ).order_by(m.Event.occurred_at, m.Event.seq)))


LEDGER_LIST = "ledger"  # the name its cursors carry (billing/views/cursors.py)


def customer_entries(account_id: str) -> tuple[ColumnElement[bool], ...]:
    """The journal entries of the account that its ledger and its statements show."""
    return m.JournalEntry.account_id == account_id, m.JournalEntry.kind.in_(CUSTOMER_KINDS)


def ledger_view(session: Session, account_id: str, date_from: date | None, date_to: date | None,
                limit: int | None = None, cursor: str | None = None) -> dict:
    """The customer's entries by (day, id), `from`/`to` inclusive: all of them (after `cursor`, if
    given), or `limit` at a time; `next_cursor` continues after the last one shown, null at the end."""
    account = get_account(session, account_id)
    je = m.JournalEntry
    customer = customer_entries(account_id)
    query = (select(je.id, je.day, je.kind, je.amount, je.currency, je.event_id, je.details)
             .where(*customer).order_by(je.day, je.id))
    if date_from:
        query = query.where(je.day >= date_from)
    if date_to:
        query = query.where(je.day <= date_to)
    if cursor:
        query = query.where(after_key(je.day, je.id, decode_day_key(cursor, LEDGER_LIST, integer=True)))
    rows = session.execute(query if limit is None else query.limit(limit + 1)).all()
    more = limit is not None and len(rows) > limit  # one row looked ahead: null exactly at the end
    rows = rows[:limit] if more else rows
    balance = Decimal(0)
    if rows and (date_from or cursor):  # else the first row shown is the account's first entry
        first = rows[0]
        balance = money_sums(session, je.amount, (), *customer,
                             after_key(je.day, je.id, (first.day, first.id), descending=True)).get((), Decimal(0))
    entries = []
    for row in rows:
        balance += row.amount
        entries.append({"id": row.id, "date": row.day.isoformat(), "kind": row.kind,
                        "amount": fmt(row.amount, row.currency), "balance_after": fmt(balance, row.currency),
                        "currency": row.currency, "event_id": row.event_id,
                        "seats": row.details.get("seats"), "details": row.details})
    return {"account_id": account_id, "currency": account.currency, "entries": entries,
            "next_cursor": encode_day_key(LEDGER_LIST, rows[-1].day, rows[-1].id) if more else None}


def tidy(amount: Decimal, currency: str) -> Decimal:
    """A sum from SQL in the currency's digits when that is exact (it comes with the column's 8)."""
    return amount.quantize(quantum(currency)) if has_currency_precision(amount, currency) else amount
