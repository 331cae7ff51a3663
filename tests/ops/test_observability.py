"""Operating it (CONTRACT §9, §7 health/ready/metrics) over HTTP on both engines: readiness, the
metrics moved by real backlogs, one JSON log line per request with its id, rate limits on the
public routes, and the event bodies typed in the OpenAPI document."""
from __future__ import annotations

import io
import json
import logging
import socket

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from billing import logs
from tests.e2e.conftest import ADMIN, Api

FINANCE, CRM = "test-finance-key", "test-crm-key"


@pytest.fixture
def app(db_url, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("BILLING_FINANCE_KEY", FINANCE)
    monkeypatch.setenv("BILLING_CRM_KEY", CRM)
    monkeypatch.setenv("BILLING_PUBLIC_RATE_LIMIT", "5/minute")
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(db_url)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def api(app):
    with TestClient(app) as client:
        yield Api(client)


def metrics(api, key=FINANCE) -> dict[str, float]:
    response = api.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def an_invoice(api):
    """acme pays its first proforma: R(2 × 9,990 × 16/31) = 10,312, invoiced on 18 March."""
    api.plan()
    api.account("acme")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    [proforma] = api.documents("acme", "proforma")
    assert proforma["gross"] == "10312"
    api.pay("acme", "2026-03-18T09:00:00+01:00", "10312", reference=proforma["number"])
    api.run("2026-03-18")
    [invoice] = api.documents("acme", "invoice")
    return invoice


def test_ready_answers_only_for_a_migrated_database(api, app):
    assert api.get("/health").json() == {"status": "ok"}
    from billing.db.alembic_runner import head_revision

    ready = api.get("/ready").json()
    assert ready["status"] == "ready" and ready["revision"] == head_revision() is not None
    with app.state.engine.begin() as connection:  # the schema falls behind the code
        connection.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    behind = api.get("/ready", expect=503).json()
    assert (behind["revision"], behind["head"]) == ("0004", head_revision())


def test_ready_is_503_when_the_database_does_not_answer(monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from service import create_app

    app = create_app(f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=2", migrate=False)
    with TestClient(app) as client:
        response = client.get("/ready")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


def test_metrics_need_the_finance_key(api):
    assert api.get("/metrics", expect=401, headers={}).status_code == 401
    assert api.get("/metrics", expect=403, headers={"Authorization": f"Bearer {CRM}"}).status_code == 403
    names = set(metrics(api))
    for name in ("billing_nav_outbox_pending", "billing_nav_outbox_oldest_age_seconds", "billing_nav_aborted",
                 "billing_mail_outbox_pending", "billing_webhook_dead_letters", "billing_invoices_waiting_for_rate",
                 "billing_unmatched_credits", "billing_cycle_last_success_timestamp_seconds",
                 "billing_cycle_duration_seconds"):
        assert name in names, name


def test_a_queued_invoice_moves_the_nav_outbox_metrics(api):
    before = metrics(api)
    assert before["billing_nav_outbox_pending"] == 0 and before["billing_cycle_last_success_timestamp_seconds"] == 0
    an_invoice(api)  # no NAV credentials: the invoice stays queued
    after = metrics(api)
    assert after["billing_nav_outbox_pending"] == 1
    assert after["billing_nav_outbox_oldest_age_seconds"] >= 0
    assert after["billing_cycle_last_success_timestamp_seconds"] > 0 and after["billing_cycle_duration_seconds"] >= 0
    requests = {k: v for k, v in after.items() if k.startswith("billing_http_requests_total")}
    assert requests["billing_http_requests_total{method=POST,route=/v1/clock/run,status=200}"] == 2
    assert requests["billing_http_requests_total{method=POST,route=/v1/events,status=201}"] == 4


def test_a_dead_webhook_moves_the_dead_letter_metric(api, app):
    from billing.webhooks.delivery import RetryPolicy, deliver_pending

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api.post("/v1/webhooks/endpoints", {"url": f"http://127.0.0.1:{port}/hook"}, expect=201)
    api.plan()
    api.account("acme")
    api.run("2026-03-16")  # conversion: the access and the first proforma are notices for the CRM
    assert metrics(api)["billing_webhook_dead_letters"] == 0
    counts = deliver_pending(app.state.factory, policy=RetryPolicy(max_attempts=1, timeout_s=1))
    assert counts["dead"] >= 1
    assert metrics(api)["billing_webhook_dead_letters"] == counts["dead"]


def test_an_unmatched_bank_credit_moves_its_metric(api):
    from tests.fakes.camt053 import Entry, Statement, build_statement  # a CAMT.053 file of our own

    api.plan()
    api.account("acme")
    xml = build_statement(Statement(entries=(Entry("5000", acct_svcr_ref="B-1", unstructured=("no reference here",)),)))
    response = api.client.post("/v1/payments/bank-statements", content=xml,
                               headers={**api.headers, "Content-Type": "application/xml"})
    assert response.status_code == 200, response.text
    assert metrics(api)["billing_unmatched_credits"] == 1


def test_one_json_line_per_request_with_its_id_and_key_id_and_no_secret(api):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.json_formatter())
    logger = logging.getLogger("billing.http")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        answer = api.get("/v1/accounts/nobody", expect=404, headers={"Authorization": f"Bearer {FINANCE}",
                                                                     "X-Request-ID": "req-42"})
        generated = api.get("/health")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert answer.headers["x-request-id"] == "req-42"
    assert len(generated.headers["x-request-id"]) == 32  # made when the caller sent none
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert {k: first[k] for k in ("event", "request_id", "method", "route", "status", "key_id")} == {
        "event": "request", "request_id": "req-42", "method": "GET", "route": "/v1/accounts/{account_id}",
        "status": 404, "key_id": "env:finance"}
    assert first["duration_ms"] >= 0 and FINANCE not in stream.getvalue()
    assert lines[1]["request_id"] == generated.headers["x-request-id"] and lines[1]["key_id"] is None


def test_a_cycle_chunk_logs_one_json_line(api, caplog):
    api.plan()
    api.account("acme")
    with caplog.at_level(logging.INFO, logger="billing.cycle"):
        api.run("2026-03-05")
    chunks = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "cycle_chunk"]
    assert len(chunks) == 1
    assert chunks[0]["accounts"] == 1 and chunks[0]["until"] == "2026-03-05" and chunks[0]["events_applied"] == 1


def test_public_routes_are_rate_limited_per_client(api):
    # BILLING_PUBLIC_RATE_LIMIT=5/minute: the sixth request to the portal in a minute is refused
    statuses = [api.client.get("/portal/acme").status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    refused = api.client.get("/portal/acme/documents/X.pdf")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # the webhook has its own budget; the keyed API has none
    assert api.client.post("/v1/payments/stripe/webhook", content=b"{}").status_code != 429
    assert all(api.get("/health").status_code == 200 for _ in range(10))


def test_the_openapi_document_types_every_event(api):
    document = api.get("/openapi.json").json()
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    single, batch = body["anyOf"]
    mapping = single["discriminator"]["mapping"]
    assert set(mapping) == {"account.created", "account.updated", "seat.activated", "seat.deactivated",
                            "plan.changed", "payment.received", "account.terminated"}
    components = document["components"]["schemas"]
    for ref in set(mapping.values()) | {batch["$ref"]}:
        assert ref.removeprefix("#/components/schemas/") in components, ref
    payment = components["PaymentData"]
    assert payment["properties"]["amount"]["type"] == "string"  # decimal strings, never JSON numbers
    assert set(payment["required"]) >= {"amount", "currency", "method"}
