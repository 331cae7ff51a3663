"""One customer's first month over a real `billing serve` process and TCP only (CONTRACT §3, §4, §5,
§6, §7), on SQLite and PostgreSQL. The test drives the clock (BILLING_WORKERS=0, no scheduler).

Plan: 9,990 HUF gross per seat and month; account created 2 March 2026 (14 trial days: 2 … 15 March,
conversion C = 16 March), 2 seats, so the exact charge of a March day is 2 × 9,990 / 31 = 19,980/31.
R is half-up rounding to HUF (0 decimals); ledger entries are R(C(D)) − R(C(D − 1)) within a month.
"""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from tests.e2e_process.conftest import (
    BUYER_TAX_NUMBER,
    PLAN,
    REPO,
    SELLER_ENV,
    SELLER_TAX_NUMBER,
    created,
    payment,
    seat,
    terminated,
)

DATA = "{http://schemas.nav.gov.hu/OSA/3.0/data}"
BASE = "{http://schemas.nav.gov.hu/OSA/3.0/base}"


def _official_invoice_data_schema() -> etree.XMLSchema:
    """The official XSD from ../shared (the contract's source), not the service's vendored copy."""
    shared = REPO.parent / "shared" / "nav" / "xsd" / "invoiceData.xsd"
    path = shared if shared.exists() else REPO / "schemas" / "nav" / "invoiceData.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def _kinds(entries: list[dict], kind: str) -> list[tuple[str, str]]:
    return [(e["date"], e["amount"]) for e in entries if e["kind"] == kind]


