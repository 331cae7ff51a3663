"""The monthly statement of an account: opening balance, payments, charges by run of days, refunds."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import config as billing_config
from billing.accounts import buyer_of
from billing.db import models as m
from billing.errors import InvalidInput
from billing.money import fmt
from billing.views.accounts import CUSTOMER_KINDS, get_account
from invoices.documents import Statement, StatementLine
from proration.days import days_in_month


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
    payments = charges = refunds = credits = Decimal(0)
    for row in (r for r in rows if r.day >= first):
        if row.kind in ("payment", "payment_reversal"):  # a returned payment is money that never stayed
            payments += row.amount
        elif row.kind == "refund":
            refunds -= row.amount
        elif row.kind in ("credit", "correction"):  # a goodwill credit; a correction moves nothing
            credits += row.amount
        else:
            charges -= row.amount
        lines = _merge_line(lines, row)
    closing = opening + payments - charges - refunds + credits
    return Statement(account_id, month, account.currency, buyer_of(account), billing_config.seller(), opening,
                     tuple(lines), payments, charges, refunds, closing, account.locale, credits=credits)


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
        "payment_reversal": f"Payment returned ({row.details.get('source') or 'reversal'})"
                            f" {row.details.get('reason') or ''}".strip(),
        "credit": f"Goodwill credit ({', '.join(row.details.get('credit_notes', []))}): {row.details.get('reason', '')}",
        "correction": f"Correction of the buyer data of {row.details.get('corrects')} ({row.document_number}): "
                      f"{row.details.get('reason', '')}",
    }[row.kind]
    list_price = row.details.get("list_price")
    lines.append(StatementLine(row.day, row.day, row.kind, description, row.amount, seats,
                               Decimal(list_price) if list_price else None,
                               price if row.kind == "charge" else row.document_number or row.event_id, (row.id,)))
    return lines


def statement_json(st: Statement) -> dict:
    c = st.currency
    return {
        "account_id": st.account_id, "month": st.month, "currency": c,
        "opening_balance": fmt(st.opening_balance, c), "payments": fmt(st.payments, c),
        "charges": fmt(st.charges, c), "refunds": fmt(st.refunds, c), "credits": fmt(st.credits, c),
        "closing_balance": fmt(st.closing_balance, c),
        "lines": [{"from": l.date_from.isoformat(), "to": l.date_to.isoformat(), "kind": l.kind,
                   "description": l.description, "amount": fmt(l.amount, c), "seats": l.seats,
                   "days": (l.date_to - l.date_from).days + 1, "entry_ids": list(l.entry_ids)}
                  for l in st.lines],
    }
