"""Accountant exports of the issued documents: invoices.csv, invoices.xlsx and nav.zip.

Everything is read from the frozen documents (never from live account data), so an export of a
closed period gives the same figures every time it is run. The date range is on the issue date,
both ends inclusive. Totals cover invoices, credit notes and corrections only: a proforma is a
payment request, not an accounting document. A credit note's amounts are negative and a
correction's are zero (it corrects buyer data), so a plain sum is the net revenue.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.dates import parse_day
from billing.db import models as m
from billing.errors import InvalidInput
from billing.money import fmt
from invoices.documents import Document
from nav_reporting.models import NavOutbox
from nav_reporting.outbox import nav_status
from nav_reporting.xml import build_invoice_data

COLUMNS = (
    "number", "kind", "account_id", "issue_date", "fulfilment_date", "due_date", "buyer_name",
    "buyer_country", "buyer_tax_number", "buyer_eu_vat_number", "vat_treatment", "vat_rate", "currency",
    "net", "vat", "gross", "exchange_rate", "exchange_rate_date", "net_huf", "vat_huf", "gross_huf",
    "payment_method", "nav_status", "references",
)
ACCOUNTING_KINDS = ("invoice", "credit_note", "correction")
MONEY_COLUMNS = ("net", "vat", "gross")
HUF_COLUMNS = ("net_huf", "vat_huf", "gross_huf")


@dataclass(frozen=True, slots=True)
class ExportRow:
    doc: Document
    nav_status: str | None


def load_rows(session: Session, date_from: date | None, date_to: date | None,
              include_proformas: bool = False) -> list[ExportRow]:
    kinds = ACCOUNTING_KINDS + (("proforma",) if include_proformas else ())
    query = select(m.DocumentRow).where(m.DocumentRow.kind.in_(kinds))
    if date_from:
        query = query.where(m.DocumentRow.issue_date >= date_from)
    if date_to:
        query = query.where(m.DocumentRow.issue_date <= date_to)
    # Numbers are gapless per series and year, so (issue date, number) is the auditor's order.
    rows = session.scalars(query.order_by(m.DocumentRow.issue_date, m.DocumentRow.number))
    return [ExportRow(Document.from_json(r.body),
                      nav_status(session, r.number) if r.kind != "proforma" else None) for r in rows]


def row_values(row: ExportRow) -> dict[str, object]:
    doc = row.doc
    return {
        "number": doc.number, "kind": doc.kind, "account_id": doc.account_id,
        "issue_date": doc.issue_date, "fulfilment_date": doc.fulfilment_date, "due_date": doc.due_date,
        "buyer_name": doc.buyer.name, "buyer_country": doc.buyer.country,
        "buyer_tax_number": doc.buyer.tax_number or "", "buyer_eu_vat_number": doc.buyer.eu_vat_number or "",
        "vat_treatment": doc.vat_treatment.kind, "vat_rate": doc.vat_treatment.rate, "currency": doc.currency,
        "net": doc.net, "vat": doc.vat, "gross": doc.gross,
        "exchange_rate": doc.exchange_rate, "exchange_rate_date": doc.exchange_rate_date or "",
        "net_huf": doc.net_huf, "vat_huf": doc.vat_huf, "gross_huf": doc.gross_huf,
        "payment_method": doc.payment_method or "", "nav_status": row.nav_status or "",
        "references": " ".join(doc.references),
    }


def totals(rows: list[ExportRow]) -> list[dict[str, object]]:
    """One totals row per document currency (amounts of different currencies never add up), each
    with its HUF figures; proformas are left out."""
    by_currency: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        if row.doc.kind not in ACCOUNTING_KINDS:
            continue
        acc = by_currency.setdefault(row.doc.currency, {c: Decimal(0) for c in MONEY_COLUMNS + HUF_COLUMNS})
        for column in MONEY_COLUMNS + HUF_COLUMNS:
            acc[column] += getattr(row.doc, column)
    return [{"number": f"TOTAL {currency}", "kind": "total", "currency": currency, **sums}
            for currency, sums in sorted(by_currency.items())]


def _text(value: object, currency: str | None, column: str) -> str:
    if isinstance(value, Decimal):
        if column in MONEY_COLUMNS and currency:
            return fmt(value, currency)
        if column in HUF_COLUMNS:
            return fmt(value, "HUF")
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def render_csv(rows: list[ExportRow]) -> bytes:
    """RFC 4180 with a decimal point; UTF-8 with a byte order mark so Excel shows ő and ű right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for values in [row_values(r) for r in rows] + totals(rows):
        currency = values.get("currency")
        writer.writerow([_text(values.get(c), currency, c) for c in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_xlsx(rows: list[ExportRow]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from billing.money import minor_units

    book = Workbook()
    sheet = book.active
    sheet.title = "documents"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in [row_values(r) for r in rows] + totals(rows):
        currency = str(values.get("currency") or "HUF")
        # Amounts go in as Decimal (openpyxl writes their exact digits), dates as dates.
        sheet.append([values.get(c) if values.get(c) != "" else None for c in COLUMNS])
        line = sheet.max_row
        if values.get("kind") == "total":
            for cell in sheet[line]:
                cell.font = Font(bold=True)
        for index, column in enumerate(COLUMNS, start=1):
            cell = sheet.cell(line, index)
            if column in MONEY_COLUMNS:
                digits = minor_units(currency)
                cell.number_format = "#,##0" + ("." + "0" * digits if digits else "")
            elif column in HUF_COLUMNS:
                cell.number_format = "#,##0"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _reported_xml(session: Session, doc: Document) -> bytes:
    """The XML that went (or goes) to NAV from the outbox; rebuilt only if the outbox has none,
    because a credit note's line numbering depends on its chain and the outbox has it right."""
    stored = session.scalar(select(NavOutbox.invoice_xml).where(NavOutbox.document_number == doc.number))
    if stored:
        return stored.encode("utf-8")
    return build_invoice_data(doc)


def render_nav_zip(session: Session, rows: list[ExportRow], show_progress: bool = False) -> bytes:
    from billing.progress import progress
    from invoices.pdf import render_document_pdf

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest = []
        for row in (progress(rows, "documents", "doc") if show_progress else rows):
            doc = row.doc
            if doc.kind not in ACCOUNTING_KINDS:
                continue
            # A fixed timestamp per entry keeps the archive byte-identical between runs.
            stamp = (doc.issue_date.year, doc.issue_date.month, doc.issue_date.day, 0, 0, 0)
            archive.writestr(zipfile.ZipInfo(f"pdf/{doc.number}.pdf", stamp), render_document_pdf(doc, doc.locale))
            archive.writestr(zipfile.ZipInfo(f"xml/{doc.number}.xml", stamp), _reported_xml(session, doc))
            manifest.append({"number": doc.number, "kind": doc.kind, "nav_status": row.nav_status})
        archive.writestr(zipfile.ZipInfo("invoices.csv", (1980, 1, 1, 0, 0, 0)), render_csv(rows))
        archive.writestr(zipfile.ZipInfo("manifest.json", (1980, 1, 1, 0, 0, 0)),
                         json.dumps(manifest, indent=1).encode())
    return out.getvalue()


def parse_range(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    parsed = [parse_day(value, name) if value else None for name, value in (("from", date_from), ("to", date_to))]
    if parsed[0] and parsed[1] and parsed[0] > parsed[1]:
        raise InvalidInput("from is after to", {"errors": [{"field": "from", "message": "must not be after to"}]})
    return parsed[0], parsed[1]


def filename(stem: str, date_from: date | None, date_to: date | None, ext: str) -> str:
    span = f"{date_from or 'start'}_{date_to or 'now'}"
    return f"{stem}_{span}.{ext}"


def export_to_dir(factory: sessionmaker, date_from: date | None, date_to: date | None,
                  out_dir: str | Path, show_progress: bool = False) -> list[Path]:
    """Write invoices_<from>_<to>.csv/.xlsx and nav_<from>_<to>.zip into out_dir (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with factory() as session:
        rows = load_rows(session, date_from, date_to)
        files = {
            filename("invoices", date_from, date_to, "csv"): render_csv(rows),
            filename("invoices", date_from, date_to, "xlsx"): render_xlsx(rows),
            filename("nav", date_from, date_to, "zip"): render_nav_zip(session, rows, show_progress),
        }
    written = []
    for name, body in files.items():
        path = out / name
        path.write_bytes(body)
        written.append(path)
    return written


def add_export_arguments(parser) -> None:
    """`billing export --from D --to D --out DIR`; pair with set_defaults(func=cmd_export)."""
    parser.add_argument("--from", dest="date_from", default=None, help="first issue date, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", default=None, help="last issue date, YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="directory to write the files into")


def cmd_export(args) -> None:
    from billing.db.session import create_schema, make_engine, make_session_factory

    start, end = parse_range(getattr(args, "date_from", None), getattr(args, "date_to", None))
    engine = make_engine()
    create_schema(engine)
    paths = export_to_dir(make_session_factory(engine), start, end, args.out, show_progress=True)
    print(json.dumps({"files": [str(p) for p in paths]}, indent=2))
