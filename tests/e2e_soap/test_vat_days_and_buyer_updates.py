"""CONTRACT §6 over HTTP, on SQLite and PostgreSQL, with the service's own zeep client talking to the
loopback VIES: check digits and buyer ≠ seller on input (a 422 naming the field, nothing stored),
reverse charge only from the day VIES confirmed (the days and documents before it at 27 %), the
consultation number on the account, the invoice, its PDF and its NAV report, and account.updated
changing the buyer (and the VAT treatment) for the documents issued from its day on, not before.

Plan throughout: `std`, 9,990 HUF per seat and month, gross. Its net price for a buyer who pays no
Hungarian VAT is 9,990 / 1.27 = 7,866.1417… (CONTRACT §1). One seat from 2 March 2026, no trial;
March has 31 days."""
from __future__ import annotations

import io

from lxml import etree
from pypdf import PdfReader

from nav_reporting.xml import validate_invoice_data

DATA = "{http://schemas.nav.gov.hu/OSA/3.0/data}"
BASE = "{http://schemas.nav.gov.hu/OSA/3.0/base}"
RO_ADDRESS = {"postal_code": "400000", "city": "Cluj-Napoca", "street": "Strada Memorandumului 28"}


def carpati(api, **extra):
    api.plan()
    api.account("carpati", at="2026-03-02T10:00:00+01:00", country="RO", locale="ro", trial_days=0,
                address=RO_ADDRESS, **extra)
    api.seats("carpati", "2026-03-02T10:05:00+01:00", "u1")


def update(api, account, at, **data):
    return api.event("account.updated", account, at, **data)


def invoice_on(api, account, day):
    [found] = [d for d in api.documents(account, "invoice") if d["issue_date"] == day]
    return api.document(found["number"])


def nav_xml(api, number) -> etree._Element:
    xml = api.get(f"/v1/documents/{number}/nav.xml").content
    validate_invoice_data(xml)  # the official XSDs (schemas/nav)
    return etree.fromstring(xml)


def pdf_text(api, number) -> str:
    content = api.get(f"/v1/documents/{number}.pdf", params={"locale": "en"}).content
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def charges(api, account) -> list[tuple[str, str, str]]:
    return [(e["date"], e["amount"], e["details"]["vat_kind"]) for e in api.ledger(account) if e["kind"] == "charge"]


def errors_of(response) -> set[tuple[int | None, str]]:
    assert response.status_code == 422, response.text
    return {(e["index"], e["field"]) for e in response.json()["details"]["errors"]}


def created(account, **data) -> dict:
    body = {"name": f"{account} Kft.", "country": "HU", "currency": "HUF", "plan": "std", **data}
    return {"id": f"c-{account}", "type": "account.created", "account_id": account,
            "occurred_at": "2026-03-02T10:00:00+01:00", "data": body}


def updated(event_id, account, **data) -> dict:
    return {"id": event_id, "type": "account.updated", "account_id": account,
            "occurred_at": "2026-03-05T10:00:00+01:00", "data": data}


# --- input ----------------------------------------------------------------------------------------


