"""Bad input: property-based requests from the app's own OpenAPI document, then hand-made abuse.

Every request is answered with a 4xx (or a success) and never a 5xx; a rejected request changes
nothing. Runs on SQLite only (the schema is the same on both engines)."""
from __future__ import annotations

import itertools
import json
import time
from datetime import date

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import func, select

from billing.db import models as m
from tests.e2e.conftest import ADMIN, Api

EXAMPLES_PER_OPERATION = 30  # per operation and generation mode; ~40 s in all
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test")
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path / 'fuzz.db'}")
    yield app
    app.state.engine.dispose()


def _seed(client: TestClient) -> Api:
    api = Api(client)
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    return api


def _counts(app) -> dict[str, int]:
    with app.state.factory() as session:
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table))
                for table in (m.Event, m.Account, m.Plan, m.JournalEntry, m.DocumentRow, m.AllocationRow)}


# Routes that call an outside service configured by the environment (NAV, Stripe): unconfigured in
# this test, they answer a deliberate 503 {"error": "unavailable"} (CONTRACT §7: without NAV
# credentials documents stay queued). Any other 5xx, here or elsewhere, is a failure.
OUTSIDE_SERVICE_ROUTES = {"POST /v1/nav/submit", "POST /v1/refunds/execute", "POST /v1/documents/{number}/checkout",
                          "POST /portal/{account_id}/documents/{number}/pay"}


@schemathesis.check
def no_server_error(ctx, response, case):
    """not_a_server_error, except the declared 'outside service not configured' 503."""
    if case.operation.label in OUTSIDE_SERVICE_ROUTES and response.status_code == 503:
        if response.json().get("error") == "unavailable":
            return None
    return not_a_server_error(ctx, response, case)


def _far_future(case) -> bool:
    """A clock run years ahead is allowed (up to BILLING_MAX_RUN_AHEAD_DAYS) but costs accounts × days:
    keep the random examples quick."""
    body = case.body if isinstance(case.body, dict) else {}
    until = body.get("until")
    try:
        return isinstance(until, str) and date.fromisoformat(until) > date(2027, 12, 31)
    except ValueError:
        return False


def test_schema_driven_requests_never_get_a_5xx(app):
    with TestClient(app) as client:
        _seed(client)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            assume(not _far_future(case))
            case.call_and_validate(headers=AUTH, checks=[no_server_error, response_schema_conformance])

        try:
            check()
        except Unsatisfiable:
            continue  # no invalid variant exists (e.g. only free-form string parameters)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    elapsed = time.monotonic() - started
    assert not failures, "\n\n".join(failures)
    assert elapsed < 120, f"the fuzz pass took {elapsed:.0f} s"


# ---------------------------------------------------------------------------------------------
# Hand-made bad input. Each answer is a 4xx with a JSON body naming the problem, and nothing is stored.

@pytest.fixture
def seeded(app):
    client = TestClient(app, raise_server_exceptions=False)
    with client:
        yield _seed(client), app


def _rejected(response, *statuses: int) -> dict:
    assert response.status_code in (statuses or (400, 413, 415, 422)), (response.status_code, response.text)
    body = response.json()
    assert body["error"] and body["message"], body
    return body


EVENT = {"id": "pay-1", "type": "payment.received", "account_id": "acme",
         "occurred_at": "2026-03-18T09:00:00+01:00",
         "data": {"amount": "10312", "currency": "HUF", "method": "bank_transfer", "reference": None,
                  "external_id": "x-1"}}


@pytest.mark.parametrize("path", ["/v1/events", "/v1/plans", "/v1/clock/run", "/v1/webhooks/endpoints",
                                  "/v1/accounts/acme/portal-link"])
@pytest.mark.parametrize("raw", [b"{", b"{'until': 1}", b"\xff\xfe\x00garbage", b"[1, 2", b"null x"])
def test_malformed_json_is_a_4xx(seeded, path, raw):
    api, app = seeded
    before = _counts(app)
    response = api.client.post(path, content=raw, headers={**AUTH, "content-type": "application/json"})
    _rejected(response)
    assert _counts(app) == before


@pytest.mark.parametrize("body, field", [
    ({**EVENT, "data": {**EVENT["data"], "amount": 10312.0}}, "amount"),            # a float near money
    ({**EVENT, "data": {**EVENT["data"], "amount": "1e3"}}, "amount"),              # exponent notation
    ({**EVENT, "data": {**EVENT["data"], "amount": "NaN"}}, "amount"),
    ({**EVENT, "data": {**EVENT["data"], "amount": "-5"}}, "amount"),
    ({**EVENT, "data": {**EVENT["data"], "amount": "10312.5"}}, "amount"),          # HUF has no decimals
    ({**EVENT, "occurred_at": 1773820800}, "occurred_at"),
    ({**EVENT, "occurred_at": "2026-03-18T09:00:00"}, "occurred_at"),               # no offset
    ({**EVENT, "type": ["payment.received"]}, "type"),
    ({**EVENT, "account_id": None}, "account_id"),
    ({**EVENT, "data": "everything"}, "data"),
    ({**EVENT, "surprise": 1}, "surprise"),                                          # unknown field
    ({**EVENT, "data": {**EVENT["data"], "tip": "100"}}, "tip"),                     # unknown data field
    ({"events": [EVENT, {**EVENT, "id": "pay-2", "data": {**EVENT["data"], "amount": 1.5}}]}, "amount"),
    ({"events": "all of them"}, "events"),
    ({"events": []}, "events"),
])
def test_wrong_event_payloads_are_refused_and_store_nothing(seeded, body, field):
    api, app = seeded
    before = _counts(app)
    body = _rejected(api.client.post("/v1/events", json=body, headers=AUTH), 422)
    assert field in json.dumps(body["details"]), body
    assert _counts(app) == before


