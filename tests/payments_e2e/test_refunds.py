"""A card-paid account terminates: the refund goes out through Stripe once and the webhook closes
it; the ledger settles refunds_payable against the card clearing account; reconciliation passes."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from billing.db import models as m
from tests.payments_e2e.conftest import epoch


def paid_by_card_then_terminated(api, fake_stripe):
    api.setup({"acme": 2})
    api.run("2026-03-16")
    checkout = api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()
    completed, _ = fake_stripe.complete_session(checkout["session_id"],
                                                created=epoch("2026-03-18T10:00:00+01:00"))
    assert api.webhook(fake_stripe, completed).json()["outcome"] == "booked"
    api.run("2026-03-18")
    api.event("account.terminated", "acme", "2026-03-20T09:00:00+01:00", by="customer", reason="closing")
    api.run("2026-03-20")
    return fake_stripe.sessions[checkout["session_id"]]["payment_intent"]


def test_card_refund_executed_and_closed_by_webhook(api, fake_stripe):
    intent = paid_by_card_then_terminated(api, fake_stripe)
    # refund = 10,312 − R(2 × 9,990 × 5/31) = 10,312 − R(3,222.58) = 10,312 − 3,223 = 7,089
    assert api.state("acme")["state"] == "terminated" and api.state("acme")["balance"] == "0"
    [note] = api.documents("acme", "credit_note")
    assert (note["number"], note["gross"], note["references"]) == ("CRN-2026-000001", "-7089", ["INV-2026-000001"])
    [refund] = api.get("/v1/refunds", params={"as_of": "2026-03-20"}).json()["refunds"]
    assert (refund["amount"], refund["due_date"], refund["state"]) == ("7089", "2026-04-19", "open")
    assert [(p["method"], p["state"], p["external_id"]) for p in refund["parts"]] == [("card", "due", intent)]

    executed = api.post("/v1/refunds/execute", expect=200).json()
    assert [s["amount"] for s in executed["submitted"]] == ["7089"] and executed["errors"] == []
    [(stripe_id, stripe_refund)] = fake_stripe.refunds.items()
    assert (stripe_refund["amount"], stripe_refund["payment_intent"]) == (708900, intent)  # 7,089 × 100
    assert fake_stripe.requests[-1][3] == "refund:CRN-2026-000001:0"
    assert api.post("/v1/refunds/execute", expect=200).json()["submitted"] == []  # already submitted
    assert len(fake_stripe.refunds) == 1
    [refund] = api.get("/v1/refunds", params={"as_of": "2026-03-20"}).json()["refunds"]
    assert refund["parts"][0]["state"] == "submitted"

    settled = fake_stripe.refund_event(stripe_id, "succeeded", created=epoch("2026-03-21T09:00:00+01:00"))
    assert api.webhook(fake_stripe, settled).json()["outcome"] == "refund_succeeded"
    assert api.webhook(fake_stripe, settled).json()["outcome"] == "duplicate_event"
    other = fake_stripe.refund_event(stripe_id, "succeeded")  # Stripe's next event about it
    assert api.webhook(fake_stripe, other).json()["outcome"] == "refund_already_closed"
    states = [s.status for s in api.table(m.RefundStatusRow)]
    assert states == ["due", "submitted", "succeeded"]
    assert api.get("/v1/refunds", params={"status": "due", "as_of": "2026-03-21"}).json()["refunds"] == []
    [refund] = api.get("/v1/refunds", params={"status": "all", "as_of": "2026-05-01"}).json()["refunds"]
    assert (refund["state"], refund["overdue"]) == ("completed", False)

    report = api.reconciliation("2026-03-21")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    assert {c["name"]: c["status"] for c in report["checks"]} == {
        "journal_entries_balance": "pass", "trial_balance_balanced": "pass", "account_balances": "pass",
        "payments_posted_once": "pass", "payments_invoiced": "pass", "reversals_applied": "pass",
        "clearing_accounts": "pass",
        "refunds_payable": "pass", "nav_status": "pass", "number_series_gapless": "pass"}
    balances = {(r["ledger_account"], r["currency"]): r["balance"] for r in report["trial_balance"]}
    assert balances[("clearing:card", "HUF")] == "3223"   # 10,312 in − 7,089 refunded
    assert balances[("refunds_payable", "HUF")] == "0"
    assert balances[("customer:acme", "HUF")] == "0"
    # revenue: 3,223 charged; VAT out of the invoice and back by the credit note:
    # 10,312 − R(10,312/1.27) = 10,312 − 8,120 = 2,192; −7,089 − R(−7,089/1.27) = −7,089 + 5,582 = −1,507
    assert balances[("revenue", "HUF")] == "-2538"      # −3,223 + 2,192 − 1,507
    assert balances[("vat_payable", "HUF")] == "-685"   # −2,192 + 1,507; 2,538 + 685 = 3,223
    card = next(c for c in report["payments_by_channel"] if c["channel"] == "card")
    assert (card["payments"], card["refunds_paid"], card["clearing_balance"]) == ("10312", "7089", "3223")
    # the day before the refund was paid out, the liability is still there and the checks still hold
    before = api.reconciliation("2026-03-20")
    assert before["ok"]
    assert {(r["ledger_account"]): r["balance"] for r in before["trial_balance"]}["refunds_payable"] == "-7089"


def test_reconciliation_flags_a_broken_invariant(api, fake_stripe):
    paid_by_card_then_terminated(api, fake_stripe)
    # a hand-made entry that credits a customer out of thin air, without its counter leg
    with api.app.state.factory.begin() as session:
        session.add(m.JournalEntry(account_id="acme", day=date(2026, 3, 20), kind="payment", amount=Decimal(100),
                                   currency="HUF", details={"method": "card"}))
    report = api.reconciliation("2026-03-21")
    failed = {c["name"] for c in report["checks"] if c["status"] == "fail"}
    assert not report["ok"]
    assert {"journal_entries_balance", "account_balances", "clearing_accounts"} <= failed
    assert api.get("/v1/reconciliation", params={"as_of": "21-03-2026"}, expect=422)
