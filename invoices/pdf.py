"""PDF renderers of the frozen records: an issued document (proforma, invoice, credit note) and a
monthly statement. Pure over their input: the same record and locale give the same bytes."""
from __future__ import annotations

from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from invoices.documents import Document, DocumentLine
from invoices.i18n import (
    fmt_amount,
    fmt_date,
    fmt_money,
    fmt_percent,
    fmt_quantity,
    fmt_rate,
    fmt_unit_price,
    label,
    normalize_locale,
)
from invoices.pdf_layout import CONTENT_WIDTH, build, grid, para, party_block
from invoices.pdf_statement import render_statement_pdf

__all__ = ["render_document_pdf", "render_statement_pdf", "vat_summary"]


def render_document_pdf(doc: Document, locale: str | None = None) -> bytes:
    loc = normalize_locale(locale, fallback=normalize_locale(doc.locale))
    title = label(loc, "correction_title" if doc.kind == "correction" else doc.kind)
    story: list = [para(title, "title")]
    if doc.kind == "proforma":
        story.append(para(label(loc, "proforma_note"), "notice"))
    story += [_meta_table(doc, loc), Spacer(1, 4 * mm), _parties(doc, loc), Spacer(1, 4 * mm)]
    if doc.kind == "correction":
        story += _correction(doc, loc)
        return build(story, title=f"{title} {doc.number}", footer=doc.number)
    story += [_lines_table(doc, loc), para(label(loc, "vat_summary"), "section"), _summary_table(doc, loc)]
    story += [Spacer(1, 3 * mm), _totals(doc, loc)]
    if doc.vat_treatment.legal_text:
        story.append(para(_vat_wording(doc, loc), "notice"))
    if doc.currency != "HUF" and doc.exchange_rate:  # 0: a proforma issued while MNB had no rate
        story += [para(label(loc, "in_huf"), "section"), _huf_block(doc, loc)]
    if doc.reason:
        story += [para(label(loc, "modification_reason"), "section"), para(doc.reason)]
    if doc.notes:
        story += [para(label(loc, "notes"), "section")] + [para(note) for note in doc.notes]
    return build(story, title=f"{title} {doc.number}", footer=doc.number)


def _correction(doc: Document, loc: str) -> list:
    """What a correction states (Áfa tv. 170. §): the data corrected, as issued and as it should
    be, why, and that no amount changes."""
    rows = [[para(label(loc, k), "head") for k in ("corrected_field", "as_issued", "corrected_value")]]
    rows += [[para(label(loc, f"field_{field}"), "cell"), para(was or "—", "cell"), para(now or "—", "cell")]
             for field, was, now in doc.corrected]
    story = [para(label(loc, "corrected_data"), "section"), grid(rows, [120, 190, 190])]
    if doc.reason:
        story += [para(label(loc, "modification_reason"), "section"), para(doc.reason)]
    story.append(para(label(loc, "no_amount_change"), "notice"))
    if doc.notes:
        story += [para(label(loc, "notes"), "section")] + [para(note) for note in doc.notes]
    return story


def vat_summary(doc: Document) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    """(rate, net, vat, gross) per VAT rate, summed from the lines: NAV checks that the summary
    equals the sum of the lines, so it is never computed any other way."""
    totals: dict[Decimal, list[Decimal]] = {}
    for line in doc.lines:
        acc = totals.setdefault(doc.vat_treatment.rate, [Decimal(0)] * 3)
        acc[0] += line.net
        acc[1] += line.vat
        acc[2] += line.gross
    return [(rate, *sums) for rate, sums in sorted(totals.items())]


def _meta_table(doc: Document, loc: str):
    rows = [
        (label(loc, "number"), doc.number),
        (label(loc, "issue_date"), fmt_date(doc.issue_date, loc)),
        (label(loc, "fulfilment_date"), fmt_date(doc.fulfilment_date, loc)),
        (label(loc, "due_date"), fmt_date(doc.due_date, loc)),
    ]
    if doc.period_start and doc.period_end:
        rows.append((label(loc, "period"), _period(doc.period_start, doc.period_end, loc)))
    if doc.payment_method:
        rows.append((label(loc, "payment_method"), label(loc, doc.payment_method)))
    rows.append((label(loc, "currency"), doc.currency))
    if doc.kind in ("credit_note", "correction"):
        rows.append((label(loc, "modifies"), ", ".join(doc.references)))
        if doc.modification_index is not None:
            rows.append((label(loc, "modification_index"), str(doc.modification_index)))
    if doc.kind == "proforma":
        rows.append((label(loc, "payment_reference"), doc.number))
    cells = [[para(k, "head"), para(v, "cell")] for k, v in rows]
    return grid(cells, [45 * mm, 70 * mm], header=False, box=False)