@pytest.mark.parametrize("body, field", [
    ({"code": "x", "name": "X", "currency": "HUF", "monthly_seat_price": 9990.0}, "monthly_seat_price"),
    ({"code": "x", "name": "X", "currency": "HUF", "monthly_seat_price": "9990", "discount_percent": 100},
     "discount_percent"),
    ({"code": "x", "name": "X", "currency": "HUF", "monthly_seat_price": "9990", "colour": "red"}, "colour"),
    ({"code": "x", "name": "X", "currency": "XXX", "monthly_seat_price": "9990"}, "currency"),
    ({"code": "x", "name": "X", "currency": "HUF", "monthly_seat_price": "-1"}, "monthly_seat_price"),
    ({"code": "x", "name": "X", "currency": "HUF", "monthly_seat_price": "9990", "prices_include_vat": "yes"},
     "prices_include_vat"),
])
def test_wrong_plan_payloads_are_refused(seeded, body, field):
    api, app = seeded
    before = _counts(app)
    body = _rejected(api.client.post("/v1/plans", json=body, headers=AUTH), 422)
    assert field in json.dumps(body), body
    assert _counts(app) == before


@pytest.mark.parametrize("body", [{"until": "2026-02-30"}, {"until": 20260318}, {"until": "2026-03-18", "x": 1},
                                  {}, {"until": None}, {"until": "18/03/2026"}])
def test_wrong_clock_runs_are_refused(seeded, body):
    api, app = seeded
    before = _counts(app)
    _rejected(api.client.post("/v1/clock/run", json=body, headers=AUTH), 422)
    assert _counts(app) == before


def test_a_body_over_the_limit_gets_413(seeded):
    api, app = seeded
    before = _counts(app)
    huge = b'{"events": [' + b'{"id": "x"},' * (500_000) + b'{"id": "y"}]}'  # ~6 MB > 5 MiB default
    assert len(huge) > 5 * 1024 * 1024
    for path in ("/v1/events", "/v1/plans", "/v1/payments/bank-statements"):
        _rejected(api.client.post(path, content=huge, headers={**AUTH, "content-type": "application/json"}), 413)
    assert _counts(app) == before


def test_billing_max_body_bytes_set_before_create_app_gives_413(tmp_path, monkeypatch):
    import billing.config  # noqa: F401  (already imported in any real process before the env is read)

    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("BILLING_MAX_BODY_BYTES", "1024")
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path / 'limit.db'}")
    with TestClient(app) as client:
        plan = {"code": "x", "name": "X" * 2000, "currency": "HUF", "monthly_seat_price": "9990"}
        _rejected(client.post("/v1/plans", json=plan, headers=AUTH), 413)
    app.state.engine.dispose()


def test_a_chunked_body_over_the_limit_gets_413(seeded):
    api, app = seeded
    before = _counts(app)

    def chunks():
        yield b'{"events": ['
        for _ in range(700):
            yield b'{"id": "x", "pad": "' + b"a" * 10_000 + b'"},'
        yield b'{"id": "y"}]}'

    response = api.client.post("/v1/events", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    _rejected(response, 413)
    assert _counts(app) == before


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&xxe;</Id>
</Stmt></BkToCstmrStmt></Document>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">""" + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)) + b"""]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&lol9;</Id>
</Stmt></BkToCstmrStmt></Document>"""


def _bank_route(app) -> bool:
    return any(getattr(r, "path", None) == "/v1/payments/bank-statements" for r in app.routes)


@pytest.mark.parametrize("payload", [XXE, XXE_PARAMETER, LAUGHS, b"<Document", b"not xml at all", b"",
                                     b"<?xml version='1.0'?><Document xmlns='urn:wrong'/>"],
                         ids=["xxe", "xxe-parameter", "billion-laughs", "truncated", "text", "empty", "wrong-ns"])
def test_hostile_bank_statements_are_refused_and_store_nothing(seeded, payload):
    api, app = seeded
    if not _bank_route(app):
        pytest.skip("POST /v1/payments/bank-statements is not wired")
    from billing.payments import models as pm

    before = _counts(app)
    started = time.monotonic()
    response = api.client.post("/v1/payments/bank-statements", content=payload,
                               headers={**AUTH, "content-type": "application/xml"})
    assert time.monotonic() - started < 5, "an entity expansion must not be attempted"
    body = _rejected(response, 400, 415, 422)
    assert b"root:" not in response.content  # /etc/passwd never echoed
    assert _counts(app) == before
    with app.state.factory() as session:
        assert session.scalar(select(func.count()).select_from(pm.BankEntry)) == 0
    assert body["error"]


def test_a_bank_statement_as_json_is_415(seeded):
    api, app = seeded
    if not _bank_route(app):
        pytest.skip("POST /v1/payments/bank-statements is not wired")
    _rejected(api.client.post("/v1/payments/bank-statements", json={"a": 1}, headers=AUTH), 415)


@pytest.mark.parametrize("path, method", [("/v1/webhooks/endpoints/{}", "DELETE"),
                                          ("/v1/webhooks/dead-letters/{}/retry", "POST")])
def test_integer_path_ids_out_of_range(seeded, path, method):
    api, _ = seeded
    response = api.client.request(method, path.format(2**64), headers=AUTH)
    assert response.status_code in (404, 422), response.status_code


def test_a_clock_run_to_the_far_future_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path / 'far.db'}")  # no accounts: the run itself is instant
    with TestClient(app) as client:
        _rejected(client.post("/v1/clock/run", json={"until": "9999-12-31"}, headers=AUTH), 422)
    app.state.engine.dispose()
