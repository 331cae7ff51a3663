"""Card payments over HTTP: checkout for an open proforma, signed webhooks, exactly-once booking."""
from __future__ import annotations

from decimal import Decimal

from billing.payments import models as pm
from billing.db import models as m
from tests.payments_e2e.conftest import epoch

PAID_AT = epoch("2026-03-18T10:00:00+01:00")


def open_proforma(api):
    api.setup({"acme": 2, "beta": 1})
    api.run("2026-03-16")
    [proforma] = api.documents("acme", "proforma")
    assert proforma["number"] == "PRO-2026-000001"
    assert proforma["gross"] == "10312"  # R(2 × 9,990 × 16/31) = R(10,312.26)
    return proforma


def test_checkout_webhook_invoice_and_exactly_once(api, fake_stripe):
    open_proforma(api)
    first = api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()
    assert first["amount"] == "10312" and first["currency"] == "HUF"
    session = fake_stripe.sessions[first["session_id"]]
    assert session["amount_total"] == 1031200  # HUF is two-decimal at Stripe: 10,312 × 100
    assert session["metadata"] == {"proforma_number": "PRO-2026-000001", "account_id": "acme"}
    again = api.post("/v1/documents/PRO-2026-000001/checkout", expect=200).json()
    assert again["session_id"] == first["session_id"] and len(fake_stripe.sessions) == 1

    completed, succeeded = fake_stripe.complete_session(first["session_id"], created=PAID_AT)
    answer = api.webhook(fake_stripe, completed)
    assert answer.status_code == 200 and answer.json()["outcome"] == "booked", answer.text
    # Stripe redelivers the same event, then sends the sibling event of the same payment intent.
    assert api.webhook(fake_stripe, completed).json()["outcome"] == "duplicate_event"
    assert api.webhook(fake_stripe, succeeded).json()["outcome"] == "duplicate_payment"
    payments = [e for e in api.table(m.Event) if e.type == "payment.received"]
    assert len(payments) == 1
    assert payments[0].data == {"amount": "10312", "currency": "HUF", "method": "card",
                                "reference": "PRO-2026-000001", "external_id": session["payment_intent"]}
    assert payments[0].occurred_at.timestamp() == PAID_AT

    api.run("2026-03-18")
    state = api.state("acme")
    assert state["state"] == "active"
    # charges 16–18 March: R(2 × 9,990 × 3/31) = R(1,933.55) = 1,934; 10,312 − 1,934 = 8,378
    assert state["balance"] == "8378"
    [invoice] = api.documents("acme", "invoice")
    assert (invoice["number"], invoice["gross"], invoice["issue_date"]) == ("INV-2026-000001", "10312", "2026-03-18")
    assert api.document("PRO-2026-000001")["status"] == "paid"
    # the same webhook again after the run: still one payment, one invoice
    assert api.webhook(fake_stripe, succeeded).json()["outcome"] == "duplicate_event"
    api.run("2026-03-19")
    assert len(api.documents("acme", "invoice")) == 1
    # a paid proforma gets no checkout
    assert api.post("/v1/documents/PRO-2026-000001/checkout").status_code == 409
    assert api.post("/v1/documents/INV-2026-000001/checkout").status_code == 409


def test_bad_signature_is_400_and_writes_nothing(api, fake_stripe):
    open_proforma(api)
    checkout = api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()
    completed, _ = fake_stripe.complete_session(checkout["session_id"], created=PAID_AT)
    forged = api.webhook(fake_stripe, completed, secret="whsec_wrong")
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_signature"
    unsigned = api.client.post("/v1/payments/stripe/webhook", content=b'{"id": "evt_x", "type": "x"}')
    assert unsigned.status_code == 400
    old = api.webhook(fake_stripe, completed, timestamp=PAID_AT)  # replay of a capture from March
    assert old.status_code == 400
    assert api.table(pm.StripeWebhookEvent) == [] and api.table(pm.CardPayment) == []
    assert [e for e in api.table(m.Event) if e.type == "payment.received"] == []


def test_checkout_permissions_and_configuration(api, fake_stripe, monkeypatch):
    open_proforma(api)
    acme_key = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    beta_key = api.post("/v1/accounts/beta/keys", expect=201).json()["key"]
    as_acme = {"Authorization": f"Bearer {acme_key}"}
    assert api.post("/v1/documents/PRO-2026-000001/checkout", headers=as_acme).status_code == 201
    assert api.post("/v1/documents/PRO-2026-000001/checkout",
                    headers={"Authorization": f"Bearer {beta_key}"}).status_code == 404
    assert api.post("/v1/documents/PRO-2026-999999/checkout").status_code == 404
    monkeypatch.delenv("STRIPE_API_KEY")
    answer = api.post("/v1/documents/PRO-2026-000002/checkout")
    assert answer.status_code == 503 and answer.json()["error"] == "payments_not_configured"


def test_foreign_currency_and_unknown_account_are_parked(api, fake_stripe):
    from billing.payments.stripe_gateway import StripeConfig, StripeGateway

    open_proforma(api)
    gateway = StripeGateway(StripeConfig.from_env())
    urls = {"success_url": "https://x.example/ok", "cancel_url": "https://x.example/no"}
    eur = gateway.create_checkout(proforma_number="PRO-2026-000001", account_id="acme",
                                  amount=Decimal("26.00"), currency="EUR", **urls)
    ghost = gateway.create_checkout(proforma_number="PRO-2026-000077", account_id="ghost",
                                    amount=Decimal("5000"), currency="HUF", **urls)
    for session in (eur, ghost):
        completed, succeeded = fake_stripe.complete_session(session.session_id, created=PAID_AT)
        answer = api.webhook(fake_stripe, completed)
        assert answer.status_code == 200 and answer.json()["outcome"] == "parked", answer.text
        assert api.webhook(fake_stripe, succeeded).json()["outcome"] == "duplicate_payment"
    parked = api.get("/v1/payments/unmatched").json()["card_payments"]
    assert [(p["account_id"], p["amount"], p["currency"]) for p in parked] == [
        ("acme", "26.00", "EUR"), ("ghost", "5000", "HUF")]
    assert "HUF" in parked[0]["reason"] and "ghost" in parked[1]["reason"]
    assert [e for e in api.table(m.Event) if e.type == "payment.received"] == []
    api.run("2026-03-18")
    assert api.state("acme")["state"] == "awaiting_payment"  # nothing half-booked
    # unknown event types are acknowledged and ignored
    answer = api.webhook(fake_stripe, fake_stripe.event("customer.created", {"id": "cus_1"}))
    assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
