"""Lines an accountant reads (CONTRACT §4, §6; issue #16), over HTTP on SQLite and PostgreSQL: seat-days
with a net unit price and the covered period, an advance (Áfa tv. 59. §) marked as one in the NAV
report, and the Romanian clawback of a termination processed after its month ended (§5)."""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from nav_reporting.xml import validate_invoice_data
from tests.invoices.test_pdf import text_of

NS = {"d": "http://schemas.nav.gov.hu/OSA/3.0/data"}


def _lines(api, number):
    return api.get(f"/v1/documents/{number}").json()["document"]["lines"]


def _xml(api, number):
    xml = api.get(f"/v1/documents/{number}/nav.xml").content
    validate_invoice_data(xml)  # the official XSD
    return etree.fromstring(xml)


def _texts(tree, path):
    return [e.text for e in tree.xpath(path, namespaces=NS)]


def test_seat_days_with_their_unit_price_and_an_advance_beyond_the_proforma(api):
    api.plan()   # 9,990 HUF a seat-month, gross
    api.account("acme", at="2026-03-02T10:00:00+01:00")   # 14 trial days: C = 16 March
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    [proforma] = api.documents("acme", "proforma")
    # 2 seats × 16 days (16 … 31 March) = 32 seat-days, one at 9,990 / 31 gross (a seat for a day of
    # March): R(32 × 9,990 / 31) = R(10,312.26) = 10,312; the net unit price 9,990 / 31 / 1.27 =
    # 253.7465… → 253.75 (two more decimals than HUF); net R(10,312 / 1.27) = R(8,119.69) = 8,120
    seat_line = {"quantity": "32", "unit": "seat-day", "unit_price_net": "253.75", "net": "8120",
                 "vat": "2192", "gross": "10312", "period_start": "2026-03-16", "period_end": "2026-03-31",
                 "advance": False}
    [line] = _lines(api, proforma["number"])
    assert {k: line[k] for k in seat_line} == seat_line
    assert line["description"] == "Seat licences: 2 seats × 16 days (std)"

    # 20,000 against the 10,312 the proforma asks: the invoice of the payment has the proforma's
    # covered line and 20,000 − 10,312 = 9,688 as an advance (59. §), a lump sum with no period.
    # Net R(20,000 / 1.27) = R(15,748.03) = 15,748, rounded once: the seat-days R(10,312 / 1.27) =
    # 8,120, the advance the rest 15,748 − 8,120 = 7,628 (VAT 9,688 − 7,628 = 2,060)
    api.pay("acme", "2026-03-18T09:00:00+01:00", "20000", reference=proforma["number"])
    api.run("2026-03-18")
    [invoice] = api.documents("acme", "invoice")
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("20000", "15748", "4252")
    assert (invoice["period_start"], invoice["period_end"]) == ("2026-03-16", "2026-03-31")
    first, advance = _lines(api, invoice["number"])
    assert {k: first[k] for k in seat_line} == seat_line
    assert first["description"] == f"Seat licences: 2 seats × 16 days (std), proforma {proforma['number']}"
    assert {k: advance[k] for k in seat_line} == {
        "quantity": "1", "unit": "piece", "unit_price_net": "7628.00", "net": "7628", "vat": "2060", "gross": "9688",
        "period_start": None, "period_end": None, "advance": True}

    tree = _xml(api, invoice["number"])
    assert _texts(tree, "//d:line/d:quantity") == ["32", "1"]
    assert _texts(tree, "//d:line/d:unitOfMeasure") == ["OWN", "PIECE"]
    assert _texts(tree, "//d:line/d:unitOfMeasureOwn") == ["fő-nap"]
    assert _texts(tree, "//d:line/d:unitPrice") == ["253.75", "7628"]
    assert _texts(tree, "//d:line/d:unitPriceHUF") == []   # a HUF invoice
    assert _texts(tree, "//d:line/d:lineNatureIndicator") == ["SERVICE", "SERVICE"]
    # only the advance line is one, and it carries no delivery period: the head's is the seat-days'
    assert _texts(tree, "//d:line[d:advanceData/d:advanceIndicator='true']/d:lineNumber") == ["2"]
    assert _texts(tree, "//d:line//d:lineNetAmount") == ["8120", "7628"]
    assert _texts(tree, "//d:invoiceDeliveryPeriodStart") == ["2026-03-16"]
    assert _texts(tree, "//d:invoiceDeliveryPeriodEnd") == ["2026-03-31"]
    # quantity × unit price against the net: 32 × 253.75 = 8,120 exactly here; NAV's tolerance is
    # 1 % of the net, at least 1 unit (INCORRECT_LINE_CALCULATION_NET_AMOUNT)
    for line in (first, advance):
        gap = abs(Decimal(line["quantity"]) * Decimal(line["unit_price_net"]) - Decimal(line["net"]))
        assert gap <= max(Decimal("0.01") * abs(Decimal(line["net"])), Decimal(1))

    # the PDF says it the way an accountant reads it
    pdf = api.get(f"/v1/documents/{invoice['number']}.pdf", params={"locale": "hu"}).content
    text = text_of(pdf)
    assert "fő-nap" in text and "253,75" in text and "Előleg (Áfa tv. 59. §)" in text