def _parties(doc: Document, loc: str):
    reverse = doc.vat_treatment.kind == "reverse_charge"
    seller = party_block(doc.seller, "seller", loc, reverse_charge=reverse)
    buyer = party_block(doc.buyer, "buyer", loc)
    return grid([[seller, buyer]], [CONTENT_WIDTH / 2] * 2, header=False)


_LINE_WIDTHS = [102, 50, 70, 58, 50, 57, 52, 57]


def _lines_table(doc: Document, loc: str):
    keys = ["description", "quantity", "unit", "unit_price_net", "vat_rate", "net", "vat", "gross"]
    rows = [[para(label(loc, k), "head" if i == 0 else "head_right") for i, k in enumerate(keys)]]
    rows += [_line_row(doc, line, loc) for line in doc.lines]
    return grid(rows, _LINE_WIDTHS)


def _line_row(doc: Document, line: DocumentLine, loc: str) -> list:
    description = line.description
    if line.period_start and line.period_end:
        description += "\n" + _period(line.period_start, line.period_end, loc)
    if line.advance:  # money beyond what proformas asked for (Áfa tv. 59. §): no period, an advance
        description += "\n" + label(loc, "advance_line")
    right = [
        fmt_quantity(line.quantity, loc),
        label(loc, line.unit),
        fmt_unit_price(line.unit_price_net, doc.currency, loc),
        _rate_text(doc, doc.vat_treatment.rate, loc),
        fmt_amount(line.net, doc.currency, loc),
        fmt_amount(line.vat, doc.currency, loc),
        fmt_amount(line.gross, doc.currency, loc),
    ]
    return [para(description, "cell")] + [para(text, "cell_right") for text in right]


def _summary_table(doc: Document, loc: str):
    keys = ["vat_rate", "net", "vat", "gross"]
    rows = [[para(label(loc, k), "head_right") for k in keys]]
    for rate, net, vat, gross in vat_summary(doc):
        amounts = [fmt_amount(v, doc.currency, loc) for v in (net, vat, gross)]
        rows.append([para(t, "cell_right") for t in [_rate_text(doc, rate, loc), *amounts]])
    return grid(rows, [90, 80, 80, 80])


def _totals(doc: Document, loc: str):
    rows = [
        (label(loc, "net_total"), fmt_money(doc.net, doc.currency, loc)),
        (label(loc, "vat_total"), fmt_money(doc.vat, doc.currency, loc)),
        (label(loc, "gross_total"), fmt_money(doc.gross, doc.currency, loc)),
    ]
    if doc.kind == "proforma":
        rows.append((label(loc, "amount_payable"), fmt_money(doc.gross, doc.currency, loc)))
    cells = [[para(k, "head"), para(v, "head_right")] for k, v in rows]
    return grid(cells, [60 * mm, 40 * mm], header=False, box=False)


def _huf_block(doc: Document, loc: str):
    rate_line = f"{label(loc, 'exchange_rate')}: 1 {doc.currency} = {fmt_rate(doc.exchange_rate, loc)} HUF"
    if doc.exchange_rate_date:
        rate_line += f" ({label(loc, 'rate_date')}: {fmt_date(doc.exchange_rate_date, loc)})"
    rows = [
        (label(loc, "net_total"), fmt_money(doc.net_huf, "HUF", loc)),
        (label(loc, "vat_total"), fmt_money(doc.vat_huf, "HUF", loc)),
        (label(loc, "gross_total"), fmt_money(doc.gross_huf, "HUF", loc)),
    ]
    cells = [[para(rate_line, "cell"), ""]] + [[para(k, "head"), para(v, "head_right")] for k, v in rows]
    table = grid(cells, [60 * mm, 40 * mm], header=False, box=False)
    table.setStyle([("SPAN", (0, 0), (1, 0))])
    return table


def _rate_text(doc: Document, rate: Decimal, loc: str) -> str:
    kind = doc.vat_treatment.kind
    if kind == "domestic":
        return fmt_percent(rate, loc)
    return label(loc, kind)  # "fordított adózás" / "áfa hatályán kívül", localized


def _vat_wording(doc: Document, loc: str) -> str:
    """The statutory wording exactly as decided (Hungarian and English), plus the buyer's language."""
    text = doc.vat_treatment.legal_text or ""
    if loc not in ("hu", "en"):
        text += f" – {label(loc, doc.vat_treatment.kind)}"
    return text


def _period(start, end, loc: str) -> str:
    return f"{fmt_date(start, loc)} – {fmt_date(end, loc)}"