def test_wrong_check_digits_are_a_422_naming_the_field_and_store_nothing(api, vies):
    api.plan()
    cases = [
        # 12345678: 9·1+7·2+3·3+4+9·5+7·6+3·7+8 = 152, not divisible by 10
        (created("a1", tax_number="12345678-1-42"), "data.tax_number"),
        # RO18547291: the Romanian check digit of 1854729 is 0 (stdnum.ro.cui), not 1
        (created("a2", country="RO", eu_vat_number="RO18547291"), "data.eu_vat_number"),
        # a valid German number is not a Romanian buyer's
        (created("a3", country="RO", eu_vat_number="DE136695976"), "data.eu_vat_number"),
    ]
    for event, field in cases:
        assert errors_of(api.post("/v1/events", event)) == {(0, field)}
        assert api.get(f"/v1/accounts/{event['account_id']}", expect=404)
    assert vies.calls() == []  # a number that fails its check is never sent to VIES

    # 12345676: 9·1+7·2+3·3+4+9·5+7·6+3·7+6 = 150 ✓ (CONTRACT §6's example)
    api.post("/v1/events", created("good", tax_number="12345676-2-42"), expect=201)
    bad_updates = [
        (updated("u1", "good", tax_number="12345678-1-42"), "data.tax_number"),
        (updated("u2", "good", eu_vat_number="HU12345678"), "data.eu_vat_number"),  # HU check digit
        (updated("u3", "good", eu_vat_number="RO18547290"), "data.eu_vat_number"),  # not a HU buyer's
        (updated("u4", "good"), "data"),  # nothing to update
        (updated("u5", "good", name=None), "data.name"),  # only the tax numbers can be removed
        (updated("u6", "nobody", name="X Kft."), "account_id"),  # unknown account
    ]
    for event, field in bad_updates:
        assert errors_of(api.post("/v1/events", event)) == {(0, field)}, event
    # all or nothing: the valid update of a batch with a wrong one is not stored either
    batch = [updated("ok", "good", name="Good Zrt."), updated("bad", "good", tax_number="12345678-1-42")]
    assert errors_of(api.post("/v1/events", {"events": batch})) == {(1, "data.tax_number")}
    api.run("2026-03-10")
    assert api.state("good")["buyer"]["name"] == "good Kft."


def test_a_buyer_with_the_sellers_tax_number_is_refused(api, vies, monkeypatch):
    api.plan()
    # the seller's default numbers (billing/config.py): 23456787-2-42 and HU23456787
    for event, field in [(created("s1", tax_number="23456787-2-42"), "data.tax_number"),
                         (created("s2", tax_number="23456787-2-13"), "data.tax_number"),  # same taxpayer
                         (created("s3", eu_vat_number="HU23456787"), "data.eu_vat_number")]:
        response = api.post("/v1/events", event)
        assert errors_of(response) == {(0, field)}
        assert "seller" in response.text
    api.post("/v1/events", created("b1", tax_number="12345676-2-41"), expect=201)
    assert errors_of(api.post("/v1/events", updated("u1", "b1", tax_number="23456787-2-42"))) == {(0, "data.tax_number")}
    # the rule follows the configured seller (SELLER_TAX_NUMBER), not a constant
    monkeypatch.setenv("SELLER_TAX_NUMBER", "34567898-2-13")
    monkeypatch.setenv("SELLER_EU_VAT_NUMBER", "HU34567898")
    api.post("/v1/events", created("s4", tax_number="23456787-2-42"), expect=201)
    assert errors_of(api.post("/v1/events", updated("u2", "b1", tax_number="34567898-2-20"))) == {(0, "data.tax_number")}


# --- reverse charge from the day VIES confirmed ---------------------------------------------------


