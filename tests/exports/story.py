"""A small clock-driven story shared by the export, webhook and portal tests.

acme (HU, 2 seats at 9,990 HUF gross) converts on 16 March, pays its first proforma on 18 March
and terminates on 25 March; globex (another account) only exists so cross-account access can be
tried.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

ADMIN = "test-admin-key"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def make_client(db_url: str, monkeypatch) -> TestClient:
    """The service app, as `billing serve` builds it, on an empty database."""
    import service

    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    app: FastAPI = service.create_app(db_url)
    return TestClient(app)


def post(client: TestClient, path: str, body, expect: int | tuple = (200, 201)):
    response = client.post(path, json=body, headers=HEADERS)
    expected = expect if isinstance(expect, tuple) else (expect,)
    assert response.status_code in expected, response.text
    return response.json()


def account_data(name: str, locale: str = "hu") -> dict:
    return {"name": name, "email": "billing@example.hu", "country": "HU", "currency": "HUF", "plan": "std",
            "tax_number": "12345676-2-41", "locale": locale,
            "address": {"postal_code": "1111", "city": "Budapest", "street": "Fő utca 1."}}


def event(id_: str, type_: str, account: str, at: str, **data) -> dict:
    return {"id": id_, "type": type_, "account_id": account, "occurred_at": at, "data": data}


def open_accounts(client: TestClient, locale: str = "hu") -> None:
    post(client, "/v1/plans", {"code": "std", "name": "Standard", "currency": "HUF", "monthly_seat_price": "9990"})
    at, later = "2026-03-02T10:00:00+01:00", "2026-03-03T10:00:00+01:00"
    post(client, "/v1/events", {"events": [
        event("a-created", "account.created", "acme", at, **account_data("Acme Kft.", locale)),
        event("a-u1", "seat.activated", "acme", at, user_id="u1"),
        event("a-u2", "seat.activated", "acme", at, user_id="u2"),
        # a day later, so acme's documents come first in each number series
        event("g-created", "account.created", "globex", later, **account_data("Globex Zrt.")),
        event("g-u1", "seat.activated", "globex", later, user_id="g1"),
    ]})


def run(client: TestClient, until: str) -> None:
    post(client, "/v1/clock/run", {"until": until}, expect=200)


def pay_first_proforma(client: TestClient) -> None:
    run(client, "2026-03-16")  # PRO-2026-000001 (acme) = R(2 × 9,990 × 16/31) = 10,312
    post(client, "/v1/events", event("a-pay", "payment.received", "acme", "2026-03-18T10:00:00+01:00",
                                     amount="10312", currency="HUF", method="bank_transfer",
                                     reference="PRO-2026-000001", external_id="bank-1"))
    run(client, "2026-03-18")  # INV-2026-000001 for 10,312


def full_story(client: TestClient) -> None:
    open_accounts(client)
    pay_first_proforma(client)
    run(client, "2026-03-22")  # PRO for April on the 20th
    post(client, "/v1/events", event("a-term", "account.terminated", "acme", "2026-03-25T10:00:00+01:00",
                                     by="customer", reason="moving on"))
    run(client, "2026-03-31")  # refund of the prepaid balance left after 25 March, by credit note
