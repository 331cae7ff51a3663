"""Security walk: every route of the OpenAPI document, without a key, with another account's
customer key and with the right key; and no personal data in the logs."""
from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN, Api

PUBLIC = {"GET /health", "POST /v1/payments/stripe/webhook"}  # the webhook authenticates by signature
PORTAL = re.compile(r"^/portal/")  # a signed link (?token=) or a bearer key; checked separately below
VICTIM = "acme"
VICTIM_NAME, VICTIM_EMAIL, VICTIM_TAX = "Victim Kereskedelmi Kft.", "szamla@victim.example", "12345676-2-41"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path / 'scopes.db'}")
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client)
        api.plan(price="9990")
        api.account(VICTIM, at="2026-03-02T10:00:00+01:00", name=VICTIM_NAME, email=VICTIM_EMAIL)
        api.account("other", at="2026-03-02T10:00:00+01:00", name="Other Bt.", email="other@other.example")
        api.seats(VICTIM, "2026-03-02T10:05:00+01:00", "u1", "u2")
        api.run("2026-03-17")
        proforma = api.documents(VICTIM, "proforma")[0]
        api.pay(VICTIM, "2026-03-18T09:00:00+01:00", proforma["gross"], reference=proforma["number"])
        api.run("2026-03-20")
        numbers = [d["number"] for d in api.documents(VICTIM)]
        assert any(n.startswith("INV") for n in numbers), numbers
        keys = {"victim": api.post(f"/v1/accounts/{VICTIM}/keys", expect=201).json()["key"],
                "other": api.post("/v1/accounts/other/keys", expect=201).json()["key"]}
        yield api, numbers, keys
    app.state.engine.dispose()


def _operations(api) -> list[tuple[str, str]]:
    paths = api.get("/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def _url(path: str, numbers: list[str]) -> str:
    invoice = next(n for n in numbers if n.startswith("INV"))
    return (path.replace("{account_id}", VICTIM).replace("{number}", invoice).replace("{month}", "2026-03")
            .replace("{endpoint_id}", "1").replace("{delivery_id}", "1").replace("{entry_id}", "1"))


# Valid bodies and queries, so that a refusal comes from the key, not from validation.
BODIES = {"/v1/plans": {"code": "p2", "name": "P2", "currency": "HUF", "monthly_seat_price": "100"},
          "/v1/clock/run": {"until": "2026-03-20"},
          "/v1/events": {"id": "walk-1", "type": "seat.activated", "account_id": VICTIM,
                         "occurred_at": "2026-03-19T10:00:00+01:00", "data": {"user_id": "walker"}},
          "/v1/webhooks/endpoints": {"url": "http://127.0.0.1:9/hook"},
          "/v1/payments/unmatched/{entry_id}/assign": {"account_id": VICTIM},
          "/v1/documents/{number}/annulment": {"code": "ERRATIC_DATA", "reason": "security walk"}}
QUERIES = {"/v1/accounts/{account_id}/explain": {"date": "2026-03-10"},
           "/v1/accounts/{account_id}/preview": {"until": "2026-03-31"}}


def _call(api, method, url, key=None, path=""):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs = {"json": BODIES.get(path, {})} if method in ("POST", "PUT", "PATCH") else {}
    return api.client.request(method, url, headers=headers, params=QUERIES.get(path), **kwargs)


def _leaks(response, numbers: list[str], url: str) -> list[str]:
    text = response.content.decode("utf-8", "replace")
    secrets = [VICTIM_NAME, VICTIM_EMAIL, VICTIM_TAX] + [n for n in numbers if n not in url]
    return [s for s in secrets if s in text]


def test_every_route_needs_a_key(world):
    api, numbers, _ = world
    operations = _operations(api)
    assert len(operations) >= 35
    wrong = {}
    for method, path in operations:
        if f"{method} {path}" in PUBLIC:
            continue
        url = _url(path, numbers)
        response = _call(api, method, url, path=path)
        expected = (401, 403, 404) if PORTAL.match(path) else (401,)
        if response.status_code not in expected or _leaks(response, numbers, url):
            wrong[f"{method} {path}"] = (response.status_code, _leaks(response, numbers, url))
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    for path in ("/health", "/openapi.json", "/docs"):
        assert api.client.get(path).status_code == 200, path


def test_another_accounts_customer_key_sees_nothing(world):
    api, numbers, keys = world
    wrong = {}
    for method, path in _operations(api):
        if f"{method} {path}" in PUBLIC:
            continue
        url = _url(path, numbers)
        response = _call(api, method, url, keys["other"], path)
        if response.status_code not in (401, 403, 404) or _leaks(response, numbers, url):
            wrong[f"{method} {path}"] = (response.status_code, _leaks(response, numbers, url), response.text[:200])
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_the_right_key_gets_through(world):
    api, numbers, keys = world
    wrong = {}
    for method, path in _operations(api):
        url = _url(path, numbers)
        response = _call(api, method, url, ADMIN, path)
        if response.status_code in (401, 403) or response.status_code >= 500 and response.status_code != 503:
            wrong[f"admin {method} {path}"] = (response.status_code, response.text[:200])
        own_get = method == "GET" and ("{account_id}" in path or "{number}" in path) and path.startswith("/v1/")
        if own_get:
            mine = _call(api, method, url, keys["victim"], path)
            if mine.status_code != 200:
                wrong[f"customer {method} {path}"] = (mine.status_code, mine.text[:200])
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_no_personal_data_in_the_logs(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    from service import create_app

    caplog.set_level(logging.DEBUG)
    app = create_app(f"sqlite:///{tmp_path / 'logs.db'}")
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client)
        api.plan(price="9990")
        api.account(VICTIM, at="2026-03-02T10:00:00+01:00", name=VICTIM_NAME, email=VICTIM_EMAIL)
        api.seats(VICTIM, "2026-03-02T10:05:00+01:00", "u1")
        api.run("2026-03-17")
        proforma = api.documents(VICTIM, "proforma")[0]
        api.pay(VICTIM, "2026-03-18T09:00:00+01:00", proforma["gross"], reference=proforma["number"])
        api.post("/v1/events", {"id": "bad", "type": "account.created", "account_id": "x",
                                "occurred_at": "2026-03-02T10:00:00+01:00",
                                "data": {"name": VICTIM_NAME, "email": "not-an-email " + VICTIM_EMAIL,
                                         "country": "HU", "currency": "HUF", "plan": "nope"}}, expect=422)
        api.run("2026-03-25")
        api.event("account.terminated", VICTIM, "2026-03-26T12:00:00+01:00", by="customer")
        api.run("2026-03-31")
        for doc in api.documents(VICTIM):
            api.get(f"/v1/documents/{doc['number']}.pdf")
        api.get(f"/v1/accounts/{VICTIM}/statements/2026-03.pdf")
        assert api.client.delete(f"/v1/accounts/{VICTIM}/personal-data", headers=api.headers).status_code == 200
    app.state.engine.dispose()
    assert caplog.records, "the scenario logs something"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (VICTIM_NAME, VICTIM_EMAIL, "Victim", "szamla@", "Fő utca", VICTIM_TAX):
        assert secret not in text, f"personal data {secret!r} in the logs"
