"""Documents over HTTP: every kind's NAV XML validates against the official XSDs; PDFs in four
locales; EUR invoices carry HUF amounts at the rate used."""
from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from nav_reporting.xml import validate_invoice_data
from tests.fakes.mnb_server import FakeMnb
from tests.fakes.vies_server import FakeVies


@pytest.fixture
def vies(monkeypatch):
    """The loopback VIES (every number valid): reverse charge needs its word (CONTRACT §6)."""
    with FakeVies() as server:
        monkeypatch.setenv("VIES_URL", server.url)
        yield server


@pytest.fixture
def mnb(monkeypatch):
    """The loopback MNB: a foreign-currency invoice needs its official rate, else it waits (CONTRACT
    §6). Fixings of Friday 27 February (the rate of Sunday 1 March) and Monday 2 March."""
    with FakeMnb() as server:
        for day in (date(2026, 2, 27), date(2026, 3, 2)):
            server.publish(day, EUR="400.00", USD="370.00")
        monkeypatch.setenv("MNB_URL", server.url)
        yield server


def _eu_story(api):
    api.plan(code="eur", price="127.00", currency="EUR")
    api.account("carpati", at="2026-03-01T08:00:00+01:00", plan="eur", currency="EUR", country="RO",
                eu_vat_number="RO18547290", trial_days=0)
    api.seats("carpati", "2026-03-01T08:00:00+01:00", "u1", "u2")
    api.run("2026-03-01")
    [proforma] = api.documents("carpati", "proforma")
    # reverse charge: 127.00 / 1.27 = 100.00 EUR a seat-month net; March in full: 2 × 100.00
    assert proforma["gross"] == "200.00" and proforma["vat"] == "0.00"
    api.pay("carpati", "2026-03-02T10:00:00+01:00", "200.00", currency="EUR", method="card")
    api.event("account.terminated", "carpati", "2026-03-10T10:00:00+01:00", by="customer")
    api.run("2026-03-10")


def test_eur_reverse_charge_invoice_and_credit_note(api, vies, mnb):
    _eu_story(api)
    [invoice] = api.documents("carpati", "invoice")
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("200.00", "200.00", "0.00")
    body = api.get(f"/v1/documents/{invoice['number']}").json()["document"]
    assert body["vat_treatment"]["nav_case"] == "EUFAD37"
    assert body["gross_huf"] == str(int(200 * 400))  # 200.00 EUR at MNB's 400.00 HUF/EUR of 2 March
    # 1..10 March: R(200 × 10/31) = R(64.516) = 64.52; Romanian terms, no discount: no clawback
    [note] = api.documents("carpati", "credit_note")
    assert note["gross"] == "-135.48" and note["references"] == [invoice["number"]]
    for number in (invoice["number"], note["number"]):
        xml = api.get(f"/v1/documents/{number}/nav.xml").content
        validate_invoice_data(xml)
        assert b"EUFAD37" in xml and b"RO18547290" in xml
    assert b"invoiceReference" in api.get(f"/v1/documents/{note['number']}/nav.xml").content


def test_domestic_and_out_of_scope_xml_validate(api, mnb):
    api.plan()
    api.plan(code="usd", price="50.00", currency="USD")
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.account("yankee", at="2026-03-01T08:00:00+01:00", trial_days=0, country="US", currency="USD", plan="usd")
    for account, amount, currency in (("acme", "9990", "HUF"), ("yankee", "50.00", "USD")):
        api.seats(account, "2026-03-01T08:00:00+01:00", "u1")
        api.pay(account, "2026-03-02T08:00:00+01:00", amount, currency=currency)
    api.run("2026-03-02")
    domestic = api.documents("acme", "invoice")[0]
    xml = api.get(f"/v1/documents/{domestic['number']}/nav.xml").content
    validate_invoice_data(xml)
    assert b"DOMESTIC" in xml and b"<vatPercentage>0.27</vatPercentage>" in xml
    outside = api.documents("yankee", "invoice")[0]
    xml = api.get(f"/v1/documents/{outside['number']}/nav.xml").content
    validate_invoice_data(xml)
    assert b"<case>HO</case>" in xml
    # 50 USD / 1.27 a month net for a buyer outside the EU
    assert outside["vat"] == "0.00"
    proforma = api.documents("acme", "proforma")[0]
    assert api.get(f"/v1/documents/{proforma['number']}/nav.xml", expect=404)


@pytest.mark.parametrize("locale,word", [("hu", "SZÁMLA"), ("ro", "FACTUR"), ("en", "INVOICE"), ("de", "RECHNUNG")])
def test_invoice_pdf_in_four_languages(api, locale, word):
    api.plan()
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1")
    api.pay("acme", "2026-03-02T08:00:00+01:00", "9990")
    api.run("2026-03-02")
    invoice = api.documents("acme", "invoice")[0]
    response = api.get(f"/v1/documents/{invoice['number']}.pdf", params={"locale": locale})
    assert response.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert word in text.upper()
    assert invoice["number"] in text
    assert "12345676-2-41" in text and "23456787-2-42" in text  # the buyer's and the seller's (default) tax numbers
    assert api.get(f"/v1/documents/{invoice['number']}.pdf", params={"locale": "xx"}, expect=422)


def test_an_account_without_address_still_gets_a_valid_report(api):
    api.plan()
    api.post("/v1/events", {"id": "c1", "type": "account.created", "account_id": "bare",
                            "occurred_at": "2026-03-01T08:00:00+01:00",
                            "data": {"name": "Bare Kft.", "country": "HU", "currency": "HUF", "plan": "std",
                                     "tax_number": "12345676-2-41", "trial_days": 0}}, expect=201)
    api.seats("bare", "2026-03-01T08:00:00+01:00", "u1")
    api.pay("bare", "2026-03-02T08:00:00+01:00", "9990")
    api.run("2026-03-02")
    [invoice] = api.documents("bare", "invoice")
    assert invoice["nav_status"] == "QUEUED"
    xml = api.get(f"/v1/documents/{invoice['number']}/nav.xml").content
    validate_invoice_data(xml)
    assert b"<base:postalCode>0000</base:postalCode>" in xml or b"postalCode>0000<" in xml


def test_a_document_nav_cannot_take_is_issued_and_listed_as_rejected(api, monkeypatch):
    import nav_reporting.outbox as outbox
    from nav_reporting.xml import InvoiceDataError

    def refuse(doc, **kw):
        raise InvoiceDataError(f"{doc.number}: simulated")

    monkeypatch.setattr(outbox, "build_invoice_data", refuse)
    api.plan()
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1")
    api.pay("acme", "2026-03-02T08:00:00+01:00", "9990")
    api.run("2026-03-02")
    [invoice] = api.documents("acme", "invoice")  # the invoice is issued on the payment day anyway
    assert invoice["nav_status"] == "ABORTED"
    aborted = api.get("/v1/nav/aborted").json()["aborted"]
    assert [a["document_number"] for a in aborted] == [invoice["number"]]
    assert "simulated" in aborted[0]["last_error"]
