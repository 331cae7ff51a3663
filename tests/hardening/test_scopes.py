"""Security walk, on SQLite and PostgreSQL: every route of the OpenAPI document, without a key, with
another account's customer key and with the key of every scope, each with its exact status; and no
personal data in the logs."""
from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from billing.payments.camt053 import entry_key
from tests.e2e.conftest import ADMIN, Api
from tests.fakes.camt053 import Entry, Statement, build_statement

CRM_KEY, FINANCE_KEY = "test-crm-key", "test-finance-key"
VICTIM = "acme"
VICTIM_NAME, VICTIM_EMAIL, VICTIM_TAX = "Victim Kereskedelmi Kft.", "szamla@victim.example", "12345676-2-41"

PUBLIC = None  # no key needed (the Stripe webhook authenticates by its signature)
CUSTOMER, CRM, FINANCE = "customer", "crm", "finance"
READ = frozenset({CRM, FINANCE, CUSTOMER})  # an account's own data: a customer key sees its account only

# Every operation of /openapi.json: the scopes `auth.require` lets through besides admin, and the
# exact status the walk below gets with such a key (admin has every scope). A new route fails
# every walk until it gets its row here. Statuses other than 2xx say why beside them: each is the
# route's own answer after the key was accepted (a key refused gives 401/403, checked below).
ROUTES: dict[str, tuple[frozenset[str] | None, int]] = {
    "GET /health": (PUBLIC, 200),
    "GET /ready": (PUBLIC, 200),
    "GET /metrics": (frozenset({FINANCE}), 200),
    "POST /v1/plans": (frozenset({CRM, FINANCE}), 201),
    "POST /v1/events": (frozenset({CRM}), 201),
    "POST /v1/clock/run": (frozenset({CRM, FINANCE}), 200),
    "GET /v1/accounts/{account_id}": (READ, 200),
    "POST /v1/accounts/{account_id}/keys": (frozenset({CRM}), 201),
    "GET /v1/accounts/{account_id}/ledger": (READ, 200),
    "GET /v1/accounts/{account_id}/explain": (READ, 200),
    "GET /v1/accounts/{account_id}/preview": (READ, 200),
    "DELETE /v1/accounts/{account_id}/personal-data": (frozenset({CRM}), 409),  # the account is still active
    "GET /v1/accounts/{account_id}/documents": (READ, 200),
    "GET /v1/documents/{number}.pdf": (READ, 200),
    "GET /v1/documents/{number}/nav.xml": (READ, 200),
    "GET /v1/documents/{number}/explain": (READ, 200),
    "GET /v1/documents/{number}": (READ, 200),
    "GET /v1/accounts/{account_id}/statements/{month}.pdf": (READ, 200),
    "GET /v1/accounts/{account_id}/statements/{month}": (READ, 200),
    "GET /v1/exports/invoices.csv": (frozenset({CRM, FINANCE}), 200),
    "GET /v1/exports/invoices.xlsx": (frozenset({CRM, FINANCE}), 200),
    "GET /v1/exports/nav.zip": (frozenset({CRM, FINANCE}), 200),
    "GET /v1/exports/payouts.csv": (frozenset({FINANCE}), 200),
    "GET /v1/webhooks/endpoints": (frozenset({CRM}), 200),
    "POST /v1/webhooks/endpoints": (frozenset({CRM}), 201),
    "DELETE /v1/webhooks/endpoints/{endpoint_id}": (frozenset({CRM}), 200),  # endpoint 1, made just before
    "GET /v1/webhooks/dead-letters": (frozenset({CRM}), 200),
    "POST /v1/webhooks/dead-letters/{delivery_id}/retry": (frozenset({CRM}), 404),  # no dead letter 1
    "POST /v1/accounts/{account_id}/portal-link": (frozenset({CRM}), 201),
    "GET /portal/{account_id}": (READ, 200),
    "GET /portal/{account_id}/documents/{number}.pdf": (READ, 200),
    "GET /portal/{account_id}/statements/{month}.pdf": (READ, 200),
    "POST /portal/{account_id}/documents/{number}/pay": (READ, 404),  # an invoice: nothing to pay by card
    "POST /portal/{account_id}/cards/{card_id}/remove": (READ, 404),  # no saved card 1 in the walk
    "GET /v1/nav/aborted": (frozenset({FINANCE}), 200),
    "POST /v1/nav/submit": (frozenset({FINANCE}), 503),  # no NAV credentials in the walk
    "POST /v1/documents/{number}/annulment": (frozenset({FINANCE}), 503),  # no NAV credentials
    "POST /v1/documents/{number}/checkout": (READ, 503),  # no STRIPE_API_KEY
    "POST /v1/payments/stripe/webhook": (PUBLIC, 503),  # no STRIPE_WEBHOOK_SECRET to check it with
    "POST /v1/payments/bank-statements": (frozenset({FINANCE}), 200),
    "GET /v1/payments/unmatched": (frozenset({FINANCE}), 200),
    "POST /v1/payments/unmatched/{entry_id}/assign": (frozenset({FINANCE}), 200),  # the credit just imported
    "POST /v1/refunds/execute": (frozenset({FINANCE}), 200),
    "POST /v1/refunds/{refund_id}/paid": (frozenset({FINANCE}), 404),  # no refund 1 in the walk
    "GET /v1/payments/reversals": (frozenset({FINANCE}), 200),
    "GET /v1/refunds": (frozenset({FINANCE}), 200),
    "GET /v1/reconciliation": (frozenset({FINANCE}), 200),
    "GET /v1/audit": (frozenset({FINANCE}), 200),
    "GET /v1/accounts": (frozenset({CRM, FINANCE}), 200),  # the list: a customer key has GET /v1/accounts/{id}
    "GET /v1/documents": (frozenset({CRM, FINANCE}), 200),
    "GET /v1/reports/mrr": (frozenset({FINANCE}), 200),
    "POST /v1/documents/{number}/corrections": (frozenset({FINANCE}), 201),
    "POST /v1/accounts/{account_id}/credits": (frozenset({FINANCE}), 201),
    "GET /v1/accounts/{account_id}/messages": (READ, 200),
    "GET /v1/messages": (frozenset({FINANCE}), 200),
}


