"""The audit trail (CONTRACT §7): every change not made by event intake names its actor (the key's
id, never the key), its action, its target and its request, in the transaction of the change."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing.db import models as m
from tests.payments_e2e.test_refunds import paid_by_card_then_terminated

FINANCE = "test-finance-key-audit"


@pytest.fixture
def finance(api, monkeypatch):
    monkeypatch.setenv("BILLING_FINANCE_KEY", FINANCE)
    return {"Authorization": f"Bearer {FINANCE}"}


def audit(api, **params):
    return api.get("/v1/audit", params=params).json()


def test_a_refund_executed_by_the_finance_key_is_audited_with_its_key_id(api, fake_stripe, finance):
    paid_by_card_then_terminated(api, fake_stripe)
    before = {row.id for row in api.table(m.AuditEntry)}
    executed = api.post("/v1/refunds/execute", expect=200, headers={**finance, "X-Request-ID": "refund-run-1"})
    assert len(executed.json()["submitted"]) == 1
    rows = [row for row in api.table(m.AuditEntry) if row.id not in before]
    assert [(r.actor, r.action, r.request_id) for r in rows] == [
        ("env:finance", "POST /v1/refunds/execute", "refund-run-1")]
    assert FINANCE not in str(audit(api))
    # nothing was left to do: the second run changes nothing and writes no audit row
    api.post("/v1/refunds/execute", expect=200, headers=finance)
    assert len(api.table(m.AuditEntry)) == len(before) + 1


def test_what_is_audited_and_what_is_not(api, fake_stripe):
    paid_by_card_then_terminated(api, fake_stripe)
    rows = api.table(m.AuditEntry)
    assert rows, "the setup made keyed changes"
    actions = {(r.actor, r.action) for r in rows}
    # the plan and the cycle runs (admin key), the checkout, Stripe's webhook
    assert ("env:admin", "POST /v1/plans") in actions
    assert ("env:admin", "POST /v1/clock/run") in actions
    assert ("env:admin", "POST /v1/documents/{number}/checkout") in actions
    assert ("stripe", "POST /v1/payments/stripe/webhook") in actions
    # event intake is its own record: no audit row for POST /v1/events
    assert not any(r.action == "POST /v1/events" for r in rows)
    checkout = next(r for r in rows if r.action == "POST /v1/documents/{number}/checkout")
    assert checkout.target == "number=PRO-2026-000001"
    # GET never writes, and a read leaves no row
    count = len(rows)
    api.get("/v1/accounts/acme")
    assert len(api.table(m.AuditEntry)) == count


def test_a_failed_change_leaves_no_audit_row(api, finance):
    api.post("/v1/plans", {"code": "std", "name": "Std", "currency": "HUF", "monthly_seat_price": "9990"},
             expect=201, headers=finance)
    count = len(api.table(m.AuditEntry))
    # a key for an unknown account: 404 before anything is written
    api.post("/v1/accounts/nobody/keys", expect=404)
    assert len(api.table(m.AuditEntry)) == count


def test_the_audit_list_pages_and_filters(api, finance, monkeypatch):
    monkeypatch.setenv("BILLING_CRM_KEY", "test-crm-key-audit")
    for n in range(5):
        api.post("/v1/plans", {"code": f"p{n}", "name": f"P{n}", "currency": "HUF", "monthly_seat_price": "100"},
                 expect=201)
    crm = {"Authorization": "Bearer test-crm-key-audit"}
    assert api.get("/v1/audit", expect=403, headers=crm).status_code == 403  # finance's, not the CRM's
    first = api.get("/v1/audit", params={"limit": 2}, headers=finance).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    api.post("/v1/plans", {"code": "late", "name": "Late", "currency": "HUF", "monthly_seat_price": "100"},
             expect=201)  # written while finance pages: it comes last, nothing repeats
    while cursor:
        page = api.get("/v1/audit", params={"limit": 2, "cursor": cursor}, headers=finance).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6 and seen == sorted(seen)
    assert api.get("/v1/audit", expect=422, params={"cursor": "nonsense"}, headers=finance).status_code == 422
    assert api.get("/v1/audit", expect=422, params={"limit": 501}, headers=finance).status_code == 422
    assert audit(api, **{"from": "2099-01-01"})["items"] == []


def test_the_audit_trail_is_append_only(api):
    api.plan()
    factory = api.app.state.factory
    with pytest.raises(DBAPIError):
        with factory.begin() as session:
            session.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DBAPIError):
        with factory.begin() as session:
            session.execute(text("DELETE FROM audit_log"))
