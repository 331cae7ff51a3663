"""Erasing personal data: the account forgets the person, issued documents do not change (CONTRACT §5)."""
from __future__ import annotations

from sqlalchemy import select

from billing.db import models as m

LOCALES = ("hu", "ro", "en", "de")


def _story(api):
    """Trial, proforma, payment invoice, termination with a refund credit note."""
    api.plan(price="9990")
    created = api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    proforma = api.documents("acme", "proforma")[0]
    api.pay("acme", "2026-03-18T09:00:00+01:00", proforma["gross"], reference=proforma["number"])
    api.run("2026-03-20")
    api.event("account.terminated", "acme", "2026-03-25T12:00:00+01:00", by="customer")
    api.run("2026-03-31")
    return created


def _snapshot(api) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    documents = api.documents("acme")
    assert documents
    for doc in documents:
        number = doc["number"]
        out[f"{number}.json"] = api.get(f"/v1/documents/{number}").content
        for locale in LOCALES:
            out[f"{number}.{locale}.pdf"] = api.get(f"/v1/documents/{number}.pdf", params={"locale": locale}).content
        if doc["kind"] != "proforma":
            out[f"{number}.nav.xml"] = api.get(f"/v1/documents/{number}/nav.xml").content
    return out


def test_erasure_keeps_every_document_byte_for_byte(api):
    created = _story(api)
    kinds = {d["kind"] for d in api.documents("acme")}
    assert {"proforma", "invoice", "credit_note"} <= kinds, kinds
    assert api.state("acme")["state"] == "terminated"
    before = _snapshot(api)
    assert any(b"acme Kft." in v for k, v in before.items() if k.endswith(".nav.xml"))

    answer = api.client.delete("/v1/accounts/acme/personal-data", headers=api.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["documents_kept"] == len(api.documents("acme"))

    after = _snapshot(api)
    assert after.keys() == before.keys()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"issued documents changed by the erasure: {changed}"

    view = api.state("acme")
    assert view["name"] == "erased"
    assert "acme Kft." not in api.get("/v1/accounts/acme").text
    factory = api.client.app.state.factory
    with factory() as session:
        account = session.get(m.Account, "acme")
        assert (account.name, account.email, account.tax_number, account.eu_vat_number) == ("erased", None, None, None)
        assert not any(account.address.values())
        assert account.personal_data_erased_at is not None
        stored = session.scalars(select(m.Event).where(m.Event.type == "account.created")).one()
        assert "billing@acme.example" not in str(stored.data) and "acme Kft." not in str(stored.data)
        # The frozen buyer block is still the one issued.
        assert all(row.body["buyer"]["name"] == "acme Kft." for row in session.scalars(select(m.DocumentRow)))

    # Idempotent: a second erasure answers the first one's time.
    again = api.client.delete("/v1/accounts/acme/personal-data", headers=api.headers)
    assert again.status_code == 200 and again.json()["personal_data_erased_at"] == answer.json()["personal_data_erased_at"]
    # Re-posting the original account.created (same id, same body) is a duplicate, not a resurrection.
    repost = api.post("/v1/events", created, expect=200)
    assert repost.json()["status"] == "duplicate"
    assert api.state("acme")["name"] == "erased"
    assert _snapshot(api) == before


def test_erasure_of_a_live_account_is_refused_and_changes_nothing(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.run("2026-03-05")
    answer = api.client.delete("/v1/accounts/acme/personal-data", headers=api.headers)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "conflict"
    assert api.state("acme")["name"] == "acme Kft."
    missing = api.client.delete("/v1/accounts/nobody/personal-data", headers=api.headers)
    assert missing.status_code == 404


def test_erasure_needs_the_crm_or_admin_scope(api, monkeypatch):
    monkeypatch.setenv("BILLING_FINANCE_KEY", "fin-key")
    monkeypatch.setenv("BILLING_CRM_KEY", "crm-key")
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    customer = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    for key, status in ((None, 401), ("fin-key", 403), (customer, 403), ("crm-key", 409)):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        got = api.client.delete("/v1/accounts/acme/personal-data", headers=headers)
        assert got.status_code == status, (key, got.text)
    assert api.state("acme")["name"] == "acme Kft."


def test_erasure_also_erases_the_buyer_data_of_account_updated_events(api):
    from schemas.api import AccountUpdatedData

    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00", trial_days=0)
    api.event("account.updated", "acme", "2026-03-03T10:00:00+01:00", name="Acme Zrt.", email="kovacs.anna@acme.example",
              address={"postal_code": "6720", "city": "Szeged", "street": "Kárász utca 1."}, locale="en")
    api.event("account.updated", "acme", "2026-03-04T10:00:00+01:00", email="anna.kovacs@acme.example")
    api.event("account.updated", "acme", "2026-03-05T10:00:00+01:00", tax_number="34567898-2-13")
    api.event("account.terminated", "acme", "2026-03-06T10:00:00+01:00", by="customer")
    api.run("2026-03-06")
    assert api.client.delete("/v1/accounts/acme/personal-data", headers=api.headers).status_code == 200
    with api.client.app.state.factory() as session:
        updates = [e.data for e in session.scalars(select(m.Event).where(m.Event.type == "account.updated")
                                                   .order_by(m.Event.seq))]
    text = str(updates)
    for personal in ("Acme Zrt.", "kovacs.anna", "anna.kovacs", "Szeged", "Kárász", "34567898"):
        assert personal not in text, personal
    assert updates == [{"name": "erased", "address": {"postal_code": "", "city": "", "street": ""}, "locale": "en"},
                       {"name": "erased"}, {"tax_number": None}]
    for data in updates:  # still valid events: a replay recreates the erased account
        AccountUpdatedData.model_validate(data)
    assert api.state("acme")["buyer"]["name"] == "erased"
