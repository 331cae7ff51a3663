"""A seeded service for the API-contract tests (issue #18), on SQLite and on PostgreSQL.

Before anything is fuzzed or posted, the service holds what the path parameters will name:
plan `std`; account `acme` (HU, 2 seats from 2 March, 14 trial days) whose first proforma
PRO-2026-000001 (16 March) is paid on 18 March, so INV-2026-000001 exists, and whose April
proforma PRO-2026-000002 is issued on 20 March (the clock runs through 2026-03-20); the invoice
reported to a loopback NAV; a bank statement with one unmatched credit (B-2); a CRM webhook endpoint
whose deliveries are all dead letters (it points at a closed port). Stripe and NAV are the
loopback fakes of tests/fakes, so the payment and NAV routes do their work instead of answering 503.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN, Api
from tests.fakes.camt053 import Entry, Statement, build_statement
from tests.fakes.nav_simulator import NavSimulator
from tests.fakes.stripe_server import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe

# The default seller tax number is the buyer's 12345676-2-41 (see tests/e2e_process/conftest.py).
SELLER_TAX_NUMBER = "23456787-2-42"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@dataclass
class Seeded:
    app: Any
    client: TestClient
    api: Api
    values: dict[str, list[Any]] = field(default_factory=dict)  # path parameter -> the known values
    engine: str = ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(api: Api, app) -> dict[str, list[Any]]:
    from billing.webhooks.delivery import RetryPolicy, deliver_pending

    api.plan()  # std, 9,990 HUF a seat-month, VAT included
    api.account("acme", at="2026-03-02T10:00:00+01:00")  # 14 trial days: billed from 16 March
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    [first] = api.documents("acme", "proforma")
    assert first["number"] == "PRO-2026-000001", first
    api.pay("acme", "2026-03-18T09:00:00+01:00", first["gross"], reference=first["number"])
    api.run("2026-03-20")
    numbers = {d["kind"]: [] for d in api.documents("acme")}
    for document in api.documents("acme"):
        numbers[document["kind"]].append(document["number"])
    assert numbers["proforma"] == ["PRO-2026-000001", "PRO-2026-000002"], numbers
    assert numbers["invoice"] == ["INV-2026-000001"], numbers
    submitted = api.post("/v1/nav/submit", None, expect=200).json()
    assert submitted["submitted"], submitted

    # One bank credit that names no proforma: GET /v1/payments/unmatched lists it (the bank's B-2).
    statement = build_statement(Statement(entries=(
        Entry("7000", acct_svcr_ref="B-2", unstructured=("licence fee march",), debtor_name="Acme Kft."),)))
    answer = api.client.post("/v1/payments/bank-statements", content=statement,
                             headers={**AUTH, "Content-Type": "application/xml"})
    assert answer.status_code == 200 and answer.json()["unmatched"] == 1, answer.text
    [credit] = answer.json()["entries"]

    # A webhook endpoint nobody listens on; one delivery pass with a budget of one attempt makes
    # every notice so far a dead letter.
    endpoint = api.post("/v1/webhooks/endpoints", {"url": f"http://127.0.0.1:{_closed_port()}/hook"},
                        expect=201).json()
    with httpx.Client(timeout=2, trust_env=False) as http:
        deliver_pending(app.state.factory, policy=RetryPolicy(base_delay_s=1, max_attempts=1, timeout_s=1),
                        client=http)
    dead = api.get("/v1/webhooks/dead-letters").json()["dead_letters"]
    assert dead, "no dead letter was made"

    return {
        "account_id": ["acme"],
        "number": numbers["proforma"] + numbers["invoice"],
        "month": ["2026-03"],
        "endpoint_id": [endpoint["id"]],
        "delivery_id": [row["id"] for row in dead[:3]],
        "entry_id": [credit["entry_id"]],
        "refund_id": [1],   # no refund in the story: its handler answers 404
        "card_id": [1],     # no card on file either (acme pays by bank): 404
    }


@pytest.fixture
def seeded(db_url, monkeypatch, tmp_path):
    """The app of `service.create_app(db_url)` with the story above, and the known path values."""
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "BILLING_CRM_KEY", "BILLING_FINANCE_KEY", "BILLING_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SELLER_TAX_NUMBER", SELLER_TAX_NUMBER)
    monkeypatch.setenv("SELLER_EU_VAT_NUMBER", "HU" + SELLER_TAX_NUMBER[:8])
    # The fuzzer sends hundreds of requests from one address: the public routes' limit must not
    # turn them into 429s before they reach a handler.
    monkeypatch.setenv("BILLING_PUBLIC_RATE_LIMIT", "100000/minute")
    with FakeStripe() as stripe, NavSimulator(tax_number=SELLER_TAX_NUMBER[:8]) as nav:
        monkeypatch.setenv("STRIPE_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("STRIPE_API_BASE", stripe.base_url)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
        for name, value in nav.env().items():
            monkeypatch.setenv(name, value)
        from service import create_app

        app = create_app(db_url)
        try:
            with TestClient(app) as client:
                api = Api(client)
                values = seed(api, app)
                yield Seeded(app=app, client=client, api=api, values=values,
                             engine=db_url.split(":", 1)[0])
        finally:
            app.state.engine.dispose()


@pytest.fixture
def service(db_url, monkeypatch):
    """A fresh `service.create_app(db_url)` with nothing in it, and a client on it."""
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "BILLING_CRM_KEY", "BILLING_FINANCE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SELLER_TAX_NUMBER", SELLER_TAX_NUMBER)
    monkeypatch.setenv("SELLER_EU_VAT_NUMBER", "HU" + SELLER_TAX_NUMBER[:8])
    from service import create_app

    app = create_app(db_url)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.state.engine.dispose()


# --- the per-operation tables, printed at the end of the run ------------------------------------

REPORTS: list[str] = []


def pytest_terminal_summary(terminalreporter):
    for report in REPORTS:
        terminalreporter.write_line(report)
