"""The monthly statement of an account: opening balance, payments, charges by run of days, refunds;
and the totals of its latest months at once, for the portal.

A statement reads its month's entries and one SQL sum of everything before (its opening); the
latest months' totals come from one grouped SQL sum per month and kind. Both sort a kind into
its column through `column_of`, so the two give the same figures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import config as billing_config
from billing.accounts import buyer_of
from billing.db import models as m
from billing.errors import InvalidInput
from billing.money import fmt
from billing.db.money_sums import money_sums
from billing.views.accounts import customer_entries, get_account, tidy
from invoices.documents import Statement, StatementLine
from proration.days import days_in_month


def parse_month(text: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise InvalidInput("month is YYYY-MM", {"errors": [{"field": "month", "message": str(exc)}]}) from exc
    return first, first.replace(day=days_in_month(first))


# The statement's columns, each with the sign that turns the customer-side amount into it: a
# returned payment is money that never stayed; a goodwill credit is its own column and a correction
# (a memo) moves nothing; everything else is a charge (corrections of charges, reversals, clawback).
COLUMNS = {"payments": 1, "charges": -1, "refunds": -1, "credits": 1}


def column_of(kind: str) -> str:
    if kind in ("payment", "payment_reversal"):
        return "payments"
    if kind == "refund":
        return "refunds"
    if kind in ("credit", "correction"):
        return "credits"
    return "charges"


def columns(sums_by_kind: dict[str, Decimal]) -> dict[str, Decimal]:
    """payments, charges, refunds, credits of a month from the sum of its amounts per kind."""
    out = {column: Decimal(0) for column in COLUMNS}
    for kind, amount in sums_by_kind.items():
        column = column_of(kind)
        out[column] += COLUMNS[column] * amount
    return out


def statement(session: Session, account_id: str, month: str) -> Statement:
    account = get_account(session, account_id)
    first, last = parse_month(month)
    je = m.JournalEntry
    rows = list(session.scalars(select(je).where(*customer_entries(account_id), je.day >= first, je.day <= last)
                                .order_by(je.day, je.id)))
    opening = tidy(money_sums(session, je.amount, (), *customer_entries(account_id), je.day < first)
                   .get((), Decimal(0)), account.currency)
    lines: list[StatementLine] = []
    by_kind: dict[str, Decimal] = {}
    for row in rows:
        by_kind[row.kind] = by_kind.get(row.kind, Decimal(0)) + row.amount
        lines = _merge_line(lines, row)
    totals = columns(by_kind)
    closing = opening + totals["payments"] - totals["charges"] - totals["refunds"] + totals["credits"]
    return Statement(account_id, month, account.currency, buyer_of(account), billing_config.seller(), opening,
                     tuple(lines), totals["payments"], totals["charges"], totals["refunds"], closing, account.locale,
                     credits=totals["credits"])


def _month_of(session: Session, day):
    """YYYY-MM of a date column. SQLite stores a date as its ISO text (SQLAlchemy's format), so
    its first seven characters are the month, cheaper per row than strftime."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(day, 1, 7)
    return func.to_char(day, "YYYY-MM")


@dataclass(frozen=True, slots=True)
class MonthTotals:
    """The figures of one month's statement without its lines (statement() gives the same)."""
    month: str  # YYYY-MM
    opening: Decimal
    payments: Decimal
    charges: Decimal
    refunds: Decimal
    credits: Decimal
    closing: Decimal


def latest_months(session: Session, account: m.Account, count: int) -> tuple[list[MonthTotals], int]:
    """The totals of the latest `count` months with entries the customer sees, latest first, and
    how many earlier months with entries are not among them. One grouped SQL sum per month and
    kind over the account's history; the opening of the earliest month shown is the sum of the
    groups before it."""
    je = m.JournalEntry
    sums = money_sums(session, je.amount, (_month_of(session, je.day), je.kind), *customer_entries(account.id))
    by_month: dict[str, dict[str, Decimal]] = {}
    for (month, kind), amount in sums.items():
        by_month.setdefault(month, {})[kind] = amount
    assert count >= 1
    months = sorted(by_month)
    shown, earlier = months[-count:], months[:-count]
    balance = sum((amount for month in earlier for amount in by_month[month].values()), Decimal(0))
    out = []
    for month in shown:
        totals = columns(by_month[month])
        opening, balance = balance, balance + sum(by_month[month].values(), Decimal(0))
        out.append(MonthTotals(month, tidy(opening, account.currency),
                               *(tidy(totals[c], account.currency) for c in ("payments", "charges", "refunds", "credits")),
                               tidy(balance, account.currency)))
    return out[::-1], len(earlier)


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