def test_april_proforma_paid_in_two_parts_states_the_seat_days_of_each(api):
    api.plan()
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.pay("acme", "2026-03-16T09:00:00+01:00", "10312")
    api.run("2026-03-20")
    april = api.documents("acme", "proforma")[-1]
    # 20 March: R(2 × 9,990 × 12/31) = 7,734 for 20 … 31 March and 19,980 for April (60 seat-days at
    # 9,990 / 30 = 333 gross, 333 / 1.27 = 262.2047… → 262.20 net); prepaid 10,312 − R(2 × 9,990 ×
    # 4/31) = 7,734 pays the March line: 19,980 asked, for April
    assert april["gross"] == "19980"
    api.pay("acme", "2026-03-25T09:00:00+01:00", "9990", reference=april["number"])
    api.pay("acme", "2026-03-27T09:00:00+01:00", "9990", reference=april["number"])
    api.run("2026-03-27")
    invoices = api.documents("acme", "invoice")[1:]
    # half of April's line each: 60 × 9,990 / 19,980 = 30 seat-days, then the other 30
    parts = [_lines(api, i["number"]) for i in invoices]
    assert [[(l["quantity"], l["unit_price_net"], l["gross"], l["period_start"], l["period_end"]) for l in p]
            for p in parts] == [[("30", "262.20", "9990", "2026-04-01", "2026-04-30")]] * 2
    for invoice in invoices:
        assert _texts(_xml(api, invoice["number"]), "//d:advanceData") == []


def test_a_late_romanian_termination_in_the_next_month_keeps_its_clawback(api):
    api.plan(code="disc", price="10000", discount="20")
    # trial 1 … 28 February, conversion 1 March: March costs 2 × 10,000 × 0.8 = 16,000
    api.account("acme", at="2026-02-01T08:00:00+01:00", plan="disc", trial_days=28, terms="ro")
    api.seats("acme", "2026-02-01T08:00:00+01:00", "u1", "u2")
    api.pay("acme", "2026-03-01T12:00:00+01:00", "16000")
    api.run("2026-03-20")
    april = api.documents("acme", "proforma")[-1]
    assert april["gross"] == "16000"
    api.pay("acme", "2026-03-25T12:00:00+01:00", "16000", reference=april["number"])
    api.run("2026-04-02")
    # terminated on 28 March, but the event arrives after the cycle charged through 2 April
    api.event("account.terminated", "acme", "2026-03-28T18:00:00+01:00", by="customer", reason="moving")
    api.run("2026-04-03")
    entries = [(e["date"], e["kind"], e["amount"]) for e in api.ledger("acme", **{"from": "2026-04-03"})]
    # the days after T come back: March R(16,000 × 28/31) = R(14,451.61) = 14,452 against 16,000 posted
    # → +1,548; 1 … 2 April R(16,000 × 2/30) = R(1,066.67) = 1,067 → +1,067; balance
    # 32,000 − 14,452 = 17,548. The clawback re-prices the used days of MARCH (1 … 28) at the list
    # price: R(L) = R(2 × 10,000 × 28/31) = R(18,064.52) = 18,065, R(D) = 14,452:
    # refund = max(0, 17,548 − (18,065 − 14,452)) = 17,548 − 3,613 = 13,935
    assert entries == [("2026-04-03", "charge_correction", "1548"), ("2026-04-03", "charge_correction", "1067"),
                       ("2026-04-03", "clawback", "-3613"), ("2026-04-03", "refund", "-13935")]
    state = api.state("acme")
    assert (state["state"], state["balance"]) == ("terminated", "0")
    [note] = api.documents("acme", "credit_note")
    invoices = api.documents("acme", "invoice")
    assert note["gross"] == "-13935" and note["references"] == [invoices[-1]["number"]]  # the latest first
