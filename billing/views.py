"""Read models: what the API shows of accounts, ledgers, documents and statements."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import config as billing_config
from billing.accounts import buyer_of
from billing.cycle import dry_run, load_state
from billing.db import models as m
from billing.domain.records import ACCESS
from billing.domain.state import AccountState
from billing.errors import InvalidInput, NotFound
from billing.money import fmt
from invoices.documents import Document, Statement, StatementLine
from proration.days import days_in_month

CUSTOMER_KINDS = ("payment", "charge", "charge_correction", "charge_reversal", "clawback", "refund")


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
    return {
        "id": account.id, "name": account.name, "state": state.status, "access": ACCESS[state.status],
        "balance": fmt(state.balance, account.currency), "currency": account.currency,
        "seats": len(state.active_users), "plan": state.plan, "country": account.country,
        "terms": account.terms, "locale": account.locale,
        "trial_ends_on": (state.conversion_day - timedelta(days=1)).isoformat(),
        "conversion_day": state.conversion_day.isoformat(),
        "overdue_since": overdue_since.isoformat() if overdue_since else None,
        "processed_through": processed.isoformat() if processed else None,
        "as_of": state.through.isoformat() if state.through else None,
        "terminated_on": state.terminated_on.isoformat() if state.terminated_on else None,
        "vat": {"treatment": account.vat.get("kind"), "pending": account.vat.get("pending", False),
                "vies_reference": account.vat.get("vies_reference")},
    }


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


def paid_by_proforma(session: Session, numbers: list[str]) -> dict[str, Decimal]:
    if not numbers:
        return {}
    rows = session.execute(select(m.AllocationRow.proforma_number, m.AllocationRow.amount).where(
        m.AllocationRow.proforma_number.in_(numbers)))
    paid: dict[str, Decimal] = {}
    for number, amount in rows:
        paid[number] = paid.get(number, Decimal(0)) + amount
    return paid


def nav_status_of(session: Session, number: str, kind: str) -> str | None:
    if kind == "proforma":
        return None
    from nav_reporting.outbox import nav_status

    return nav_status(session, number)


def document_statuses(session: Session, rows: list[m.DocumentRow], state: AccountState | None,
                      paid: dict[str, Decimal] | None = None) -> dict[str, str]:
    """paid: what paid_by_proforma gives for these rows, when the caller has it already."""
    if paid is None:
        paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    credited: dict[str, Decimal] = {}
    account_ids = {r.account_id for r in rows}
    for note in session.scalars(select(m.DocumentRow).where(m.DocumentRow.kind == "credit_note",
                                                            m.DocumentRow.account_id.in_(account_ids))):
        for reference in note.body.get("references", []):
            credited[reference] = credited.get(reference, Decimal(0)) - note.gross
    today = state.through if state and state.through else None
    closed = state is not None and state.status in ("terminated", "expired")
    statuses = {}
    for row in rows:
        if row.kind == "proforma":
            unpaid = row.gross - paid.get(row.number, Decimal(0))
            if unpaid <= 0:
                statuses[row.number] = "paid"
            elif closed:
                statuses[row.number] = "void"
            elif today is not None and row.due_date < today:
                statuses[row.number] = "overdue"
            else:
                statuses[row.number] = "open"
        elif row.kind == "invoice":
            amount = credited.get(row.number, Decimal(0))
            statuses[row.number] = "paid" if amount == 0 else ("refunded" if amount >= row.gross else "partially_refunded")
        else:
            statuses[row.number] = "issued"
    return statuses


def document_summary(row: m.DocumentRow, status: str, nav_status: str | None, paid: Decimal | None = None) -> dict:
    body = row.body
    summary = {
        "number": row.number, "kind": row.kind, "account_id": row.account_id,
        "issue_date": row.issue_date.isoformat(), "due_date": row.due_date.isoformat(),
        "fulfilment_date": body.get("fulfilment_date"),
        "gross": fmt(row.gross, row.currency), "net": fmt(row.net, row.currency), "vat": fmt(row.vat, row.currency),
        "currency": row.currency, "status": status, "nav_status": nav_status,
        "period_start": body.get("period_start"), "period_end": body.get("period_end"),
        "references": body.get("references", []),
    }
    if paid is not None:
        summary["paid"] = fmt(paid, row.currency)
        summary["remaining"] = fmt(max(Decimal(0), row.gross - paid), row.currency)
    return summary


def documents_view(session: Session, account_id: str) -> dict:
    account = get_account(session, account_id)
    rows = list(session.scalars(select(m.DocumentRow).where(m.DocumentRow.account_id == account_id)
                                .order_by(m.DocumentRow.issue_date, m.DocumentRow.created_at)))
    paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    statuses = document_statuses(session, rows, load_state(session, account), paid)
    return {"account_id": account_id, "documents": [
        document_summary(r, statuses[r.number], nav_status_of(session, r.number, r.kind),
                         paid.get(r.number, Decimal(0)) if r.kind == "proforma" else None) for r in rows]}


def get_document_row(session: Session, number: str) -> m.DocumentRow:
    row = session.get(m.DocumentRow, number)
    if row is None:
        raise NotFound(f"no document {number}")
    return row


def document_view(session: Session, number: str) -> dict:
    row = get_document_row(session, number)
    account = get_account(session, row.account_id)
    paid_map = paid_by_proforma(session, [row.number] if row.kind == "proforma" else [])
    status = document_statuses(session, [row], load_state(session, account), paid_map)[row.number]
    paid = paid_map.get(row.number, Decimal(0)) if row.kind == "proforma" else None
    return {**document_summary(row, status, nav_status_of(session, row.number, row.kind), paid),
            "document": row.body, "content_hash": row.content_hash}


def frozen_document(session: Session, number: str) -> Document:
    return Document.from_json(get_document_row(session, number).body)


def parse_month(text: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise InvalidInput("month is YYYY-MM", {"errors": [{"field": "month", "message": str(exc)}]}) from exc
    return first, first.replace(day=days_in_month(first))


def statement(session: Session, account_id: str, month: str) -> Statement:
    account = get_account(session, account_id)
    first, last = parse_month(month)
    rows = list(session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account_id, m.JournalEntry.kind.in_(CUSTOMER_KINDS),
        m.JournalEntry.day <= last).order_by(m.JournalEntry.day, m.JournalEntry.id)))
    opening = sum((r.amount for r in rows if r.day < first), Decimal(0))
    lines: list[StatementLine] = []
    payments = charges = refunds = Decimal(0)
    for row in (r for r in rows if r.day >= first):
        if row.kind == "payment":
            payments += row.amount
        elif row.kind == "refund":
            refunds -= row.amount
        else:
            charges -= row.amount
        lines = _merge_line(lines, row)
    closing = opening + payments - charges - refunds
    return Statement(account_id, month, account.currency, buyer_of(account), billing_config.seller(), opening,
                     tuple(lines), payments, charges, refunds, closing, account.locale)


def _merge_line(lines: list[StatementLine], row: m.JournalEntry) -> list[StatementLine]:
    """One charge line per run of consecutive days with the same seat count and price."""
    seats = row.details.get("seats")
    price = row.details.get("monthly_price_exact")
    charge_lines = [i for i, line in enumerate(lines) if line.kind == "charge"]
    if row.kind == "charge" and charge_lines:
        index = charge_lines[-1]
        last = lines[index]
        if last.seats == seats and last.reference == price and last.date_to + timedelta(days=1) == row.day:
            lines[index] = StatementLine(last.date_from, row.day, "charge", last.description,
                                         last.amount + row.amount, seats, last.monthly_price, price,
                                         last.entry_ids + (row.id,))
            return lines
    description = {
        "payment": f"Payment ({row.details.get('method', '')}) {row.details.get('reference') or ''}".strip(),
        "charge": f"Seat licences: {seats} seats",
        "charge_correction": "Correction of earlier charges",
        "charge_reversal": "Charges reversed: no contract was formed",
        "clawback": "Discount clawback on termination",
        "refund": "Refund of the unused prepaid balance",
    }[row.kind]
    list_price = row.details.get("list_price")
    lines.append(StatementLine(row.day, row.day, row.kind, description, row.amount, seats,
                               Decimal(list_price) if list_price else None,
                               price if row.kind == "charge" else row.event_id, (row.id,)))
    return lines


def statement_json(st: Statement) -> dict:
    c = st.currency
    return {
        "account_id": st.account_id, "month": st.month, "currency": c,
        "opening_balance": fmt(st.opening_balance, c), "payments": fmt(st.payments, c),
        "charges": fmt(st.charges, c), "refunds": fmt(st.refunds, c), "closing_balance": fmt(st.closing_balance, c),
        "lines": [{"from": l.date_from.isoformat(), "to": l.date_to.isoformat(), "kind": l.kind,
                   "description": l.description, "amount": fmt(l.amount, c), "seats": l.seats,
                   "days": (l.date_to - l.date_from).days + 1, "entry_ids": list(l.entry_ids)}
                  for l in st.lines],
    }
