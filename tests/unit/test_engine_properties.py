"""Ledger invariants of the pure engine, over random seat, payment and termination histories."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
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


@settings(max_examples=40, deadline=None)
@given(histories())
def test_month_charges_never_drift(events):
    """Inside a month the posted charges are exactly R(month-to-date exact charge)."""
    state, postings, _ = _run(events, [END])
    if state.status == "expired":
        return  # the reversal is its own entry; the charges stay as posted
    by_month: dict[str, Decimal] = {}
    for p in postings:
        if p.kind == "charge":
            by_month[p.day.isoformat()[:7]] = by_month.get(p.day.isoformat()[:7], Decimal(0)) - p.amount
    for month, total in by_month.items():
        last = [p for p in postings if p.kind == "charge" and p.day.isoformat()[:7] == month][-1]
        assert str(total) == last.details["month_to_date_rounded"]
