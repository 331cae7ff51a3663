"""An issued document and the ledger can't be changed through any path (issue 5)."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing.db.models import DocumentRow, JournalEntry


def _issued(api):
    api.plan()
    api.account("acme", at="2026-03-02T10:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1")
    api.pay("acme", "2026-03-03T11:00:00+01:00", "5000")  # after the proforma: an allocation
    api.run("2026-03-05")
    return api.documents("acme")


@pytest.mark.parametrize("statement", [
    "UPDATE documents SET gross = 1",
    "DELETE FROM documents",
    "UPDATE journal_entries SET amount = 0",
    "DELETE FROM postings",
    "UPDATE allocations SET amount = 0",
])
def test_sql_cannot_change_issued_records(api, statement):
    _issued(api)
    engine = api.client.app.state.engine
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text(statement))


def test_the_orm_cannot_change_a_document(api):
    number = _issued(api)[0]["number"]
    factory = api.client.app.state.factory
    with pytest.raises(DBAPIError):
        with factory.begin() as session:
            session.get(DocumentRow, number).gross = 1
    with pytest.raises(DBAPIError):
        with factory.begin() as session:
            session.delete(session.get(JournalEntry, 1))


def test_http_has_no_path_to_change_a_document(api):
    docs = _issued(api)
    before = {d["number"]: api.get(f"/v1/documents/{d['number']}").json()["content_hash"] for d in docs}
    assert docs
    for doc in docs:
        for method in ("PUT", "PATCH", "DELETE"):
            response = api.client.request(method, f"/v1/documents/{doc['number']}", json={"gross": "1"},
                                          headers=api.headers)
            assert response.status_code == 405
    api.run("2026-03-05")  # a re-run and a repeated event change nothing either
    after = {d["number"]: api.get(f"/v1/documents/{d['number']}").json()["content_hash"] for d in api.documents("acme")}
    assert after == before
