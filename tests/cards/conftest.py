"""A card customer over HTTP (SQLite and PostgreSQL), with the loopback Stripe: the first proforma
paid through Checkout, which keeps the card; later ones charged off-session by the cycle."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from billing.payments.cards import CardCharge, SavedCard
from tests.payments_e2e import conftest as payments_e2e
from tests.payments_e2e.conftest import epoch

# The service with the payment routes and the loopback Stripe, as in tests/payments_e2e.
api, fake_stripe = payments_e2e.api, payments_e2e.fake_stripe

PAID_AT = epoch("2026-03-18T10:00:00+01:00")
SECOND = "PRO-2026-000002"  # issued 20 March for April (CONTRACT §4), due 28 March


@pytest.fixture(autouse=True)
def _portal_secret(monkeypatch):
    monkeypatch.setenv("BILLING_PORTAL_SECRET", "cards-test-secret")


def pay_first_by_card(api, fake, card=None) -> dict:
    """acme, 2 seats at 9,990 HUF, trial 2–15 March; PRO-2026-000001 (16 March, 10,312 HUF) paid
    through Checkout on 18 March. Returns the card Stripe kept (its payment method)."""
    api.setup({"acme": 2})
    api.run("2026-03-16")
    checkout = api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()
    completed, _ = fake.complete_session(checkout["session_id"], created=PAID_AT, card=card)
    assert api.webhook(fake, completed).json()["outcome"] == "booked"
    api.run("2026-03-18")
    assert api.state("acme")["state"] == "active"
    intent = fake.payment_intents[fake.sessions[checkout["session_id"]]["payment_intent"]]
    return fake.payment_methods[intent["payment_method"]]


def attempts(api) -> list[tuple[str, int, str, str]]:
    return sorted((c.proforma_number, c.attempt, c.charged_on.isoformat(), c.status) for c in api.table(CardCharge))


def cards(api) -> list[SavedCard]:
    return api.table(SavedCard)


def portal_link(api, account="acme") -> str:
    url = api.post(f"/v1/accounts/{account}/portal-link", {"ttl_minutes": 30}, expect=201).json()["url"]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
