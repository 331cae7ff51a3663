"""Read models of an account: what the API shows of its state and its ledger."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.accounts import buyer_data, vat_decision_view
from billing.cycle.run import dry_run, load_state
from billing.cycle.waiting import waiting_view
from billing.db import models as m
from billing.domain.records import ACCESS
from billing.domain.state import AccountState
from billing.errors import NotFound
from billing.money import fmt

# What the customer sees in the ledger and the statement: `credit` a goodwill credit (a credit note),
# `correction` a memo without amount (a correction of an invoice's buyer data, billing/ops/corrections.py).
CUSTOMER_KINDS = ("payment", "charge", "charge_correction", "charge_reversal", "clawback", "refund", "credit",
                  "correction", "payment_reversal")


def get_account(session: Session, account_id: str) -> m.Account:
    account = session.get(m.Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def current_state(session: Session, account: m.Account) -> AccountState:
    """The account as of the service's business day: the last day the cycle ran through (before any
    run, the day of the account's latest event). Events posted since the last run for days up to
    then are applied in memory by the same engine, so a new account shows its trial at once;
    events dated later wait, as they do for the cycle. Money is only posted by the cycle."""
    state = load_state(session, account)
    latest = session.scalar(select(func.max(m.PendingEvent.day)).where(m.PendingEvent.account_id == account.id))
    if latest is None:
        return state
    last_run = session.scalar(select(func.max(m.CycleRun.until)))
    horizon = max(d for d in (state.through, last_run) if d) if (state.through or last_run) else latest
    if horizon < account.created_day:
        return state
    return dry_run(session, account, horizon, state)[0]


def account_view(session: Session, account_id: str) -> dict[str, Any]:
    account = get_account(session, account_id)
    processed = load_state(session, account).through
    state = current_state(session, account)
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


def ledger_view(session: Session, account_id: str, date_from: date | None, date_to: date | None) -> dict:
    account = get_account(session, account_id)
    rows = session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account_id, m.JournalEntry.kind.in_(CUSTOMER_KINDS)
    ).order_by(m.JournalEntry.day, m.JournalEntry.id))
    balance = Decimal(0)
    entries = []
    for row in rows:
        balance += row.amount
        if (date_from and row.day < date_from) or (date_to and row.day > date_to):
            continue
        entries.append({"id": row.id, "date": row.day.isoformat(), "kind": row.kind,
                        "amount": fmt(row.amount, row.currency), "balance_after": fmt(balance, row.currency),
                        "currency": row.currency, "event_id": row.event_id,
                        "seats": row.details.get("seats"), "details": row.details})
    return {"account_id": account_id, "currency": account.currency, "entries": entries}