def test_vies_down_is_27_percent_then_reverse_charge_from_the_day_it_confirms(api, vies):
    vies.answer("RO18547290", valid=True)
    vies.down("fault")
    carpati(api, eu_vat_number="RO18547290")
    api.run("2026-03-02")
    proforma = api.only("carpati", "proforma")
    # Hungarian VAT while VIES has not answered: R(9,990 × 30/31) = R(9,667.74) = 9,668;
    # net R(9,668 / 1.27) = R(7,612.60) = 7,613, VAT 9,668 − 7,613 = 2,055
    assert (proforma["gross"], proforma["net"], proforma["vat"]) == ("9668", "7613", "2055")
    api.pay("carpati", "2026-03-04T09:00:00+01:00", "9668", reference=proforma["number"])
    api.run("2026-03-05")  # VIES still down: asked, no answer
    assert api.state("carpati")["vat"]["pending"] is True

    vies.up()
    api.pay("carpati", "2026-03-08T09:00:00+01:00", "1000")  # beyond what the proforma asked
    api.run("2026-03-10")  # asked first: valid, so reverse charge from 6 March, this run's first day
    [consultation] = vies.identifiers  # the one answered check, checkVatApprox with the seller as requester
    vat = api.state("carpati")["vat"]
    assert (vat["treatment"], vat["pending"], vat["effective_from"], vat["vies_reference"]) == (
        "reverse_charge", False, "2026-03-06", consultation)
    assert vat["earlier"] == [{"treatment": "domestic", "vies_reference": None, "effective_from": "2026-03-02"}]

    # 2 … 5 March at 9,990/31 a day, 6 … 10 March at 7,866.1417/31 (cumulative rounding, §2):
    # C = 322.26, 644.52, 966.77, 1,289.03 → 322, 323, 322, 322; then + 253.7465 a day:
    # 1,542.78, 1,796.53, 2,050.27, 2,304.02, 2,557.77 → 254, 254, 253, 254, 254
    assert charges(api, "carpati") == [
        ("2026-03-02", "-322", "domestic"), ("2026-03-03", "-323", "domestic"), ("2026-03-04", "-322", "domestic"),
        ("2026-03-05", "-322", "domestic"), ("2026-03-06", "-254", "reverse_charge"),
        ("2026-03-07", "-254", "reverse_charge"), ("2026-03-08", "-253", "reverse_charge"),
        ("2026-03-09", "-254", "reverse_charge"), ("2026-03-10", "-254", "reverse_charge")]
    # R((4 × 9,990 + 5 × 9,990/1.27) / 31) = R(2,557.77) = 2,558; 9,668 + 1,000 − 2,558 = 8,110
    assert api.state("carpati")["balance"] == "8110"

    before = invoice_on(api, "carpati", "2026-03-04")  # fulfilled before the confirmation: 27 %
    assert (before["gross"], before["net"], before["vat"]) == ("9668", "7613", "2055")
    assert before["document"]["vat_treatment"]["kind"] == "domestic"
    assert before["document"]["vat_treatment"]["vies_reference"] is None
    after = invoice_on(api, "carpati", "2026-03-08")  # fulfilled after it: no Hungarian VAT
    assert (after["gross"], after["net"], after["vat"]) == ("1000", "1000", "0")
    treatment = after["document"]["vat_treatment"]
    assert (treatment["kind"], treatment["nav_case"], treatment["vies_reference"]) == (
        "reverse_charge", "EUFAD37", consultation)
    # the consultation number on the invoice: its notes, its PDF, its NAV report
    assert any(consultation in note for note in after["document"]["notes"])
    assert consultation in pdf_text(api, after["number"])
    report = nav_xml(api, after["number"])
    assert [(e.findtext(f"{DATA}dataName"), e.findtext(f"{DATA}dataValue"))
            for e in report.iter(f"{DATA}additionalInvoiceData")] == [("A00001_VIES_CONSULTATION_NUMBER", consultation)]
    assert report.findtext(f".//{DATA}customerVatData/{DATA}communityVatNumber") == "RO18547290"
    earlier_report = nav_xml(api, before["number"])
    assert list(earlier_report.iter(f"{DATA}additionalInvoiceData")) == []
    assert earlier_report.findtext(f".//{DATA}vatPercentage") == "0.27"
    # documents issued before keep what they were issued with
    assert api.document(proforma["number"])["document"]["vat_treatment"]["kind"] == "domestic"


# --- account.updated -------------------------------------------------------------------------------