def test_first_month_over_a_served_process(serve):
    server = serve(**SELLER_ENV)
    c = server.client()

    plan = c.post("/v1/plans", PLAN, expect=201).json()
    assert (plan["code"], plan["monthly_seat_price"], plan["prices_include_vat"]) == ("pro", "9990", True)

    # bolt: the journey. kor: another customer (1 seat), so a customer key has something to not see.
    c.events(created("bolt", "Bolt Kft."), seat("bolt", "u1"), seat("bolt", "u2"),
             created("kor", "Kör Bt."), seat("kor", "k1"))
    bolt = c.account("bolt")
    # trial days D0 … D0 + 14 − 1 = 2 … 15 March; the conversion day is 16 March
    assert (bolt["state"], bolt["access"], bolt["seats"]) == ("trialing", "limited", 2)
    assert (bolt["trial_ends_on"], bolt["conversion_day"]) == ("2026-03-15", "2026-03-16")

    # --- the trial costs nothing and asks for nothing ------------------------------------------
    c.run("2026-03-15")
    assert (c.account("bolt")["state"], c.account("bolt")["balance"]) == ("trialing", "0")
    assert c.documents("bolt") == [] and _kinds(c.ledger("bolt"), "charge") == []

    # --- conversion: charges start, the first proforma asks for 16 … 31 March -----------------
    c.run("2026-03-16")
    bolt = c.account("bolt")
    assert (bolt["state"], bolt["access"]) == ("awaiting_payment", "limited")
    assert bolt["balance"] == "-645"  # −R(19,980/31) = −R(644.52)
    assert _kinds(c.ledger("bolt"), "charge") == [("2026-03-16", "-645")]
    [first] = c.documents("bolt")
    assert first["kind"] == "proforma" and first["number"].startswith("PRO-2026-")
    # projected = R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312; balance before 16 March 0, open 0
    # net = R(10,312 / 1.27) = R(8,119.69) = 8,120; VAT = 10,312 − 8,120 = 2,192
    assert (first["gross"], first["net"], first["vat"]) == ("10312", "8120", "2192")
    # due 16 March + 8 days
    assert (first["issue_date"], first["due_date"], first["status"]) == ("2026-03-16", "2026-03-24", "open")
    assert (first["period_start"], first["period_end"]) == ("2026-03-16", "2026-03-31")
    assert first["nav_status"] is None  # a proforma is never reported to NAV
    [kor_proforma] = c.documents("kor")
    assert kor_proforma["gross"] == "5156"  # R(1 × 9,990 × 16/31) = R(5,156.13)

    # --- the bank transfer names the proforma: the contract starts, an invoice dated that day --
    c.events(payment("bolt", "10312", first["number"]))
    c.run("2026-03-18")
    bolt = c.account("bolt")
    assert (bolt["state"], bolt["access"], bolt["overdue_since"]) == ("active", "full", None)
    # 10,312 − R(19,980 × 3/31) = 10,312 − R(1,933.55) = 10,312 − 1,934
    assert bolt["balance"] == "8378"
    assert _kinds(c.ledger("bolt"), "payment") == [("2026-03-18", "10312")]
    [invoice] = c.documents("bolt", "invoice")
    assert invoice["number"].startswith("INV-2026-")
    assert (invoice["issue_date"], invoice["fulfilment_date"]) == ("2026-03-18", "2026-03-18")
    # the amount received, VAT-inclusive: net = R(10,312 / 1.27) = 8,120, VAT = 2,192
    assert (invoice["gross"], invoice["net"], invoice["vat"], invoice["currency"]) == ("10312", "8120", "2192", "HUF")
    assert invoice["status"] == "paid"
    assert invoice["nav_status"] == "QUEUED"  # no NAV credentials: queued, never lost
    assert c.documents("bolt", "proforma")[0]["status"] == "paid"

    pdf = c.get(f"/v1/documents/{invoice['number']}.pdf", params={"locale": "en"})
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    assert c.get(f"/v1/documents/{invoice['number']}.pdf").content.startswith(b"%PDF")  # default locale (hu)

    xml = c.get(f"/v1/documents/{invoice['number']}/nav.xml")
    assert "xml" in xml.headers["content-type"]
    root = etree.fromstring(xml.content)
    schema = _official_invoice_data_schema()
    assert schema.validate(root), [str(e) for e in schema.error_log][:5]
    assert root.findtext(f"{DATA}invoiceNumber") == invoice["number"]
    assert root.findtext(f"{DATA}invoiceIssueDate") == "2026-03-18"
    assert root.findtext(f".//{DATA}supplierTaxNumber/{BASE}taxpayerId") == SELLER_TAX_NUMBER[:8]
    assert root.findtext(f".//{DATA}customerTaxNumber/{BASE}taxpayerId") == BUYER_TAX_NUMBER[:8]
    assert Decimal(root.findtext(f".//{DATA}invoiceGrossAmount")) == Decimal(10312)
    assert Decimal(root.findtext(f".//{DATA}invoiceNetAmount")) == Decimal(8120)
    assert Decimal(root.findtext(f".//{DATA}invoiceVatAmount")) == Decimal(2192)
    c.get(f"/v1/documents/{first['number']}/nav.xml", expect=404)  # proformas have no NAV XML

    # --- the 20th: the proforma for April ------------------------------------------------------
    c.run("2026-03-20")
    second = [d for d in c.documents("bolt", "proforma") if d["number"] != first["number"]]
    assert len(second) == 1, second
    [april] = second
    # projected = R(19,980 × 12/31 + 19,980) = R(27,714.19) = 27,714 (20 … 31 March and April);
    # balance after the charges through 19 March = 10,312 − R(19,980 × 4/31) = 10,312 − 2,578 = 7,734;
    # open = 0 (the first proforma is paid): 27,714 − 7,734 − 0 = 19,980 = 2 × 9,990
    assert april["gross"] == "19980"
    # net = R(19,980 / 1.27) = R(15,732.28) = 15,732; VAT = 4,248
    assert (april["net"], april["vat"]) == ("15732", "4248")
    assert (april["issue_date"], april["due_date"], april["status"]) == ("2026-03-20", "2026-03-28", "open")
    assert april["period_end"] == "2026-04-30"
    assert c.account("bolt")["balance"] == "7089"  # 10,312 − R(19,980 × 5/31) = 10,312 − 3,223
    assert c.documents("bolt", "invoice") == [invoice]  # the invoice is unchanged

    # --- a customer key sees its own account and nothing else ----------------------------------
    issued = c.post("/v1/accounts/bolt/keys", expect=201).json()
    customer = server.client(issued["key"])
    assert customer.account("bolt")["state"] == "active"
    assert [d["number"] for d in customer.documents("bolt")] == [first["number"], invoice["number"],
                                                                 april["number"]]
    assert customer.get(f"/v1/documents/{invoice['number']}.pdf").content.startswith(b"%PDF")
    customer.get("/v1/accounts/kor", expect=404)  # another account looks exactly like a missing one
    customer.get("/v1/accounts/kor/documents", expect=404)
    customer.get("/v1/accounts/kor/ledger", expect=404)
    customer.get(f"/v1/documents/{kor_proforma['number']}", expect=404)
    customer.get(f"/v1/documents/{kor_proforma['number']}.pdf", expect=404)
    customer.post("/v1/clock/run", {"until": "2026-03-21"}, expect=403)  # a customer runs nothing
    customer.post("/v1/accounts/kor/keys", expect=403)
    server.client("not-a-key").get("/v1/accounts/bolt", expect=401)

    # --- the customer terminates on 25 March: the unused prepaid part comes back ---------------
    c.events(terminated("bolt", "2026-03-25T12:00:00+01:00"))
    c.run("2026-03-31")
    bolt = c.account("bolt")
    assert (bolt["state"], bolt["access"], bolt["terminated_on"]) == ("terminated", "closed", "2026-03-25")
    assert bolt["balance"] == "0"
    ledger = c.ledger("bolt")
    charges = _kinds(ledger, "charge")
    assert charges[-1][0] == "2026-03-25"  # T is the last charged day; nothing after it
    # 16 … 25 March: R(19,980 × 10/31) = R(6,445.16) = 6,445
    assert sum(int(amount) for _, amount in charges) == -6445
    # refund = balance after the charges through T = 10,312 − 6,445 = 3,867 (Hungarian terms: no clawback)
    assert _kinds(ledger, "refund") == [("2026-03-25", "-3867")]
    assert _kinds(ledger, "clawback") == []
    [note] = c.documents("bolt", "credit_note")
    # −3,867 gross; net = −R(3,867 / 1.27) = −R(3,044.88) = −3,045; VAT = −822
    assert (note["gross"], note["net"], note["vat"]) == ("-3867", "-3045", "-822")
    assert (note["issue_date"], note["references"]) == ("2026-03-25", [invoice["number"]])
    assert note["number"].startswith("CRN-2026-") and note["nav_status"] == "QUEUED"
    statuses = {d["number"]: d["status"] for d in c.documents("bolt")}
    assert statuses == {first["number"]: "paid", invoice["number"]: "partially_refunded",
                        april["number"]: "void", note["number"]: "issued"}
    assert c.get(f"/v1/documents/{note['number']}.pdf").content.startswith(b"%PDF")

    refunds = c.get("/v1/refunds", params={"status": "due", "as_of": "2026-03-31"}).json()["refunds"]
    [refund] = [r for r in refunds if r["account_id"] == "bolt"]
    # due within 30 days of T: 25 March + 30 = 24 April
    assert (refund["amount"], refund["terminated_on"], refund["due_date"]) == ("3867", "2026-03-25", "2026-04-24")
    assert refund["credit_notes"] == [note["number"]] and refund["overdue"] is False
    [part] = refund["parts"]
    assert (part["method"], part["amount"], part["state"]) == ("bank_transfer", "3867", "payout_instructed")
    assert part["payout"]["remittance"] == note["number"]

    reconciliation = c.get("/v1/reconciliation", params={"as_of": "2026-03-31"}).json()
    assert reconciliation["ok"], [ch for ch in reconciliation["checks"] if ch["status"] == "fail"]
