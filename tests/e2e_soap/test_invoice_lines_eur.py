"""A foreign-currency invoice line states its unit price in HUF too (NAV unitPriceHUF, issue #16):
the line's net unit price × the invoice's MNB rate, fetched by the service's zeep client from the
loopback MNB (tests/fakes/mnb_server.py through MNB_URL). On SQLite and PostgreSQL."""
from __future__ import annotations

from decimal import Decimal

from lxml import etree

from nav_reporting.xml import validate_invoice_data
from tests.e2e_soap.test_mnb_http import publish_fixings

NS = {"d": "http://schemas.nav.gov.hu/OSA/3.0/data"}


def test_an_eur_invoice_line_has_its_unit_price_in_huf(api, mnb):
    publish_fixings(mnb)
    api.plan(code="eur", price="127.00", currency="EUR")   # gross: 27 % Hungarian VAT included
    api.account("alfa", at="2026-03-02T10:00:00+01:00", plan="eur", currency="EUR", trial_days=0)
    api.seats("alfa", "2026-03-02T10:05:00+01:00", "u1")
    api.run("2026-03-02")
    proforma = api.only("alfa", "proforma")
    assert proforma["gross"] == "122.90"   # 1 seat × 30 days (2 … 31 March): R(127.00 × 30/31) = 122.90
    api.pay("alfa", "2026-03-08T09:30:00+01:00", "122.90", currency="EUR", reference=proforma["number"])
    api.run("2026-03-08")
    invoice = api.only("alfa", "invoice")
    doc = invoice["document"]
    assert doc["exchange_rate"] == "401.57"   # Friday 6 March's fixing for a Sunday payment
    [line] = doc["lines"]
    # a seat-day of March: 127.00 / 31 gross, net 127.00 / 31 / 1.27 = 100 / 31 = 3.225806… → 3.2258
    # (two more decimals than EUR); net R(122.90 / 1.27) = 96.77, VAT 26.13
    assert (line["quantity"], line["unit"], line["unit_price_net"], line["net"], line["vat"], line["gross"]) == (
        "30", "seat-day", "3.2258", "96.77", "26.13", "122.90")
    assert (line["period_start"], line["period_end"]) == ("2026-03-02", "2026-03-31")

    xml = api.get(f"/v1/documents/{invoice['number']}/nav.xml").content
    validate_invoice_data(xml)
    tree = etree.fromstring(xml)
    text = lambda path: [e.text for e in tree.xpath(path, namespaces=NS)]
    assert text("//d:exchangeRate") == ["401.57"]
    assert text("//d:line/d:unitPrice") == ["3.2258"]
    # unitPriceHUF = unitPrice × exchangeRate = 3.2258 × 401.57 = 1,295.384506, exact (ten
    # decimals allowed), so NAV's INCORRECT_LINE_CALCULATION_LINE_UNIT_PRICE_HUF does not fire
    assert text("//d:line/d:unitPriceHUF") == ["1295.384506"]
    assert Decimal("3.2258") * Decimal("401.57") == Decimal("1295.384506")
    # the line's HUF net is the document's: R(96.77 × 401.57) = R(38,859.93) = 38,860
    assert text("//d:line//d:lineNetAmountHUF") == ["38860"]
    # 30 × 3.2258 = 96.774 against 96.77: within NAV's 1 % (at least 1 unit) of the net
    assert abs(30 * Decimal("3.2258") - Decimal("96.77")) <= Decimal("0.01")