def test_account_updated_changes_the_buyer_of_documents_issued_from_its_day_not_before(api, vies):
    api.plan()
    api.account("acme", at="2026-03-02T10:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1")
    api.run("2026-03-02")
    proforma = api.only("acme", "proforma")
    api.pay("acme", "2026-03-05T09:00:00+01:00", proforma["gross"], reference=proforma["number"])
    new_address = {"postal_code": "6720", "city": "Szeged", "street": "Kárász utca 1."}
    # 34567898: 9·3+7·4+3·5+6+9·7+7·8+3·9+8 = 230 ✓
    update(api, "acme", "2026-03-10T08:00:00+01:00", name="Acme Zrt.", email="szamla@acme.example",
           address=new_address, tax_number="34567898-2-13")
    api.pay("acme", "2026-03-12T09:00:00+01:00", "5000")
    api.run("2026-03-12")  # one run through both payments: cut at 10 March

    old = invoice_on(api, "acme", "2026-03-05")["document"]["buyer"]
    assert (old["name"], old["tax_number"], old["city"]) == ("acme Kft.", "12345676-2-41", "Budapest")
    new_invoice = invoice_on(api, "acme", "2026-03-12")
    new = new_invoice["document"]["buyer"]
    assert (new["name"], new["tax_number"], new["email"], new["postal_code"], new["city"], new["street"]) == (
        "Acme Zrt.", "34567898-2-13", "szamla@acme.example", "6720", "Szeged", "Kárász utca 1.")
    # 5,000 gross: net R(5,000 / 1.27) = R(3,937.01) = 3,937, VAT 1,063
    assert (new_invoice["gross"], new_invoice["net"], new_invoice["vat"]) == ("5000", "3937", "1063")
    report = nav_xml(api, new_invoice["number"])
    assert report.findtext(f".//{DATA}customerTaxNumber/{BASE}taxpayerId") == "34567898"
    assert report.findtext(f".//{DATA}customerTaxNumber/{BASE}countyCode") == "13"
    assert report.findtext(f".//{DATA}customerName") == "Acme Zrt."
    assert "Acme Zrt." in pdf_text(api, new_invoice["number"])
    # the proforma issued before the update is frozen with the old buyer
    assert api.document(proforma["number"])["document"]["buyer"]["name"] == "acme Kft."
    # the account view shows the buyer as it is now
    view = api.state("acme")
    assert view["name"] == "Acme Zrt."
    assert view["buyer"] == {"name": "Acme Zrt.", "email": "szamla@acme.example", "address": new_address,
                             "tax_number": "34567898-2-13", "eu_vat_number": None, "locale": "hu"}
    # the prices did not change: 2 … 12 March R(11 × 9,990/31) = R(3,544.84) = 3,545; 9,668 + 5,000 − 3,545
    assert view["balance"] == "11123"
    assert vies.calls() == []  # a Hungarian buyer: nothing to ask VIES


