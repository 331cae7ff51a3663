"""Termination and refunds (CONTRACT §5, issue 4): list 10,000 HUF, 20 % discount, 2 seats."""
from __future__ import annotations

import pytest


def _march_prepaid(api, terms, pay=True):
    api.plan(code="disc", price="10000", discount="20")
    # trial 1..28 February, conversion 1 March (31 days); the month costs 2 × 8,000 = 16,000
    api.account("acme", at="2026-02-01T08:00:00+01:00", plan="disc", trial_days=28, terms=terms)
    api.seats("acme", "2026-02-01T08:00:00+01:00", "u1", "u2")
    api.run("2026-03-01")
    assert api.documents("acme", "proforma")[0]["gross"] == "16000"
    if pay:
        api.pay("acme", "2026-03-01T12:00:00+01:00", "16000")


def _amounts(api, kind):
    return [e["amount"] for e in api.ledger("acme") if e["kind"] == kind]


@pytest.mark.parametrize("terms,refund,clawback", [
    # charges of 1 March: R(16,000/31) = R(516.13) = 516 → 16,000 − 516
    ("hu", "-15484", []),
    # list price of that day R(20,000/31) = R(645.16) = 645: clawback 645 − 516 = 129
    ("ro", "-15355", ["-129"]),
])
def test_termination_on_the_first_day_of_a_month(api, terms, refund, clawback):
    _march_prepaid(api, terms)
    api.event("account.terminated", "acme", "2026-03-01T18:00:00+01:00", by="customer")
    api.run("2026-03-31")
    assert _amounts(api, "charge") == ["-516"]
    assert _amounts(api, "refund") == [refund]
    assert _amounts(api, "clawback") == clawback
    assert api.state("acme")["balance"] == "0"
    [note] = api.documents("acme", "credit_note")
    assert note["gross"] == refund


@pytest.mark.parametrize("terms", ["hu", "ro"])
def test_termination_on_the_last_day_of_a_month_refunds_nothing(api, terms):
    _march_prepaid(api, terms)
    api.event("account.terminated", "acme", "2026-03-31T18:00:00+02:00", by="customer")
    api.run("2026-04-30")
    assert sum(int(a) for a in _amounts(api, "charge")) == -16000  # the whole month, day 31 included
    assert _amounts(api, "refund") == [] and _amounts(api, "clawback") == []
    assert api.documents("acme", "credit_note") == []
    april = [d for d in api.documents("acme", "proforma") if d["issue_date"] == "2026-03-20"]
    assert april and april[0]["status"] == "void"  # the April proforma is no longer asked for
    assert api.state("acme")["state"] == "terminated"


def test_termination_while_in_debt_refunds_nothing_and_keeps_the_debt(api):
    _march_prepaid(api, "hu", pay=False)
    api.event("account.terminated", "acme", "2026-03-10T18:00:00+01:00", by="customer")
    api.run("2026-03-31")
    # 1..10 March: R(16,000 × 10/31) = R(5,161.29) = 5,161 owed
    assert api.state("acme")["balance"] == "-5161"
    assert _amounts(api, "refund") == []
    assert api.documents("acme", "credit_note") == []


def test_provider_may_terminate_for_lateness_only_after_30_days(api):
    _march_prepaid(api, "hu")
    # the 20 March proforma for April (16,000) is due 28 March and never paid
    api.event("account.terminated", "acme", "2026-04-10T10:00:00+02:00", by="provider", reason="late_payment")
    api.run("2026-04-10")
    assert api.state("acme")["state"] == "past_due"  # 13 days late: the termination was rejected
    assert api.ledger("acme")[-1]["date"] == "2026-04-10"


def test_refund_goes_back_to_the_payments_latest_first(api):
    _march_prepaid(api, "hu", pay=False)
    api.pay("acme", "2026-03-02T09:00:00+01:00", "6000", method="card")
    api.pay("acme", "2026-03-03T09:00:00+01:00", "10000", method="bank_transfer")
    api.event("account.terminated", "acme", "2026-03-05T10:00:00+01:00", by="customer")
    api.run("2026-03-06")
    # charges 1..5 March: R(16,000 × 5/31) = R(2,580.65) = 2,581; refund 16,000 − 2,581 = 13,419
    assert _amounts(api, "refund") == ["-13419"]
    notes = api.documents("acme", "credit_note")
    invoices = api.documents("acme", "invoice")
    # latest invoice (10,000) fully, then 3,419 of the 6,000 one
    assert [(n["gross"], n["references"]) for n in notes] == [
        ("-10000", [invoices[1]["number"]]), ("-3419", [invoices[0]["number"]])]
    assert invoices[1]["status"] == "refunded" and invoices[0]["status"] == "partially_refunded"


def test_a_bank_refund_is_a_payout_instruction_in_the_finance_export(api):
    _march_prepaid(api, "hu", pay=False)
    api.pay("acme", "2026-03-02T09:00:00+01:00", "16000", method="bank_transfer")
    api.event("account.terminated", "acme", "2026-03-05T10:00:00+01:00", by="customer")
    api.run("2026-03-06")
    response = api.get("/v1/exports/payouts.csv", params={"as_of": "2026-04-10"})
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("refund_id,account_id,terminated_on,due_date,overdue")
    [row] = lines[1:]
    # 16,000 − R(16,000 × 5/31) = 16,000 − 2,581; due 30 days after 5 March; overdue on 10 April
    assert ",acme,2026-03-05,2026-04-04,True," in row and ",13419,HUF," in row
    assert "IBAN unknown" in row  # the payment came as an event, not from a bank statement
