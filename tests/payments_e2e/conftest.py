"""A fresh service per test (SQLite and PostgreSQL) with the payment routes and a loopback Stripe."""
from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN
from tests.e2e.conftest import Api as BaseApi
from tests.fakes.stripe_server import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


class Api(BaseApi):
    """The contract helpers of tests/e2e plus the payment channels."""

    def __init__(self, client: TestClient, app) -> None:
        super().__init__(client)
        self.app = app

    def event(self, type_, account, at, **data):
        body = {"id": f"ev-{next(self._ids)}", "type": type_, "account_id": account, "occurred_at": at, "data": data}
        self.post("/v1/events", body, expect=201)

    def setup(self, accounts: dict[str, int], currency="HUF", price="9990"):
        """Plan std at 9,990 per seat; each account created 2 March 10:00 with its seats,
        trial 14 days, so charges and the first proforma start on 16 March."""
        self.post("/v1/plans", {"code": "std", "name": "Std", "currency": currency,
                                "monthly_seat_price": price}, expect=201)
        for account, seats in accounts.items():
            self.event("account.created", account, "2026-03-02T10:00:00+01:00", name=f"{account} Kft.",
                       email=f"billing@{account}.example", country="HU", currency=currency, plan="std",
                       tax_number="12345676-2-41",
                       address={"postal_code": "1111", "city": "Budapest", "street": "Fő utca 1."})
            for n in range(seats):
                self.event("seat.activated", account, "2026-03-02T10:05:00+01:00", user_id=f"{account}-u{n}")

    def document(self, number):
        return self.get(f"/v1/documents/{number}").json()

    def webhook(self, fake: FakeStripe, event: dict, **kw):
        payload, signature = fake.webhook(event, **kw)
        return self.client.post("/v1/payments/stripe/webhook", content=payload,
                                headers={"Stripe-Signature": signature, "Content-Type": "application/json"})

    def upload(self, xml: bytes, expect=200, content_type="application/xml"):
        response = self.client.post("/v1/payments/bank-statements", content=xml,
                                    headers={**self.headers, "Content-Type": content_type})
        assert response.status_code == expect, response.text
        return response.json()

    def reconciliation(self, as_of):
        return self.get("/v1/reconciliation", params={"as_of": as_of}).json()

    def table(self, model):
        from sqlalchemy import select

        with self.app.state.factory() as session:
            return list(session.scalars(select(model)))


@pytest.fixture
def fake_stripe():
    with FakeStripe() as server:
        yield server


@pytest.fixture
def api(db_url, monkeypatch, fake_stripe):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "NAV_LOGIN", "BILLING_FINANCE_KEY", "BILLING_CRM_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STRIPE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.base_url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        yield Api(client, app)
    app.state.engine.dispose()
