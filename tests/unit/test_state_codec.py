"""The stored account state: what is written is read back equal, and copies are independent."""
from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, strategies as st

from billing.domain.state import (AccountState, CoveredLine, InvoiceState, PaymentState, ProformaState,
                                  proforma_from_json, proforma_json)

days = st.dates(date(2020, 1, 1), date(2035, 12, 31))
money = st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
fractions = st.fractions(max_denominator=10**6).map(lambda f: f * 10**4)
text = st.text("abcXYZ-_0123456789:", min_size=1, max_size=20)

quantities = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)
covered = st.builds(CoveredLine, text, st.none() | days, st.none() | days, quantities, money, st.none() | fractions)
proformas = st.builds(ProformaState, text, days, days, money, money, st.booleans(), st.booleans(),
                      st.none() | days, st.none() | days, st.lists(covered, max_size=3).map(tuple))
payments = st.builds(PaymentState, text, st.none() | text, st.sampled_from(["card", "bank_transfer"]), money, money)
invoices = st.builds(InvoiceState, text, money, money, st.integers(0, 99))
states = st.builds(
    AccountState, text, st.sampled_from(["trialing", "active", "past_due", "suspended"]), days, text,
    through=st.none() | days, active_users=st.lists(text, max_size=5), balance=money,
    month=st.none() | st.just("2026-03"), month_exact=fractions, month_list_exact=fractions,
    month_posted=money, charged_since_conversion=money, paid_ever=st.booleans(),
    terminated_on=st.none() | days, expired_on=st.none() | days,
    proformas=st.lists(proformas, max_size=4), payments=st.lists(payments, max_size=3),
    invoices=st.lists(invoices, max_size=3))


@given(states)
def test_state_reads_back_equal(state):
    again = AccountState.from_json(state.to_json())
    assert again == state
    assert type(again.month_exact) is Fraction and type(again.balance) is Decimal


@given(states)
def test_a_copy_shares_nothing_mutable(state):
    clone = state.copy()
    assert clone == state
    clone.active_users.append("someone-new")
    for p in clone.proformas:
        p.paid += 1
    for p in clone.payments:
        p.refunded += 1
    for i in clone.invoices:
        i.credited += 1
    assert clone.active_users != state.active_users
    if state.proformas:
        assert clone.proformas != state.proformas
    if state.payments or state.invoices:
        assert (clone.payments, clone.invoices) != (state.payments, state.invoices)


def test_an_older_state_without_newer_keys_reads_with_defaults():
    stored = {"account_id": "a", "status": "active", "conversion_day": "2026-03-14", "plan": "pro",
              "through": "2026-03-20", "balance": "-12.5", "month_exact": "37/3", "retired_key": 1,
              "proformas": [{"number": "PRO-1", "issue_date": "2026-03-14", "due_date": "2026-03-22",
                             "amount": "100"}]}
    state = AccountState.from_json(stored)
    assert state.month_exact == Fraction(37, 3) and state.balance == Decimal("-12.5")
    assert state.proformas[0].paid == 0 and state.proformas[0].period_start is None
    assert state.month_posted == 0 and state.invoices == []


@given(states, st.sampled_from(["paid", "void", "due_date", "amount", "lines"]))
def test_a_stored_proforma_is_written_back_as_read_until_it_changes(state, field):
    again = AccountState.from_json(state.to_json())
    for p in again.copy().proformas:  # a copy, as the engine advances one
        before = p.__dict__.copy()
        assert AccountState.from_json({**state.to_json(), "proformas": [proforma_json(p)]}).proformas[0] == p
        value = {"paid": p.paid + 1, "void": not p.void, "due_date": date(2036, 1, 1), "amount": p.amount + 7,
                 "lines": ()}[field]
        setattr(p, field, value)
        written = proforma_from_json(proforma_json(p))
        assert getattr(written, field) == value and written == p, before


def test_the_month_to_date_at_list_price_is_one_value_with_the_month_to_date_when_equal():
    stored = {"account_id": "a", "status": "active", "conversion_day": "2026-03-14", "plan": "pro",
              "month_exact": "99900/31", "month_list_exact": "99900/31"}
    state = AccountState.from_json(stored)
    assert state.month_list_exact is state.month_exact
    assert AccountState.from_json({**stored, "month_list_exact": "5"}).month_list_exact == 5
    state.month_list_exact = Fraction(7, 2)
    assert state.to_json()["month_list_exact"] == "7/2" and state.to_json()["month_exact"] == "99900/31"
