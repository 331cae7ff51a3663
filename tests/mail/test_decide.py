"""The pure decision (billing/mail/decide.py): from the state before and after a step and its
Outcome, which messages, on which day, with which key. No database."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from billing.domain.records import Allocation, Outcome, RefundOrder, StateChange
from billing.domain.state import AccountState, ProformaState
from billing.mail.decide import for_step

CREATED, CONVERSION = date(2026, 3, 2), date(2026, 3, 16)


def _state(status="active", through=None, proformas=(), balance=D(0), terminated_on=None):
    return AccountState("acme", status, CONVERSION, "std", through=through, proformas=list(proformas),
                        balance=balance, terminated_on=terminated_on)


def _outcome(changes=(), allocations=(), refunds=()):
    return Outcome((), (), tuple(allocations), tuple(changes), tuple(refunds), ())


def _decide(before, after, outcome=None):
    return [(m.day.isoformat(), m.kind, m.key) for m in for_step(before, after, outcome or _outcome(), CREATED, "HUF", 8)]


def test_trial_ending_three_days_before_conversion_once_in_a_catch_up():
    before = _state("trialing", through=date(2026, 3, 10))
    after = _state("trialing", through=date(2026, 3, 15))
    assert _decide(before, after) == [("2026-03-13", "trial_ending", "trial_ending:2026-03-16")]
    # the next step starts after the day: nothing again
    assert _decide(after, _state("trialing", through=date(2026, 3, 15))) == []


def test_no_trial_ending_for_an_account_terminated_before():
    before = _state("trialing", through=date(2026, 3, 10))
    after = _state("terminated", through=date(2026, 3, 15))
    outcome = _outcome([StateChange(date(2026, 3, 12), "trialing", "terminated")])
    assert [k for _, k, _ in _decide(before, after, outcome)] == ["terminated"]


def _proforma(paid=D(0)):
    return ProformaState("PRO-1", date(2026, 3, 20), date(2026, 3, 28), D("1000"), paid)


def test_reminder_and_the_three_overdue_days_of_a_catch_up():
    before = _state("active", through=date(2026, 3, 20), proformas=[_proforma()])
    after = _state("past_due", through=date(2026, 4, 30), proformas=[_proforma()])
    outcome = _outcome([StateChange(date(2026, 3, 29), "active", "past_due")])
    decided = for_step(before, after, outcome, CREATED, "HUF", 8)
    assert [(m.day.isoformat(), m.key) for m in decided] == [
        ("2026-03-25", "payment_reminder:PRO-1"), ("2026-03-29", "overdue:PRO-1:due+1"),
        ("2026-04-12", "overdue:PRO-1:due+15"), ("2026-04-22", "overdue:PRO-1:due+25")]
    assert decided[-1].params["suspension_day"] == "2026-04-28" and decided[-1].params["consequence"] == "suspension"
    assert decided[0].params["amount"] == "1000"


def test_paid_in_the_step_counts_only_from_its_day():
    # paid 10 April: the reminder and due+1 went out (unpaid then), due+15 and due+25 not
    before = _state("active", through=date(2026, 3, 20), proformas=[_proforma()])
    after = _state("active", through=date(2026, 4, 30), proformas=[_proforma(paid=D("1000"))])
    outcome = _outcome([StateChange(date(2026, 3, 29), "active", "past_due"),
                        StateChange(date(2026, 4, 10), "past_due", "active")],
                       [Allocation("pay-1", "PRO-1", D("1000"), date(2026, 4, 10))])
    assert [k for _, _, k in _decide(before, after, outcome)] == ["payment_reminder:PRO-1", "overdue:PRO-1:due+1"]


def test_a_paid_proforma_asks_nothing():
    before = _state("active", through=date(2026, 3, 20), proformas=[_proforma(paid=D("1000"))])
    after = _state("active", through=date(2026, 4, 30), proformas=[_proforma(paid=D("1000"))])
    assert _decide(before, after) == []


def test_a_rerun_of_a_processed_day_decides_only_its_state_changes():
    day = date(2026, 4, 28)
    before = _state("past_due", through=day, proformas=[_proforma()])
    after = _state("suspended", through=day, proformas=[_proforma()])
    outcome = _outcome([StateChange(day, "past_due", "suspended")])
    decided = for_step(before, after, outcome, CREATED, "HUF", 8)
    assert [(m.kind, m.key, m.params["amount"]) for m in decided] == [("suspended", "suspended:2026-04-28", "1000")]


def test_access_restored_only_from_suspension():
    outcome = _outcome([StateChange(date(2026, 5, 2), "suspended", "active"),
                        StateChange(date(2026, 5, 3), "past_due", "active")])
    before, after = _state("suspended", through=date(2026, 5, 1)), _state("active", through=date(2026, 5, 3))
    assert _decide(before, after, outcome) == [("2026-05-02", "access_restored", "access_restored:2026-05-02")]


def test_terminated_names_the_refund_or_the_debt():
    change = StateChange(date(2026, 5, 10), "active", "terminated")
    refund = RefundOrder("acme", date(2026, 5, 10), date(2026, 6, 9), D("5000"), "HUF", (), ())
    before = _state("active", through=date(2026, 5, 9))
    with_refund = for_step(before, _state("terminated", through=date(2026, 5, 10), terminated_on=date(2026, 5, 10)),
                           _outcome([change], refunds=[refund]), CREATED, "HUF", 8)
    assert with_refund[0].params == {"terminated_on": "2026-05-10", "currency": "HUF", "refund": "5000",
                                     "due_by": "2026-06-09"}
    in_debt = for_step(before, _state("terminated", through=date(2026, 5, 10), balance=D("-700")),
                       _outcome([change]), CREATED, "HUF", 8)
    assert in_debt[0].params["debt"] == "700" and in_debt[0].params["due_by"] == "2026-05-18"  # T + 8


def test_a_past_day_has_the_status_it_had_then():
    # terminated on 1 April in the same catch-up: the reminder and due+1 of March went out, nothing after
    before = _state("active", through=date(2026, 3, 20), proformas=[_proforma()])
    after = _state("terminated", through=date(2026, 4, 30), proformas=[_proforma()], terminated_on=date(2026, 4, 1))
    outcome = _outcome([StateChange(date(2026, 3, 29), "active", "past_due"),
                        StateChange(date(2026, 4, 1), "past_due", "terminated")])
    assert [k for _, _, k in _decide(before, after, outcome)] == [
        "payment_reminder:PRO-1", "overdue:PRO-1:due+1", "terminated:2026-04-01"]
