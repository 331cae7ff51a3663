"""Settled history leaves the hot state and every figure the API shows stays the same (issue #19),
over HTTP on SQLite and PostgreSQL: the same ten months of a paying account on a service that
archives (the default, 45 days) and on one that keeps everything hot, then the actions that reach
back into the archive (a goodwill credit beyond the hot invoices, a correction of an archived
invoice, the termination refund)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from billing.cycle.archive import archived_records
from billing.db import models as m
from billing.domain.compaction import with_history
from billing.domain.state import AccountState
from tests.e2e.conftest import Api

MONTHS = 10
EVERYTHING_HOT = "100000"


@pytest.fixture(autouse=True)
def _seller(monkeypatch):
    monkeypatch.setenv("SELLER_TAX_NUMBER", "23456787-2-42")
    monkeypatch.setenv("SELLER_EU_VAT_NUMBER", "HU23456787")


@pytest.fixture
def hot(tmp_path, monkeypatch):
    """A second service, on its own SQLite file, that never archives."""
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path / 'hot.db'}")
    with TestClient(app) as client:
        yield Api(client)
    app.state.engine.dispose()


def _on(api, keep, monkeypatch):
    if keep is None:
        monkeypatch.delenv("BILLING_ARCHIVE_AFTER_DAYS", raising=False)
    else:
        monkeypatch.setenv("BILLING_ARCHIVE_AFTER_DAYS", keep)
    return api


def _ten_months(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    # the first proforma on the conversion day, then one on the 20th of March, April, …
    issues = [date(2026, 3, 16)] + [date(2026 + n // 12, n % 12 + 1, 20) for n in range(2, 2 + MONTHS)]
    for issue in issues:
        api.run(issue.isoformat())
        [proforma] = [d for d in api.documents("acme", "proforma") if d["status"] == "open"]
        paid_on = issue + timedelta(days=2)
        api.pay("acme", f"{paid_on.isoformat()}T09:00:00+01:00", proforma["gross"], reference=proforma["number"])
        api.run(paid_on.isoformat())
    api.event("seat.deactivated", "acme", "2026-12-05T09:00:00+01:00", user_id="u2")
    api.run("2027-01-05")


def _figures(api):
    ledger = [(e["date"], e["kind"], e["amount"], e["balance_after"]) for e in api.ledger("acme")]
    documents = [(d["number"], d["kind"], d["issue_date"], d["gross"], d["net"], d["vat"], d["status"],
                  d["nav_status"]) for d in api.documents("acme")]
    months = sorted({e[0][:7] for e in ledger})
    statements = [api.get(f"/v1/accounts/acme/statements/{month}").json() for month in months]
    messages = [(x["kind"], x["day"], x["document"]) for x in api.get("/v1/accounts/acme/messages").json()["messages"]]
    account = {k: v for k, v in api.state("acme").items()}
    return ledger, documents, statements, messages, account


def _stored(api):
    with api.client.app.state.factory() as session:
        state = AccountState.from_json(session.get(m.AccountStateRow, "acme").state)
        rows = session.scalar(select(func.count()).select_from(m.ArchivedStateRecord.__table__))
        whole = with_history(state, archived_records(session, "acme"))  # the rows and the counts agree
    return state, rows, whole


def test_an_archiving_service_shows_exactly_what_an_unarchived_one_does(api, hot, monkeypatch):
    _ten_months(_on(api, None, monkeypatch))
    _ten_months(_on(hot, EVERYTHING_HOT, monkeypatch))
    assert _figures(api) == _figures(hot)
    state, rows, whole = _stored(api)
    # The last run, 23 December … 5 January 2027: cutoff 23 December − 45 days = 8 November. Left:
    # the payments of 18 and 22 March, 22 April … 22 October (9) and their invoices, and the
    # proformas due on 24 and 28 March, 28 April … 28 October (9).
    assert (state.archive.payments, state.archive.invoices, state.archive.proformas) == (9, 9, 9)
    assert rows == 27 and len(state.payments) == 2 and len(whole.payments) == 11
    hot_state, hot_rows, _ = _stored(hot)
    assert hot_rows == 0 and not hot_state.archive
    assert whole.to_json() == hot_state.to_json()

    # finance reaches back: 80,000 is more than the two hot invoices hold (2 × 19,980 = 39,960)
    for service, keep in ((api, None), (hot, EVERYTHING_HOT)):
        _on(service, keep, monkeypatch)
        credit = service.post("/v1/accounts/acme/credits", {"amount": "80000", "reason": "outage"}, expect=201).json()
        # the latest invoices first, each at most what it holds: INV-11 and INV-10 (hot), then the
        # archived INV-9 and INV-8 whole and 80 of INV-7: 4 × 19,980 + 80 = 80,000
        assert [(n["gross"], n["references"]) for n in credit["credit_notes"]] == [
            ("-19980", [f"INV-2026-{n:06d}"]) for n in (11, 10, 9, 8)] + [("-80", ["INV-2026-000007"])]
        service.post("/v1/documents/INV-2026-000002/corrections",
                     {"buyer": {"name": "Acme Zrt."}, "reason": "the buyer is a Zrt."}, expect=201)
        service.event("account.terminated", "acme", "2027-01-10T12:00:00+01:00", by="customer")
        service.run("2027-01-31")
    assert _figures(api) == _figures(hot)
    state, rows, whole = _stored(api)
    hot_state, _, _ = _stored(hot)
    assert whole.to_json() == hot_state.to_json()
    refund = [e for e in api.ledger("acme") if e["kind"] == "refund"]
    assert refund and refund == [e for e in hot.ledger("acme") if e["kind"] == "refund"]