@pytest.fixture
def world(db_url, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("BILLING_CRM_KEY", CRM_KEY)
    monkeypatch.setenv("BILLING_FINANCE_KEY", FINANCE_KEY)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(db_url)
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
        keys = {"admin": ADMIN, CRM: CRM_KEY, FINANCE: FINANCE_KEY,
                "victim": api.post(f"/v1/accounts/{VICTIM}/keys", expect=201).json()["key"],
                "other": api.post("/v1/accounts/other/keys", expect=201).json()["key"]}
        yield api, numbers, keys
    app.state.engine.dispose()


def _operations(api) -> list[tuple[str, str]]:
    paths = api.get("/openapi.json").json()["paths"]
    operations = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    missing = [f"{m} {p}" for m, p in operations if f"{m} {p}" not in ROUTES]
    assert not missing, f"routes without a row in ROUTES (scopes, status): {missing}"
    return operations


def _url(path: str, numbers: list[str]) -> str:
    invoice = next(n for n in numbers if n.startswith("INV"))
    return (path.replace("{account_id}", VICTIM).replace("{number}", invoice).replace("{month}", "2026-03")
            .replace("{endpoint_id}", "1").replace("{delivery_id}", "1").replace("{entry_id}", WALK_ENTRY)
            .replace("{refund_id}", "1").replace("{card_id}", "1"))


# The id of the walk's bank credit: its reference within the statement's account (camt053.entry_key).
WALK_ENTRY = entry_key("HU42117730161111101800000000|ref|WALK-1|tx|1")
# Valid bodies and queries, so that a refusal comes from the key, not from validation.
BODIES = {"/v1/plans": {"code": "p2", "name": "P2", "currency": "HUF", "monthly_seat_price": "100"},
          "/v1/clock/run": {"until": "2026-03-20"},
          "/v1/events": {"id": "walk-1", "type": "seat.activated", "account_id": VICTIM,
                         "occurred_at": "2026-03-19T10:00:00+01:00", "data": {"user_id": "walker"}},
          "/v1/webhooks/endpoints": {"url": "http://127.0.0.1:9/hook"},
          "/v1/payments/unmatched/{entry_id}/assign": {"account_id": VICTIM},
          "/v1/refunds/{refund_id}/paid": {"paid_on": "2026-03-20", "reference": "walk"},
          "/v1/documents/{number}/annulment": {"code": "ERRATIC_DATA", "reason": "security walk"},
          "/v1/documents/{number}/corrections": {"buyer": {"name": "Walk Kft."}, "reason": "security walk"},
          "/v1/accounts/{account_id}/credits": {"amount": "100", "reason": "security walk"}}
# one credit without a proforma number: imported as unmatched, then assigned by the walk
RAW_BODIES = {"/v1/payments/bank-statements": build_statement(Statement(
    statement_id="STMT-WALK", entries=(Entry("1000", acct_svcr_ref="WALK-1", unstructured=("walk",)),)))}
QUERIES = {"/v1/accounts/{account_id}/explain": {"date": "2026-03-10"},
           "/v1/accounts/{account_id}/preview": {"until": "2026-03-31"},
           "/v1/reports/mrr": {"month": "2026-03"}}


def _call(api, method, url, key=None, path=""):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    kwargs = {}
    if path in RAW_BODIES:
        kwargs = {"content": RAW_BODIES[path]}
        headers["Content-Type"] = "application/xml"
    elif method in ("POST", "PUT", "PATCH"):
        kwargs = {"json": BODIES.get(path, {})}
    return api.client.request(method, url, headers=headers, params=QUERIES.get(path), **kwargs)


def _leaks(response, numbers: list[str], url: str) -> list[str]:
    text = response.content.decode("utf-8", "replace")
    secrets = [VICTIM_NAME, VICTIM_EMAIL, VICTIM_TAX] + [n for n in numbers if n not in url]
    return [s for s in secrets if s in text]


def _walk(api, numbers, key, expected_of, check_leaks) -> None:
    """Call every operation in the OpenAPI order with `key`; each must answer `expected_of(op)`."""
    wrong = {}
    for method, path in _operations(api):
        op = f"{method} {path}"
        url = _url(path, numbers)
        response = _call(api, method, url, key, path)
        expected = expected_of(op)
        leaks = _leaks(response, numbers, url) if check_leaks and ROUTES[op][0] is not PUBLIC else []
        if response.status_code != expected or leaks:
            wrong[op] = (f"{response.status_code}, expected {expected}", leaks, response.text[:200])
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_every_route_needs_a_key(world):
    api, numbers, _ = world
    assert len(_operations(api)) >= 35

    def expected(op):
        scopes, status = ROUTES[op]
        return status if scopes is PUBLIC else 401

    _walk(api, numbers, None, expected, check_leaks=True)
    for path in ("/health", "/openapi.json", "/docs"):
        assert api.client.get(path).status_code == 200, path


def test_another_accounts_customer_key_sees_nothing(world):
    api, numbers, keys = world

    def expected(op):
        scopes, status = ROUTES[op]
        if scopes is PUBLIC:
            return status
        # auth.require: the customer scope on another account's resource is a 404 (nothing
        # leaks, not even that it exists); a scope the route does not take is a 403
        return 404 if CUSTOMER in scopes else 403

    _walk(api, numbers, keys["other"], expected, check_leaks=True)


@pytest.mark.parametrize("scope", ["admin", CRM, FINANCE, CUSTOMER])
def test_the_right_key_gets_through_and_the_wrong_scope_does_not(world, scope):
    api, numbers, keys = world

    def expected(op):
        scopes, status = ROUTES[op]
        if scopes is PUBLIC or scope == "admin" or scope in scopes:
            return status
        return 403

    _walk(api, numbers, keys["victim" if scope == CUSTOMER else scope], expected, check_leaks=False)


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
        documents = api.documents(VICTIM)
        assert documents
        for doc in documents:
            api.get(f"/v1/documents/{doc['number']}.pdf")
        api.get(f"/v1/accounts/{VICTIM}/statements/2026-03.pdf")
        assert api.client.delete(f"/v1/accounts/{VICTIM}/personal-data", headers=api.headers).status_code == 200
    app.state.engine.dispose()
    assert caplog.records, "the scenario logs something"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (VICTIM_NAME, VICTIM_EMAIL, "Victim", "szamla@", "Fő utca", VICTIM_TAX):
        assert secret not in text, f"personal data {secret!r} in the logs"
