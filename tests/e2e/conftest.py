"""An HTTP client on a fresh service per test, on SQLite and on PostgreSQL."""
from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient

ADMIN = "test-admin-key"


class Api:
    """Thin helpers so a scenario reads like the contract."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
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

    def plan(self, code="std", price="9990", currency="HUF", discount="0", include_vat=True):
        return self.post("/v1/plans", {"code": code, "name": code.title(), "currency": currency,
                                       "monthly_seat_price": price, "discount_percent": discount,
                                       "prices_include_vat": include_vat}).json()

    def event(self, type_, account, at, **data):
        body = {"id": f"ev-{next(self._ids)}", "type": type_, "account_id": account, "occurred_at": at, "data": data}
        response = self.post("/v1/events", body)
        assert response.status_code in (200, 201), response.text
        return body

    def account(self, account="acme", at="2026-03-02T10:00:00+01:00", plan="std", currency="HUF",
                country="HU", **extra):
        data = {"name": f"{account} Kft.", "email": f"billing@{account}.example", "country": country,
                "currency": currency, "plan": plan, "locale": "hu",
                "address": {"postal_code": "1111", "city": "Budapest", "street": "Fő utca 1."}}
        if country == "HU":
            data["tax_number"] = "12345676-2-41"
        data.update(extra)
        return self.event("account.created", account, at, **data)

    def seats(self, account, at, *users):
        for user in users:
            self.event("seat.activated", account, at, user_id=user)

    def pay(self, account, at, amount, currency="HUF", method="bank_transfer", reference=None):
        return self.event("payment.received", account, at, amount=amount, currency=currency, method=method,
                          reference=reference, external_id=f"x-{next(self._ids)}")

    def run(self, until):
        return self.post("/v1/clock/run", {"until": until}, expect=200).json()

    def state(self, account):
        return self.get(f"/v1/accounts/{account}").json()

    def documents(self, account, kind=None):
        docs = self.get(f"/v1/accounts/{account}/documents").json()["documents"]
        return [d for d in docs if kind is None or d["kind"] == kind]

    def ledger(self, account, **params):
        return self.get(f"/v1/accounts/{account}/ledger", params=params).json()["entries"]

    def charges(self, account):
        return [e for e in self.ledger(account) if e["kind"] == "charge"]


@pytest.fixture
def api(db_url, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        yield Api(client)
    app.state.engine.dispose()
