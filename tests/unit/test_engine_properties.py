"""Ledger invariants of the pure engine, over random seat, payment and termination histories."""
from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from billing.domain.engine import advance, new_state
from billing.domain.records import CycleConfig, Event, PriceTerms, Profile
from invoices.vat import decide_vat

START = date(2026, 1, 5)
PROFILE = Profile("acct", "HUF", "HU", "hu", 3, START, decide_vat(buyer_country="HU", eu_vat_number=None,
                                                                    vies_valid=None))


@dataclass
class FakeContext:
    config: CycleConfig = CycleConfig()
    numbers: dict = field(default_factory=dict)

    def price(self, plan, day):
        return PriceTerms(plan, "HUF", Decimal("9990"), Decimal("15"), True)

    def allocate_number(self, kind, day):
        self.numbers[kind] = self.numbers.get(kind, 0) + 1
        return f"{kind}-{self.numbers[kind]}"


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(8, 0), timezone.utc) + timedelta(minutes=minute)


@st.composite
def histories(draw):
    events = [Event("created", "account.created", "acct", _at(START, 0), START, 0, {})]
    count = draw(st.integers(min_value=0, max_value=25))
    for seq in range(1, count + 1):
        day = START + timedelta(days=draw(st.integers(min_value=0, max_value=80)))
        kind = draw(st.sampled_from(["seat.activated", "seat.activated", "seat.deactivated", "payment.received"]))
        if kind == "payment.received":
            data = {"amount": str(draw(st.integers(min_value=1, max_value=60000))), "method": "bank_transfer"}
        else:
            data = {"user_id": draw(st.sampled_from(["a", "b", "c", "d"]))}
        events.append(Event(f"e{seq}", kind, "acct", _at(day, seq), day, seq, data))
    if draw(st.booleans()):
        day = START + timedelta(days=draw(st.integers(min_value=0, max_value=80)))
        events.append(Event("term", "account.terminated", "acct", _at(day, 999), day, 999, {"by": "customer"}))
    return events


def _run(events, stops):
    state = new_state(PROFILE, "std")
    ctx = FakeContext()
    postings, documents = [], []
    for stop in stops:
        state, outcome = advance(state, PROFILE, [e for e in events if e.day <= stop and
                                                  (state.through is None or e.day > state.through)], stop, ctx)
        postings += outcome.postings
        documents += outcome.documents
    return state, postings, documents


END = START + timedelta(days=90)


@settings(max_examples=60, deadline=None)
@given(histories())
def test_every_posting_balances_and_the_balance_is_the_sum_of_postings(events):
    state, postings, _ = _run(events, [END])
    assert all(sum(amount for _, amount in p.legs) == 0 for p in postings)
    assert state.balance == sum((p.amount for p in postings), Decimal(0))
    payments = sum((p.amount for p in postings if p.kind == "payment"), Decimal(0))
    charges = -sum((p.amount for p in postings if p.kind in ("charge", "clawback", "charge_reversal")), Decimal(0))
    refunds = -sum((p.amount for p in postings if p.kind == "refund"), Decimal(0))
    assert state.balance == payments - charges - refunds
    assert refunds >= 0 and refunds <= payments


@settings(max_examples=60, deadline=None)
@given(histories())
def test_day_by_day_equals_one_jump(events):
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    jump = _run(events, [END])
    daily = _run(events, days)
    assert jump[1] == daily[1]
    assert [(d.number, d.gross, d.issue_date) for d in jump[2]] == [(d.number, d.gross, d.issue_date) for d in daily[2]]
    assert jump[0].to_json() == daily[0].to_json()


def _seats_by_day(events: list[Event], first: date, last: date) -> dict[date, int]:
    """CONTRACT §2, written out from the events: a user is billable on D if active at ANY moment of D
    (active when D began, activated on D, deactivated on D, toggled several times on D: once)."""
    seat_events = sorted((e for e in events if e.type in ("seat.activated", "seat.deactivated")),
                         key=lambda e: (e.occurred_at, e.seq))
    active: set[str] = set()
    seats = {}
    day = first
    while day <= last:
        seen_today = set(active)  # everyone active at 00:00 of D
        for event in (e for e in seat_events if e.day == day):
            if event.type == "seat.activated":
                active.add(event.data["user_id"])
            else:
                active.discard(event.data["user_id"])
            seen_today |= active  # active right after this moment
        seats[day] = len(seen_today)
        day += timedelta(days=1)
    return seats


def _round_half_up_huf(exact: Fraction) -> Decimal:
    """R for HUF (0 decimals), half-up, exact on a non-negative rational."""
    assert exact >= 0
    return Decimal(math.floor(exact + Fraction(1, 2)))


# Never paid, terminated on 16 February, the very day the first proforma (due 16 January) expires.
EXPIRES_THE_DAY_IT_ENDS = [
    Event("created", "account.created", "acct", _at(START, 0), START, 0, {}),
    Event("e1", "seat.activated", "acct", _at(START, 1), START, 1, {"user_id": "a"}),
    Event("term", "account.terminated", "acct", _at(date(2026, 2, 16), 999), date(2026, 2, 16), 999, {"by": "customer"}),
]


@settings(max_examples=40, deadline=None)
@given(histories())
@example(EXPIRES_THE_DAY_IT_ENDS)
def test_month_charges_never_drift(events):
    """Every day D: the charges posted in D's month through D are exactly −R(C(D)), C the exact
    month-to-date charge computed here from the events (CONTRACT §2), not the engine's own figure."""
    state, postings, _ = _run(events, [END])
    charges = [p for p in postings if p.kind == "charge"]
    conversion = START + timedelta(days=PROFILE.trial_days)  # 2026-01-08: trial is 5, 6, 7 Jan
    termination = next((e.day for e in events if e.type == "account.terminated"), None)
    last_charged = END if termination is None else min(termination, END)  # day T is still charged
    if state.expired_on is not None:
        # Nothing is charged from the expiry day on; the reversal is its own entry (kind
        # charge_reversal) and the charges before it stay as posted, so they are checked too.
        # expired_on, not status: a termination dated on the expiry day itself leaves the status
        # `terminated` after the expiry (the engine expires first, so that day T is not charged).
        last_charged = min(last_charged, state.expired_on - timedelta(days=1))
    # FakeContext: list 9,990 HUF per seat per month, gross; HU domestic buyer pays the VAT in it,
    # so the monthly price is 9,990 (no / 1.27); discount_percent 15 → × (1 − 15/100).
    monthly_price = Fraction(9990)
    discount = Fraction(15, 100)
    seats = _seats_by_day(events, START, END)
    assert all(conversion <= p.day <= last_charged for p in charges), \
        [(p.day, p.amount) for p in charges if not conversion <= p.day <= last_charged]
    month_exact = Fraction(0)
    posted_in_month = Decimal(0)
    day = START
    while day <= END:
        if day.day == 1:
            month_exact, posted_in_month = Fraction(0), Decimal(0)
        if conversion <= day <= last_charged:
            days_in_month = calendar.monthrange(day.year, day.month)[1]
            month_exact += seats[day] * monthly_price * (1 - discount) / days_in_month
        posted_in_month += sum((p.amount for p in charges if p.day == day), Decimal(0))
        assert posted_in_month == -_round_half_up_huf(month_exact), (day, seats[day], month_exact)
        day += timedelta(days=1)
