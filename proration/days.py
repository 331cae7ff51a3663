"""Pure day arithmetic of the contract (§2, §4, §5): daily charges, cumulative rounding inside a
calendar month, projections over several months and the termination refund with clawback."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from billing.money import round_money


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=days_in_month(day))


def next_month_end(day: date) -> date:
    return month_end(month_end(day) + timedelta(days=1))


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def daily_charge(seat_count: int, monthly_price: Fraction, discount: Fraction, day: date) -> Fraction:
    """The exact charge of one day: seats × monthly price × (1 − discount) / days in that month."""
    return seat_count * monthly_price * (1 - discount) / days_in_month(day)


@lru_cache(maxsize=65536)
def span_charge(seat_count: int, monthly_price: Fraction, discount: Fraction, first: date, last: date) -> Fraction:
    """The exact charge of every day first..last, each day priced with its own month's length.
    Cached: on a proforma day the accounts on one price and seat count share their projection."""
    total = Fraction(0)
    cursor = first
    while cursor <= last:
        end = min(last, month_end(cursor))
        days = (end - cursor).days + 1
        total += seat_count * monthly_price * (1 - discount) * days / days_in_month(cursor)
        cursor = end + timedelta(days=1)
    return total


def month_spans(first: date, last: date) -> list[tuple[date, date]]:
    spans = []
    cursor = first
    while cursor <= last:
        end = min(last, month_end(cursor))
        spans.append((cursor, end))
        cursor = end + timedelta(days=1)
    return spans


def cumulative_entry(month_to_date_exact: Fraction, posted_in_month: Decimal, currency: str) -> Decimal:
    """entry(D) = R(C(D)) − what the month already posted (= R(C(D−1)) without corrections)."""
    return round_money(month_to_date_exact, currency) - posted_in_month


@dataclass(frozen=True, slots=True)
class TerminationRefund:
    clawback: Decimal  # kept from the balance: the discount given on the used days, Romanian terms
    refund: Decimal


def termination_refund(balance: Decimal, list_exact: Fraction, discounted_exact: Fraction,
                       clawback_applies: bool, currency: str) -> TerminationRefund:
    """§5: refund = max(0, balance − (R(L) − R(D))) with clawback, max(0, balance) without."""
    if balance <= 0:
        return TerminationRefund(Decimal(0), Decimal(0))
    claw = Decimal(0)
    if clawback_applies:
        claw = max(Decimal(0), round_money(list_exact, currency) - round_money(discounted_exact, currency))
    kept = min(claw, balance)
    return TerminationRefund(kept, balance - kept)
