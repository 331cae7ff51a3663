"""Monthly recurring revenue at a month's end, per currency and in HUF, from the ledger's own state.

The day measured (`as_of`) is the month's last day, or the last day the cycle processed if the
month is not over. For each account created by then:

- its state that day: the account_states row when the cycle's last processed day for it is
  `as_of` or earlier (the row is then the state on `as_of`, or the latest the ledger has); for an
  account processed beyond `as_of` (a past month), the last state change recorded on or before
  `as_of` (every change the cycle makes is a `state.changed`/`access.changed` notice), trialing
  before the first;
- its seats in force: the users with the right to log in at the end of that day (what the account
  view shows as `seats`), from the seat events the cycle has applied; its plan likewise;
- its price: the plan's price version in force that day (the PriceBook the cycle uses), as the
  engine charges it (CONTRACT §1: list / 1.27 on a gross plan for a buyer who pays no Hungarian
  VAT), after the discount.

MRR counts the accounts in a charging state (CONTRACT §2: awaiting_payment, active, past_due,
suspended). `mrr` is net of VAT, the revenue; `mrr_gross` is what the customers are charged
(27 % Hungarian VAT included for a domestic buyer). Each is exact until it is rounded once per
currency; its HUF value is that rounded amount at the exchange rate of `as_of`.

New accounts: those whose trial ended in the month (the state went from trialing to a charging
state: charges started). Churned: those terminated or expired in the month. Created: those whose
account.created day is in the month (trials started).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.accounts import vat_of
from billing.cycle.context import PriceBook, to_domain
from billing.cycle.issuing import RateUnavailable, exchange_rate
from billing.db import models as m
from billing.db.queries import among
from billing.domain.engine import SEAT_OR_PLAN
from billing.domain.engine import _active_at_end as active_at_end  # the engine's own rule, not a copy
from billing.domain.engine import _plan_on as plan_on
from billing.domain.records import ACCESS, CHARGING_STATES
from billing.domain.state import AccountState
from billing.errors import invalid_field
from billing.money import fmt, round_money, to_huf
from proration.days import month_end
from invoices.vat import monthly_price

STATES = tuple(ACCESS)
STATE_TOPICS = ("state.changed", "access.changed")
CHURN_STATES = ("terminated", "expired")
BATCH = 1000  # accounts read at a time


@dataclass(frozen=True, slots=True)
class MonthEnd:
    """One account on the day measured."""
    account_id: str
    currency: str
    status: str
    seats: int
    monthly_net: Fraction  # the account's MRR contributions, 0 unless it is charging
    monthly_gross: Fraction
    new: bool
    churned: str | None  # terminated | expired, when that happened in the month
    created: bool
    behind: bool  # the cycle has not processed this account through the day measured


@dataclass
class Tally:
    net: Fraction = Fraction(0)
    gross: Fraction = Fraction(0)
    seats: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    new: list[str] = field(default_factory=list)
    churned: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in CHURN_STATES})
    created: int = 0
    behind: int = 0

    def add(self, one: MonthEnd) -> None:
        self.by_state[one.status] += 1
        self.net += one.monthly_net
        self.gross += one.monthly_gross
        if one.status in CHARGING_STATES:
            self.seats += one.seats
        if one.new:
            self.new.append(one.account_id)
        if one.churned:
            self.churned[one.churned].append(one.account_id)
        self.created += one.created
        self.behind += one.behind


def month_param(value: str | None, processed: date | None) -> tuple[date, date]:
    """(first, last day) of a YYYY-MM month; by default the month of the last processed day."""
    if value is None:
        if processed is None:
            raise invalid_field("month", "the cycle has not run yet: give a month")
        return processed.replace(day=1), month_end(processed)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise invalid_field("month", "a month is YYYY-MM")
    if int(value[:4]) < 2000:
        raise invalid_field("month", "a month of this century or later")
    first = date(int(value[:4]), int(value[5:]), 1)
    if processed is None or processed < first:
        raise invalid_field("month", f"no day of {value} has been processed yet (last processed day: "
                             f"{processed.isoformat() if processed else 'none'})")
    return first, month_end(first)


def mrr_report(session: Session, month: str | None) -> dict[str, Any]:
    processed = session.scalar(select(func.max(m.CycleRun.until)))
    first, last = month_param(month, processed)
    as_of = min(last, processed)
    prices = PriceBook(session)
    tallies: dict[str, Tally] = {}
    for one in month_ends(session, prices, first, as_of):
        tallies.setdefault(one.currency, Tally()).add(one)
    currencies = {}
    total, total_net_huf, total_gross_huf = Tally(), Decimal(0), Decimal(0)
    without_rate = []
    for currency in sorted(tallies):
        tally = tallies[currency]
        net, gross = round_money(tally.net, currency), round_money(tally.gross, currency)
        currencies[currency] = {
            "currency": currency, "mrr": fmt(net, currency), "mrr_gross": fmt(gross, currency), **_counts(tally)}
        try:
            rate = exchange_rate(session, currency, as_of)
        except RateUnavailable as exc:  # no guessed rate here either: no HUF value (CONTRACT §6)
            without_rate.append(currency)
            currencies[currency].update({
                "exchange_rate": {"rate": None, "day": as_of.isoformat(), "source": "unavailable",
                                  "published_on": None, "reason": str(exc)},
                "mrr_huf": None, "mrr_gross_huf": None})
            _merge(total, tally)
            continue
        net_huf, gross_huf = to_huf(net, rate.rate), to_huf(gross, rate.rate)
        total_net_huf += net_huf
        total_gross_huf += gross_huf
        currencies[currency].update({
            "exchange_rate": {"rate": str(rate.rate), "day": as_of.isoformat(), "source": rate.source,
                              "published_on": rate.published_on.isoformat() if rate.published_on else None},
            "mrr_huf": fmt(net_huf, "HUF"), "mrr_gross_huf": fmt(gross_huf, "HUF"),
        })
        _merge(total, tally)
    # A HUF total without a currency's rate would be a wrong figure: none until MNB gives the rate.
    total_huf = {"mrr": None, "mrr_gross": None, "currencies_without_rate": without_rate} if without_rate else {
        "mrr": fmt(total_net_huf, "HUF"), "mrr_gross": fmt(total_gross_huf, "HUF")}
    return {
        "month": first.strftime("%Y-%m"), "as_of": as_of.isoformat(), "month_complete": as_of == last,
        "last_processed_day": processed.isoformat(),
        "vat": "mrr is net of VAT; mrr_gross is what the customers are charged, VAT included",
        "currencies": currencies,
        "total": {"currency": "HUF", **total_huf, **_counts(total)},
    }


def _counts(tally: Tally) -> dict[str, Any]:
    churned = sorted(tally.churned["terminated"] + tally.churned["expired"])
    return {
        "seats": tally.seats, "charging_accounts": sum(tally.by_state[s] for s in CHARGING_STATES),
        "accounts_by_state": dict(tally.by_state),
        "new": {"count": len(tally.new), "account_ids": sorted(tally.new)},
        "churned": {"count": len(churned), "terminated": len(tally.churned["terminated"]),
                    "expired": len(tally.churned["expired"]), "account_ids": churned},
        "created": tally.created,
        "accounts_behind": tally.behind,
    }


def _merge(total: Tally, tally: Tally) -> None:
    for state, count in tally.by_state.items():
        total.by_state[state] += count
    total.seats += tally.seats
    total.new += tally.new
    for state in CHURN_STATES:
        total.churned[state] += tally.churned[state]
    total.created += tally.created
    total.behind += tally.behind


def _account_batches(session: Session, as_of: date) -> Iterator[list[m.Account]]:
    after = None
    while True:
        query = select(m.Account).where(m.Account.created_day <= as_of).order_by(m.Account.id).limit(BATCH)
        if after is not None:
            query = query.where(m.Account.id > after)
        accounts = list(session.scalars(query))
        if accounts:
            yield accounts
        if len(accounts) < BATCH:
            return
        after = accounts[-1].id


def month_ends(session: Session, prices: PriceBook, first: date, as_of: date) -> Iterator[MonthEnd]:
    for accounts in _account_batches(session, as_of):
        ids = [a.id for a in accounts]
        rows = {r.account_id: r for r in session.scalars(
            select(m.AccountStateRow).where(among(session, m.AccountStateRow.account_id, ids)))}
        changes: dict[str, list[dict[str, Any]]] = {}
        for account_id, payload in session.execute(
                select(m.Notice.account_id, m.Notice.payload)
                .where(among(session, m.Notice.account_id, ids), m.Notice.topic.in_(STATE_TOPICS),
                       m.Notice.day <= as_of).order_by(m.Notice.account_id, m.Notice.day, m.Notice.id)):
            changes.setdefault(account_id, []).append(payload)
        past = [a.id for a in accounts if rows.get(a.id) is not None and rows[a.id].through is not None
                and rows[a.id].through > as_of]
        events = _applied_seat_and_plan_events(session, past, as_of)
        for account in accounts:
            yield _month_end_of(account, rows.get(account.id), changes.get(account.id, []),
                                events.get(account.id, []), prices, first, as_of)


def _applied_seat_and_plan_events(session: Session, ids: list[str], as_of: date) -> dict[str, list]:
    if not ids:
        return {}
    found: dict[str, list] = {}
    for row in session.scalars(select(m.Event).where(
            among(session, m.Event.account_id, ids), m.Event.type.in_(SEAT_OR_PLAN), m.Event.day <= as_of,
            m.event_applied()).order_by(m.Event.occurred_at, m.Event.seq)):
        found.setdefault(row.account_id, []).append(to_domain(row))
    return found


def _month_end_of(account: m.Account, row: m.AccountStateRow | None, changes: list[dict[str, Any]],
                  events: list, prices: PriceBook, first: date, as_of: date) -> MonthEnd:
    if row is not None and row.through is not None and row.through <= as_of:
        state = AccountState.from_json(row.state)
        status, seats, plan = state.status, len(state.active_users), state.plan
    elif row is not None and row.through is not None:  # processed beyond the day measured
        status = changes[-1]["new_state"] if changes else "trialing"
        seats, plan = len(active_at_end(events, as_of)), plan_on(events, as_of, account.plan)
    else:  # the cycle has not processed the account yet: nothing charged, nothing known
        status, seats, plan = "trialing", 0, account.plan
    net = gross = Fraction(0)
    if status in CHARGING_STATES:
        terms = prices.price(plan, as_of)
        vat = vat_of(account)
        discount = Fraction(terms.discount_percent) / 100
        gross = seats * monthly_price(terms.list_price, terms.prices_include_vat, vat) * (1 - discount)
        net = gross / (1 + Fraction(vat.rate))
    in_month = [c for c in changes if c["day"] >= first.isoformat()]
    churned = next((c["new_state"] for c in in_month if c["new_state"] in CHURN_STATES), None)
    return MonthEnd(
        account_id=account.id, currency=account.currency, status=status, seats=seats,
        monthly_net=net, monthly_gross=gross,
        new=any(c["old_state"] == "trialing" and c["new_state"] in CHARGING_STATES for c in in_month),
        churned=churned, created=first <= account.created_day <= as_of,
        behind=row is None or row.through is None or row.through < as_of)
