"""The accountant exports, on SQLite and PostgreSQL, checked against the ledger."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from billing.ops.exports import cmd_export, export_to_dir
from tests.exports.story import HEADERS, full_story, make_client


@pytest.fixture
def client(db_url, monkeypatch):
    client = make_client(db_url, monkeypatch)
    full_story(client)
    return client


def _csv(client, **params) -> list[dict]:
    response = client.get("/v1/exports/invoices.csv", params=params, headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _ledger_cash(client, account: str) -> Decimal:
    entries = client.get(f"/v1/accounts/{account}/ledger", headers=HEADERS).json()["entries"]
    # payments are +, refunds are − on the customer's side
    return sum((Decimal(e["amount"]) for e in entries if e["kind"] in ("payment", "refund")), Decimal(0))


def test_csv_rows_and_totals_match_the_ledger(client):
    rows = _csv(client, **{"from": "2026-03-01", "to": "2026-03-31"})
    documents = [r for r in rows if r["kind"] != "total"]
    assert [(r["number"], r["kind"]) for r in documents] == [
        ("INV-2026-000001", "invoice"), ("CRN-2026-000001", "credit_note")]
    invoice, credit = documents
    assert invoice["gross"] == "10312" and invoice["net"] == "8120" and invoice["vat"] == "2192"
    # 10,312 gross: net = R(10,312 / 1.27) = 8,120, VAT = 10,312 − 8,120 = 2,192
    assert invoice["buyer_tax_number"] == "12345676-2-41" and invoice["vat_treatment"] == "domestic"
    assert invoice["gross_huf"] == "10312" and invoice["exchange_rate"] == "1"
    assert invoice["nav_status"] == "QUEUED"
    assert credit["references"] == "INV-2026-000001" and Decimal(credit["gross"]) < 0
    (total,) = [r for r in rows if r["kind"] == "total"]
    assert total["number"] == "TOTAL HUF"
    # invoices − credit notes = payments − refunds in the ledger
    assert Decimal(total["gross"]) == Decimal(invoice["gross"]) + Decimal(credit["gross"]) == _ledger_cash(client, "acme")
    assert Decimal(total["gross_huf"]) == Decimal(total["gross"])


def test_range_and_proformas(client):
    assert [r["number"] for r in _csv(client, **{"from": "2026-03-19", "to": "2026-03-31"})
            if r["kind"] != "total"] == ["CRN-2026-000001"]
    with_proformas = _csv(client, **{"from": "2026-03-01", "to": "2026-03-31"}, proformas=1)
    kinds = {r["number"]: r["kind"] for r in with_proformas}
    assert kinds["PRO-2026-000001"] == "proforma"
    (total,) = [r for r in with_proformas if r["kind"] == "total"]
    # proformas are payment requests, not in the totals: 10,312 − 3,867
    assert Decimal(total["gross"]) == 10312 - 3867
    bad = client.get("/v1/exports/invoices.csv", params={"from": "2026-04-01", "to": "2026-03-01"}, headers=HEADERS)
    assert bad.status_code == 422 and bad.json()["details"]["errors"][0]["field"] == "from"


def test_xlsx_has_the_same_figures(client):
    response = client.get("/v1/exports/invoices.xlsx", params={"from": "2026-03-01", "to": "2026-03-31"},
                          headers=HEADERS)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in line])) for line in sheet.iter_rows(min_row=2)]
    assert rows[0]["number"] == "INV-2026-000001" and Decimal(str(rows[0]["gross"])) == 10312
    assert rows[-1]["number"] == "TOTAL HUF"
    assert Decimal(str(rows[-1]["gross"])) == _ledger_cash(client, "acme")


def test_nav_zip_holds_every_pdf_and_xml(client):
    response = client.get("/v1/exports/nav.zip", params={"from": "2026-03-01", "to": "2026-03-31"}, headers=HEADERS)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    for number in ("INV-2026-000001", "CRN-2026-000001"):
        assert f"pdf/{number}.pdf" in names and f"xml/{number}.xml" in names
        assert archive.read(f"pdf/{number}.pdf").startswith(b"%PDF")
        assert number.encode() in archive.read(f"xml/{number}.xml")
    assert not any("PRO-" in name for name in names)


def test_customer_key_cannot_export(client):
    key = client.post("/v1/accounts/acme/keys", headers=HEADERS).json()["key"]
    response = client.get("/v1/exports/invoices.csv", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403


def test_export_to_dir_and_cli(client, tmp_path, monkeypatch, db_url):
    factory = client.app.state.factory
    paths = export_to_dir(factory, date(2026, 3, 1), date(2026, 3, 31), tmp_path / "out")
    assert sorted(p.name for p in paths) == ["invoices_2026-03-01_2026-03-31.csv",
                                            "invoices_2026-03-01_2026-03-31.xlsx", "nav_2026-03-01_2026-03-31.zip"]
    monkeypatch.setenv("DATABASE_URL", db_url)
    cmd_export(SimpleNamespace(date_from="2026-03-01", date_to="2026-03-18", out=str(tmp_path / "cli")))
    text = (tmp_path / "cli" / "invoices_2026-03-01_2026-03-18.csv").read_text("utf-8-sig")
    assert "INV-2026-000001" in text and "CRN-2026-000001" not in text