def test_a_new_eu_vat_number_is_reverse_charged_from_its_day_and_a_removed_one_is_domestic_again(api, vies):
    vies.answer("RO18547290", valid=True)
    carpati(api)  # no EU VAT number: a Romanian buyer without one pays Hungarian VAT
    api.pay("carpati", "2026-03-05T09:00:00+01:00", "5000")
    update(api, "carpati", "2026-03-11T08:00:00+01:00", eu_vat_number="RO18547290")
    api.pay("carpati", "2026-03-12T09:00:00+01:00", "2000")
    api.run("2026-03-15")
    assert [(r.operation, r.params["countryCode"], r.params["vatNumber"]) for r in vies.calls()] == [
        ("checkVatApprox", "RO", "18547290")]  # asked once, for the update
    [consultation] = vies.identifiers
    vat = api.state("carpati")["vat"]
    assert (vat["treatment"], vat["effective_from"], vat["vies_reference"]) == ("reverse_charge", "2026-03-11", consultation)

    before = invoice_on(api, "carpati", "2026-03-05")
    # net R(5,000 / 1.27) = 3,937, VAT 1,063; no EU VAT number on it
    assert (before["net"], before["vat"], before["document"]["buyer"]["eu_vat_number"]) == ("3937", "1063", None)
    after = invoice_on(api, "carpati", "2026-03-12")
    assert (after["net"], after["vat"]) == ("2000", "0")
    assert after["document"]["buyer"]["eu_vat_number"] == "RO18547290"
    assert after["document"]["vat_treatment"]["vies_reference"] == consultation
    nav_xml(api, after["number"])
    # 2 … 10 March at 9,990/31, 11 … 15 March at 7,866.14/31:
    # R((9 × 9,990 + 5 × 9,990/1.27) / 31) = R(4,169.06) = 4,169; 7,000 − 4,169 = 2,831
    assert api.state("carpati")["balance"] == "2831"
    assert [kind for _, _, kind in charges(api, "carpati")] == ["domestic"] * 9 + ["reverse_charge"] * 5

    update(api, "carpati", "2026-03-20T08:00:00+01:00", eu_vat_number=None)
    api.pay("carpati", "2026-03-21T09:00:00+01:00", "1000")
    api.run("2026-03-21")
    vat = api.state("carpati")["vat"]
    assert (vat["treatment"], vat["effective_from"]) == ("domestic", "2026-03-20")
    assert [d["effective_from"] for d in vat["earlier"]] == ["2026-03-02", "2026-03-11"]
    # the April proforma, issued on the 20th, the update's day, at the gross price:
    # projected R(12 × 9,990/31 + 9,990) = R(13,857.10) = 13,857; charges through 19 March
    # R((9 × 9,990 + 9 × 9,990/1.27) / 31) = R(5,184.04) = 5,184, balance 7,000 − 5,184 = 1,816;
    # open 9,668 − 7,000 = 2,668 of the first proforma; 13,857 − 1,816 − 2,668 = 9,373
    april = [d for d in api.documents("carpati", "proforma") if d["issue_date"] == "2026-03-20"]
    assert [(d["gross"], d["vat"]) for d in april] == [("9373", "1993")]  # VAT 9,373 − R(9,373/1.27) = 9,373 − 7,380
    last = invoice_on(api, "carpati", "2026-03-21")
    # net R(1,000 / 1.27) = R(787.40) = 787, VAT 213; the EU VAT number is gone from the buyer
    assert (last["net"], last["vat"], last["document"]["buyer"]["eu_vat_number"]) == ("787", "213", None)
    assert len(vies.calls()) == 1  # a removed number is not asked about


def test_vies_is_never_asked_while_the_database_is_locked_for_writing(api, vies, db_url, monkeypatch):
    """A slow VIES must not hold the write lock every writer waits for: at event intake it is asked
    before the transaction, in the cycle before the chunk locks its accounts (account.created,
    a pending retry, an account.updated with a new number)."""
    from sqlalchemy import create_engine, text

    from invoices import vies as vies_module

    probe = create_engine(db_url, connect_args={"timeout": 0} if db_url.startswith("sqlite") else {})
    locked_during: list[str] = []
    original = vies_module.ViesClient.check

    def check(self, number):
        with probe.connect() as connection:
            try:
                if db_url.startswith("sqlite"):
                    connection.exec_driver_sql("BEGIN IMMEDIATE")  # fails at once while a writer holds it
                    connection.exec_driver_sql("ROLLBACK")
                else:
                    with connection.begin():
                        connection.execute(text("SET LOCAL lock_timeout = '1ms'"))
                        connection.execute(text("SELECT id FROM accounts FOR UPDATE NOWAIT")).all()
            except Exception as exc:  # noqa: BLE001 - any lock error is the finding
                locked_during.append(f"{number}: {type(exc).__name__}")
        return original(self, number)

    monkeypatch.setattr(vies_module.ViesClient, "check", check)
    vies.answer("RO18547290", valid=True)
    vies.answer("DE136695976", valid=True)
    vies.down("fault")
    carpati(api, eu_vat_number="RO18547290")  # asked at intake: down
    api.run("2026-03-02")  # asked again by the run: down
    vies.up()
    api.account("kraft", at="2026-03-03T10:00:00+01:00", country="DE", locale="de", trial_days=0,
                eu_vat_number="DE136695976", address=RO_ADDRESS)
    update(api, "carpati", "2026-03-04T10:00:00+01:00", eu_vat_number="RO18547290", name="Carpați Soft SRL")
    api.run("2026-03-05")  # the retry answers
    probe.dispose()
    assert len(vies.calls()) == 4
    assert locked_during == []
    assert api.state("carpati")["vat"]["treatment"] == "reverse_charge"
