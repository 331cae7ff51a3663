"""A fresh service per test (SQLite and PostgreSQL) with the payment routes and a loopback Stripe."""
from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from tests.fakes.stripe_server import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe

ADMIN = "test-admin-key"


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


class Api:
    def __init__(self, client: TestClient, app) -> None:
        self.client, self.app = client, app
        self.headers = {"Authorization": f"Bearer {ADMIN}"}
        self._ids = itertools.count(1)

    def post(self, path, body=None, expect=None, **kw):
        response = self.client.post(path, json=body, headers=kw.pop("headers", self.headers), **kw)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    def get(self, path, expect=200, **kw):
        response = self.client.get(path, headers=kw.pop("headers", self.headers), **kw)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

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

    def run(self, until):
        return self.post("/v1/clock/run", {"until": until}, expect=200).json()

    def state(self, account):
        return self.get(f"/v1/accounts/{account}").json()

    def documents(self, account, kind=None):
        docs = self.get(f"/v1/accounts/{account}/documents").json()["documents"]
        return [d for d in docs if kind is None or d["kind"] == kind]

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
    # Until billing/api.py calls it, register the payment routes here (once).
    if not any(getattr(route, "path", None) == "/v1/payments/stripe/webhook" for route in app.routes):
        from billing.payments.routes import register_payment_routes

        register_payment_routes(app, app.state.factory, _dependency(app, "session_dep"),
                                _dependency(app, "principal_dep"))
    with TestClient(app) as client:
        yield Api(client, app)
    app.state.engine.dispose()


def _dependency(app, name):
    """The session and principal dependencies create_app built (found through an existing route),
    so the payment routes share them exactly as billing/api.py will pass them."""
    for route in app.routes:
        for dep in getattr(getattr(route, "dependant", None), "dependencies", []):
            if dep.call.__name__ == name:
                return dep.call
            for sub in dep.dependencies:
                if sub.call.__name__ == name:
                    return sub.call
    raise LookupError(name)
