"""Finance's adjustments over HTTP, on SQLite and PostgreSQL (CONTRACT §6, §7; issue #16): a goodwill
credit (credit notes, NAV MODIFY, the prepaid balance) and a correction of an invoice's buyer data
(kind `correction`, NAV MODIFY, no amount). Every expected forint carries its arithmetic.

The story every test starts from (the README's first month): plan 9,990 HUF gross per seat, two
seats from 2 March, trial 14 days, so conversion on 16 March:
  PRO-2026-000001 on 16 March = R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312
  paid on 18 March → INV-2026-000001, gross 10,312 (net R(10,312 / 1.27) = 8,120, VAT 2,192)
  charges 16–20 March = R(19,980 × 5/31) = R(3,222.58) = 3,223 → balance on 20 March 10,312 − 3,223 = 7,089
  PRO-2026-000002 on 20 March (April) = R(19,980 × 12/31 + 19,980) − (10,312 − 2,578) = 27,714 − 7,734 = 19,980
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from billing.cycle.context import PriceBook, profile_of, to_domain
from billing.db import models as m
from billing.domain.engine import advance, new_state
from billing.domain.records import CycleConfig
from billing.domain.state import AccountState
from invoices.taxnumbers import DOCUMENT_NUMBER

INVOICE = "INV-2026-000001"
DATA = "{http://schemas.nav.gov.hu/OSA/3.0/data}"
SELLER_TAX_NUMBER = "23456787-2-42"  # check digit: 2·9+3·7+4·3+5·1+6·9+7·3+8·3 = 183 → 7
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _seller(monkeypatch):
    # The default seller tax number is the buyer's of tests/e2e/conftest.py (12345676-2-41).
    monkeypatch.setenv("SELLER_TAX_NUMBER", SELLER_TAX_NUMBER)
    monkeypatch.setenv("SELLER_EU_VAT_NUMBER", "HU23456787")


def _official_schema() -> etree.XMLSchema:
    shared = REPO.parent / "shared" / "nav" / "xsd" / "invoiceData.xsd"
    path = shared if shared.exists() else REPO / "schemas" / "nav" / "invoiceData.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def _valid_modify(api, number: str, base: str, index: int) -> etree._Element:
    """The document's NAV InvoiceData, as queued in the outbox, validated against the official XSD:
    a modification of `base` with modification index `index`."""
    from nav_reporting.models import NavOutbox

    with api.client.app.state.factory() as session:
        row = session.scalar(select(NavOutbox).where(NavOutbox.document_number == number))
    assert (row.operation, row.base_document_number, row.modification_index) == ("MODIFY", base, index)
    xml = row.invoice_xml.encode()
    schema = _official_schema()
    assert schema.validate(etree.fromstring(xml)), [str(e) for e in schema.error_log][:5]
    root = etree.fromstring(xml)
    reference = root.find(f".//{DATA}invoiceReference")
    assert reference.findtext(f"{DATA}originalInvoiceNumber") == base
    assert reference.findtext(f"{DATA}modificationIndex") == str(index)
    assert reference.findtext(f"{DATA}modifyWithoutMaster") == "false"
    return root


def _first_month(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    api.pay("acme", "2026-03-18T09:00:00+01:00", "10312", reference="PRO-2026-000001")
    api.run("2026-03-20")
    assert api.state("acme")["balance"] == "7089"  # 10,312 − 3,223


def _credit(api, amount, reason="outage on 19 March", expect=201, key=None, account="acme"):
    headers = {**api.headers, **({"Idempotency-Key": key} if key else {})}
    return api.post(f"/v1/accounts/{account}/credits", {"amount": amount, "reason": reason}, expect=expect,
                    headers=headers)


def _correct(api, number=INVOICE, buyer=None, reason="the buyer is a Zrt.", expect=201, key=None):
    headers = {**api.headers, **({"Idempotency-Key": key} if key else {})}
    return api.post(f"/v1/documents/{number}/corrections",
                    {"buyer": buyer or {"name": "Acme Zrt."}, "reason": reason}, expect=expect, headers=headers)


def _field_errors(response) -> set[str]:
    return {e["field"] for e in response.json()["details"]["errors"]}


# --- the goodwill credit ------------------------------------------------------------------------


def test_a_credit_of_3000_is_a_credit_note_that_credits_the_balance(api):
    _first_month(api)
    note = _credit(api, "3000").json()
    # 3,000 gross at 27 %: net R(3,000 / 1.27) = R(2,362.20) = 2,362; VAT 3,000 − 2,362 = 638
    assert (note["number"], note["kind"], note["gross"], note["net"], note["vat"]) == (
        "CRN-2026-000001", "credit_note", "-3000", "-2362", "-638")
    assert (note["issue_date"], note["references"], note["status"], note["nav_status"]) == (
        "2026-03-20", [INVOICE], "issued", "QUEUED")
    assert note["document"]["modification_index"] == 1 and note["document"]["reason"] == "outage on 19 March"
    assert [n["number"] for n in note["credit_notes"]] == ["CRN-2026-000001"]
    assert note["balance"] == "10089"  # 7,089 + 3,000
    assert api.state("acme")["balance"] == "10089"

    # The ledger: a customer-visible `credit` entry, after the day's charge (Dr revenue, Cr customer).
    last = api.ledger("acme")[-1]
    assert (last["date"], last["kind"], last["amount"], last["balance_after"]) == ("2026-03-20", "credit", "3000", "10089")
    statement = api.get("/v1/accounts/acme/statements/2026-03").json()
    assert (statement["credits"], statement["charges"], statement["closing_balance"]) == ("3000", "3223", "10089")
    assert statement["closing_balance"] == str(10312 - 3223 + 3000)
    [line] = [line for line in statement["lines"] if line["kind"] == "credit"]
    assert line["amount"] == "3000" and "CRN-2026-000001" in line["description"]
    listed = {d["number"]: d for d in api.documents("acme")}["CRN-2026-000001"]
    assert (listed["kind"], listed["gross"], listed["nav_status"]) == ("credit_note", "-3000", "QUEUED")

    root = _valid_modify(api, "CRN-2026-000001", INVOICE, 1)
    assert root.findtext(f".//{DATA}invoiceGrossAmount") == "-3000"
    assert root.findtext(f".//{DATA}invoiceVatAmount") == "-638"

    # Double entry: the credit note gave 638 of VAT back (Dr vat_payable), revenue was debited
    # 3,000 − 638 = 2,362 net, and every check of the reconciliation holds.
    report = api.get("/v1/reconciliation", params={"as_of": "2026-03-31"}).json()
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    balances = {row["ledger_account"]: Decimal(row["balance"]) for row in report["trial_balance"]}
    # vat_payable: 2,192 of INV-2026-000001 credited, 638 debited back
    assert balances["vat_payable"] == -(2192 - 638)
    assert balances["customer:acme"] == -10089


def test_the_next_cycle_continues_from_the_credited_balance(api):
    _first_month(api)
    _credit(api, "3000")
    api.run("2026-04-20")
    proformas = {d["number"]: d for d in api.documents("acme", "proforma")}
    # PRO-2026-000003 on 20 April (May): projected R(19,980 × 11/30 + 19,980) = 27,306; balance
    # before the day 10,089 − 7,089 (rest of March) − R(19,980 × 19/30) = 3,000 − 12,654 = −9,654;
    # open: PRO-2026-000002, 19,980 → 27,306 + 9,654 − 19,980 = 16,980, i.e. 3,000 less than without
    # the credit (27,306 + 12,654 − 19,980 = 19,980).
    assert proformas["PRO-2026-000003"]["gross"] == "16980"
    # 3,000 left after March; April 1–20 charged R(19,980 × 20/30) = 13,320
    assert api.state("acme")["balance"] == str(3000 - 13320)


def test_a_repeated_credit_issues_once(api):
    _first_month(api)
    first = _credit(api, "3000", expect=201).json()
    # The same request again (a client's retry without a key) on the same business day: the
    # same credit note, 200, nothing new.
    again = _credit(api, "3000.00", expect=200).json()
    assert again["number"] == first["number"] == "CRN-2026-000001"
    # With an Idempotency-Key: the first is issued, its retries answered with it.
    keyed = _credit(api, "1000", reason="second outage", key="k-1", expect=201).json()
    assert _credit(api, "1000", reason="second outage", key="k-1", expect=200).json()["number"] == keyed["number"]
    conflict = _credit(api, "999", reason="second outage", key="k-1", expect=409)
    assert _field_errors(conflict) == {"Idempotency-Key"}
    notes = api.documents("acme", "credit_note")
    assert [n["number"] for n in notes] == ["CRN-2026-000001", "CRN-2026-000002"]
    assert api.state("acme")["balance"] == str(7089 + 3000 + 1000)  # moved once per credit
    assert [e["amount"] for e in api.ledger("acme") if e["kind"] == "credit"] == ["3000", "1000"]
    # CRN-2026-000002 is the invoice's second modification
    _valid_modify(api, "CRN-2026-000002", INVOICE, 2)


def test_a_credit_goes_to_the_latest_invoices_first_and_never_beyond_what_they_hold(api):
    _first_month(api)
    api.pay("acme", "2026-03-25T09:00:00+01:00", "19980", reference="PRO-2026-000002")
    api.run("2026-03-25")  # INV-2026-000002, 19,980
    held = 10312 + 19980  # nothing credited yet: 30,292
    refused = _credit(api, str(held + 1), expect=422)
    assert _field_errors(refused) == {"amount"} and "30292" in refused.text
    for bad in ("0", "-5", "12.5", 12.5):  # not > 0; HUF has no decimals; never a JSON float
        assert _field_errors(_credit(api, bad, expect=422)) == {"amount"}, bad
    answer = _credit(api, "25000").json()
    # latest first: INV-2026-000002 gives all 19,980 (net R(19,980 / 1.27) = 15,732, VAT 4,248),
    # INV-2026-000001 the remaining 25,000 − 19,980 = 5,020 (net R(5,020 / 1.27) = R(3,952.76) = 3,953, VAT 1,067)
    assert [(n["number"], n["references"], n["gross"], n["net"], n["vat"]) for n in answer["credit_notes"]] == [
        ("CRN-2026-000001", ["INV-2026-000002"], "-19980", "-15732", "-4248"),
        ("CRN-2026-000002", [INVOICE], "-5020", "-3953", "-1067")]
    _valid_modify(api, "CRN-2026-000001", "INV-2026-000002", 1)
    _valid_modify(api, "CRN-2026-000002", INVOICE, 1)
    # what the invoices still hold: 30,292 − 25,000 = 5,292
    assert _field_errors(_credit(api, "5293", reason="more", expect=422)) == {"amount"}
    rest = _credit(api, "5292", reason="the rest").json()
    assert [(n["references"], n["gross"]) for n in rest["credit_notes"]] == [([INVOICE], "-5292")]
    assert _field_errors(_credit(api, "1", reason="nothing left", expect=422)) == {"amount"}


def test_a_credit_needs_an_invoice_a_finance_key_and_a_live_account(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.run("2026-03-05")
    assert _field_errors(_credit(api, "100", expect=422)) == {"amount"}  # nothing invoiced yet
    api.post("/v1/accounts/nobody/credits", {"amount": "100", "reason": "x"}, expect=404)
    refused = api.post("/v1/accounts/acme/credits", {"amount": "100", "reason": "x", "note": "?"}, expect=422)
    assert _field_errors(refused) == {"note"}  # unknown fields are refused
    assert _field_errors(api.post("/v1/accounts/acme/credits", {"amount": "100"}, expect=422)) == {"reason"}


def test_a_closed_account_gets_no_credit(api):
    _first_month(api)
    api.event("account.terminated", "acme", "2026-03-25T12:00:00+01:00", by="customer")
    api.run("2026-03-25")
    assert "terminated" in _credit(api, "100", expect=409).json()["message"]


# --- the correction ------------------------------------------------------------------------------


def test_a_correction_after_the_termination_refund_is_the_invoices_second_modification(api):
    _first_month(api)
    api.event("account.terminated", "acme", "2026-03-25T12:00:00+01:00", by="customer")
    api.run("2026-03-25")
    [refund] = api.documents("acme", "credit_note")
    assert refund["gross"] == "-3867"  # 10,312 − R(19,980 × 10/31) = 10,312 − 6,445
    _valid_modify(api, refund["number"], INVOICE, 1)

    buyer = {"name": "Acme Zrt.", "address": {"postal_code": "1052", "city": "Budapest", "street": "Váci utca 2."}}
    correction = _correct(api, buyer=buyer, reason="wrong company form and address").json()
    assert (correction["number"], correction["kind"], correction["status"], correction["nav_status"]) == (
        "COR-2026-000001", "correction", "issued", "QUEUED")
    assert (correction["gross"], correction["net"], correction["vat"]) == ("0", "0", "0")  # no amount changes
    assert (correction["issue_date"], correction["references"]) == ("2026-03-25", [INVOICE])
    body = correction["document"]
    assert body["modification_index"] == 2  # the refund's credit note took 1
    assert body["lines"] == [] and body["buyer"]["name"] == "Acme Zrt." and body["buyer"]["city"] == "Budapest"
    assert body["corrected"] == [["name", "acme Kft.", "Acme Zrt."],
                                 ["address", "1111 Budapest, Fő utca 1.", "1052 Budapest, Váci utca 2."]]
    assert body["fulfilment_date"] == "2026-03-18"  # the invoice's head data, as issued

    root = _valid_modify(api, "COR-2026-000001", INVOICE, 2)
    assert root.find(f".//{DATA}invoiceLines") is None  # no line changes, so none is sent
    assert root.findtext(f".//{DATA}customerName") == "Acme Zrt."
    assert root.findtext(f".//{DATA}customerAddress//{{http://schemas.nav.gov.hu/OSA/3.0/base}}postalCode") == "1052"
    assert root.findtext(f".//{DATA}invoiceDeliveryDate") == "2026-03-18"
    assert root.findtext(f".//{DATA}vatPercentage") == "0.27"
    assert {e.text for e in root.iter(f"{DATA}invoiceGrossAmount", f"{DATA}invoiceNetAmount",
                                      f"{DATA}invoiceVatAmount", f"{DATA}vatRateNetAmount")} == {"0"}
    assert "wrong company form" in root.findtext(f".//{DATA}additionalInvoiceData/{DATA}dataValue")

    # The invoice stays as issued, and so does the account (new buyer data is account.updated).
    assert api.get(f"/v1/documents/{INVOICE}").json()["document"]["buyer"]["name"] == "acme Kft."
    assert api.state("acme")["name"] == "acme Kft."
    kinds = {d["number"]: (d["kind"], d["status"]) for d in api.documents("acme")}
    assert kinds["COR-2026-000001"] == ("correction", "issued")
    memo = api.ledger("acme")[-1]
    assert (memo["kind"], memo["amount"], memo["balance_after"]) == ("correction", "0", api.ledger("acme")[-2]["balance_after"])
    statement = api.get("/v1/accounts/acme/statements/2026-03").json()
    assert any(line["kind"] == "correction" and "COR-2026-000001" in line["description"] for line in statement["lines"])
    report = api.get("/v1/reconciliation", params={"as_of": "2026-03-31"}).json()
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]


def test_what_cannot_be_corrected(api):
    _first_month(api)
    assert "proforma" in _correct(api, "PRO-2026-000001", expect=409).json()["message"]
    _correct(api, "INV-2026-999999", expect=404)
    # 12345678-1-42 fails its check digit (9·1+7·2+3·3+4+9·5+7·6+3·7+8 = 152, not 0 mod 10)
    wrong = _correct(api, buyer={"tax_number": "12345678-1-42"}, expect=422)
    assert _field_errors(wrong) == {"buyer.tax_number"}
    assert _field_errors(_correct(api, buyer={"tax_number": SELLER_TAX_NUMBER}, expect=422)) == {"buyer.tax_number"}
    assert _field_errors(_correct(api, buyer={"eu_vat_number": "RO18547291"}, expect=422)) == {"buyer.eu_vat_number"}
    assert _field_errors(_correct(api, buyer={"eu_vat_number": "RO18547290"}, expect=422)) == {"buyer.eu_vat_number"}  # not HU
    assert _field_errors(_correct(api, buyer={"name": "acme Kft."}, expect=422)) == {"buyer"}  # nothing differs
    api.post(f"/v1/documents/{INVOICE}/corrections", {"buyer": {}, "reason": "x"}, expect=422)
    refused = api.post(f"/v1/documents/{INVOICE}/corrections",
                       {"buyer": {"name": "X Kft.", "country": "DE"}, "reason": "x"}, expect=422)
    assert _field_errors(refused) == {"buyer.country"}  # a new country could change the VAT: no such field
    assert _field_errors(api.post(f"/v1/documents/{INVOICE}/corrections",
                                  {"buyer": {"address": {"city": "Pécs"}}, "reason": "x"}, expect=422)) == {
        "buyer.address.postal_code", "buyer.address.street"}  # an address is corrected whole
    assert api.documents("acme", "correction") == []  # nothing was issued by any of these
    # A credit note's buyer is its invoice's: correcting the invoice corrects the chain.
    note = _credit(api, "100").json()["number"]
    assert INVOICE in _correct(api, note, expect=409).json()["message"]
    # a valid tax number (12345676-2-41 is the one issued; 11111111-2-41: 9+7+3+1+9+7+3+1 = 40)
    fixed = _correct(api, buyer={"tax_number": "11111111-2-41"}, reason="typo in the tax number").json()
    assert fixed["document"]["buyer"]["tax_number"] == "11111111-2-41"
    assert fixed["document"]["modification_index"] == 2  # the credit note took 1


def test_a_repeated_correction_issues_once(api):
    _first_month(api)
    first = _correct(api, expect=201).json()["number"]
    assert _correct(api, expect=200).json()["number"] == first  # a retry without a key, same day
    assert _correct(api, buyer={"name": "Acme Nyrt."}, key="c-1", expect=201).json()["number"] == "COR-2026-000002"
    assert _correct(api, buyer={"name": "Acme Nyrt."}, key="c-1", expect=200).json()["number"] == "COR-2026-000002"
    _correct(api, buyer={"name": "Acme Bt."}, key="c-1", expect=409)
    assert [d["number"] for d in api.documents("acme", "correction")] == ["COR-2026-000001", "COR-2026-000002"]
    _valid_modify(api, "COR-2026-000002", INVOICE, 2)
    api.get("/v1/documents/COR-2026-000002/nav.xml")


def test_the_documents_render_in_every_language_and_export(api):
    _first_month(api)
    _correct(api, buyer={"name": "Acme Zrt."})
    _credit(api, "3000")
    titles = {"hu": "MÓDOSÍTÓ SZÁMLA", "ro": "FACTURĂ DE CORECȚIE", "en": "CORRECTION", "de": "RECHNUNGSBERICHTIGUNG"}
    for locale, title in titles.items():
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(api.get(
            "/v1/documents/COR-2026-000001.pdf", params={"locale": locale}).content)).pages)
        assert title in text and "Acme Zrt." in text and "acme Kft." in text and INVOICE in text, locale
    hu = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(api.get("/v1/documents/COR-2026-000001.pdf").content)).pages)
    assert "összegszerű hatása: 0" in hu and "the buyer is a Zrt." in hu
    note = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(api.get("/v1/documents/CRN-2026-000001.pdf").content)).pages)
    assert "-3 000" in note.replace("\u202f", " ").replace("\xa0", " ") and "outage on 19 March" in note
    api.get("/v1/accounts/acme/statements/2026-03.pdf")

    rows = list(csv.DictReader(io.StringIO(api.get("/v1/exports/invoices.csv").content.decode("utf-8-sig"))))
    by_number = {r["number"]: r for r in rows}
    assert (by_number["COR-2026-000001"]["kind"], by_number["COR-2026-000001"]["gross"],
            by_number["COR-2026-000001"]["buyer_name"], by_number["COR-2026-000001"]["references"]) == (
        "correction", "0", "Acme Zrt.", INVOICE)
    assert (by_number["CRN-2026-000001"]["gross"], by_number["CRN-2026-000001"]["vat"]) == ("-3000", "-638")
    assert by_number["TOTAL HUF"]["gross"] == str(10312 - 3000)  # the correction adds nothing
    url = api.post("/v1/accounts/acme/portal-link", expect=201).json()["url"]
    page = api.client.get(url[url.index("/portal/"):], headers={}).text  # the customer's portal
    assert "COR-2026-000001" in page and "Módosító számla" in page and "CRN-2026-000001" in page


# --- through NAV, and replayed -------------------------------------------------------------------


def test_a_credit_and_a_correction_go_through_the_outbox_to_nav_and_come_back_done(api, monkeypatch):
    from tests.fakes.nav_simulator import NavSimulator

    with NavSimulator(tax_number=SELLER_TAX_NUMBER[:8]) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        _first_month(api)
        api.event("account.terminated", "acme", "2026-03-25T12:00:00+01:00", by="customer")
        api.run("2026-03-25")  # the refund's credit note: INV-2026-000001's modification 1
        _correct(api)  # modification 2
        for _ in range(3):  # a MODIFY goes only after its base is DONE: two rounds
            api.post("/v1/nav/submit", expect=200)
        statuses = {d["number"]: (d["kind"], d["nav_status"]) for d in api.documents("acme")}
        assert statuses == {"PRO-2026-000001": ("proforma", None), "PRO-2026-000002": ("proforma", None),
                            INVOICE: ("invoice", "DONE"), "CRN-2026-000001": ("credit_note", "DONE"),
                            "COR-2026-000001": ("correction", "DONE")}
        sent = {item.number: item for t in sim.transactions.values() for item in t.items}
        assert {n: (i.operation, i.final_status, i.technical, i.business) for n, i in sent.items()} == {
            INVOICE: ("CREATE", "DONE", [], []), "CRN-2026-000001": ("MODIFY", "DONE", [], []),
            "COR-2026-000001": ("MODIFY", "DONE", [], [])}
        assert sim.modification_indexes == {(INVOICE, "1"), (INVOICE, "2")}
        assert api.get("/v1/documents/COR-2026-000001").json()["nav_status"] == "DONE"


def test_a_goodwill_credit_on_an_active_account_is_done_at_nav_too(api, monkeypatch):
    from tests.fakes.nav_simulator import NavSimulator

    with NavSimulator(tax_number=SELLER_TAX_NUMBER[:8]) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        _first_month(api)
        api.post("/v1/nav/submit", expect=200)
        _credit(api, "3000")
        api.post("/v1/nav/submit", expect=200)
        assert api.get("/v1/documents/CRN-2026-000001").json()["nav_status"] == "DONE"
        assert sim.modification_indexes == {(INVOICE, "1")}


class _Numbers:
    """The cycle's numbering from empty series, without a database: one account replayed alone
    takes the numbers it took live."""

    def __init__(self, session) -> None:
        self.prices, self.config, self.last = PriceBook(session), CycleConfig(), {}

    def price(self, plan, day):
        return self.prices.price(plan, day)

    def allocate_number(self, kind, day):
        self.last[kind] = self.last.get(kind, 0) + 1
        return DOCUMENT_NUMBER.format(kind, day.year, self.last[kind])


def _replayed(session, account_id: str, until: date):
    """The account's state and outputs from nothing, by the engine over its stored event log in one
    jump (the adjustments among the events as stored)."""
    account = session.get(m.Account, account_id)
    events = [to_domain(e) for e in session.scalars(select(m.Event).where(m.Event.account_id == account_id)
                                                    .order_by(m.Event.seq))]
    return advance(new_state(profile_of(account), account.plan), profile_of(account), events, until, _Numbers(session))


def test_a_replay_of_the_event_log_gives_the_same_account(api):
    _first_month(api)
    _credit(api, "3000")
    _correct(api)
    api.pay("acme", "2026-03-25T09:00:00+01:00", "19980", reference="PRO-2026-000002")
    api.run("2026-03-27")
    _credit(api, "20000", reason="goodwill")  # INV-2026-000002 all 19,980, INV-2026-000001 20
    api.seats("acme", "2026-04-02T09:00:00+02:00", "u3")
    api.run("2026-04-05")
    with api.client.app.state.factory() as session:
        live = AccountState.from_json(session.get(m.AccountStateRow, "acme").state)
        replayed, outcome = _replayed(session, "acme", live.through)
        types = list(session.scalars(select(m.Event.type).where(m.Event.account_id == "acme")))
        entries = [(e.day, e.kind, e.amount, e.document_number) for e in session.scalars(
            select(m.JournalEntry).where(m.JournalEntry.account_id == "acme", m.JournalEntry.kind != "vat")
            .order_by(m.JournalEntry.day, m.JournalEntry.id))]
        documents = [(d.number, d.kind, d.issue_date, d.gross, d.body.get("references"), d.body.get("modification_index"))
                     for d in session.scalars(select(m.DocumentRow).where(m.DocumentRow.account_id == "acme")
                                              .order_by(m.DocumentRow.issue_date, m.DocumentRow.number))]
    assert types.count("credit.granted") == 2 and types.count("invoice.corrected") == 1
    assert outcome.rejections == ()
    assert replayed.to_json() == live.to_json()
    # the same entries in the same order (each adjustment after its day's charge), the same documents
    assert [(p.day, p.kind, p.amount, p.document_number) for p in outcome.postings] == entries
    assert sorted((d.number, d.kind, d.issue_date, d.gross, list(d.references) or [], d.modification_index)
                  for d in outcome.documents) == sorted(
        (n, k, day, g, refs or [], index) for n, k, day, g, refs, index in documents)
    # INV-2026-000001: the 3,000 credit (1), the correction (2), the 20 left of 20,000 (3)
    assert [(i.number, i.credited, i.modifications) for i in live.invoices] == [
        (INVOICE, Decimal(3000 + 20), 3), ("INV-2026-000002", Decimal(19980), 1)]
    # 7,089 + 3,000 + 19,980 − (10,312 − 3,223) + 20,000 = 42,980 at the end of March; April 1–5:
    # 2 seats on the 1st, 3 from the 2nd: R(19,980 × 1/30 + 29,970 × 4/30) = R(666 + 3,996) = 4,662
    assert live.balance == Decimal(42980 - 4662) == Decimal(api.state("acme")["balance"])


def test_two_copies_of_one_credit_at_once_issue_one_credit_note(api):
    """A double click: both requests reach the use case together; the account lock lets one in,
    the other then finds its event and answers with its credit note."""
    from concurrent.futures import ThreadPoolExecutor

    from billing.ops.credits import grant_credit

    _first_month(api)
    factory = api.client.app.state.factory
    with factory() as session:
        version = session.get(m.AccountStateRow, "acme").version
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: grant_credit(factory, "acme", Decimal(3000), "double click", None), range(2)))
    assert sorted(o.created for o in outcomes) == [False, True]
    assert [o.numbers for o in outcomes] == [["CRN-2026-000001"]] * 2
    assert api.state("acme")["balance"] == "10089"  # 7,089 + 3,000, once
    with factory() as session:
        # the state was written once, its version raised: a cycle step prepared before is recomputed
        assert session.get(m.AccountStateRow, "acme").version == version + 1


def test_a_second_correction_keeps_what_the_first_corrected(api):
    _first_month(api)
    _correct(api, buyer={"name": "Acme Zrt."})
    second = _correct(api, buyer={"address": {"postal_code": "4025", "city": "Debrecen", "street": "Piac utca 1."}},
                      reason="moved before the invoice").json()
    body = second["document"]
    # NAV gets the customer whole: the name the first correction gave, the address this one gives
    assert (body["buyer"]["name"], body["buyer"]["city"], body["modification_index"]) == ("Acme Zrt.", "Debrecen", 2)
    assert body["corrected"] == [["address", "1111 Budapest, Fő utca 1.", "4025 Debrecen, Piac utca 1."]]
    root = _valid_modify(api, second["number"], INVOICE, 2)
    assert root.findtext(f".//{DATA}customerName") == "Acme Zrt."
    # correcting it back to what it states now is no correction
    assert _field_errors(_correct(api, buyer={"name": "Acme Zrt."}, key="again", expect=422)) == {"buyer"}
