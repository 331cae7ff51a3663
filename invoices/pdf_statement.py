"""The monthly statement PDF (ÁSZF §2.2): opening balance, payments, charges, refunds, closing
balance, and the lines behind them; with explain=True an appendix shows the calculation."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Spacer

from invoices.documents import Statement, StatementLine
from invoices.i18n import fmt_amount, fmt_date, fmt_money, fmt_month, fmt_number, label, normalize_locale
from invoices.pdf_layout import CONTENT_WIDTH, build, grid, para, party_block


def render_statement_pdf(st: Statement, locale: str | None = None, explain: bool = False) -> bytes:
    loc = normalize_locale(locale, fallback=normalize_locale(st.locale))
    header = [
        [para(label(loc, "account"), "head"), para(st.account_id, "cell")],
        [para(label(loc, "month"), "head"), para(fmt_month(st.month, loc), "cell")],
    ]
    story: list = [para(label(loc, "statement"), "title"), grid(header, [45 * mm, 70 * mm], header=False, box=False)]
    parties = [[party_block(st.seller, "seller", loc), party_block(st.buyer, "buyer", loc)]]
    story += [Spacer(1, 3 * mm), grid(parties, [CONTENT_WIDTH / 2] * 2, header=False), Spacer(1, 4 * mm)]
    story += [_summary(st, loc), Spacer(1, 4 * mm), _lines(st, loc)]
    if explain and st.explain:
        story += [PageBreak(), para(label(loc, "explain"), "section")]
        story += [para(_explain_text(entry, loc), "small") for entry in st.explain]
    return build(story, title=f"{label(loc, 'statement')} {st.account_id} {st.month}", footer=f"{st.account_id} {st.month}")


def _summary(st: Statement, loc: str):
    rows = [
        ("opening_balance", st.opening_balance),
        ("payments", st.payments),
        ("charges", st.charges),
        ("refunds", st.refunds),
        *((("credits", st.credits),) if st.credits else ()),
        ("closing_balance", st.closing_balance),
    ]
    cells = [[para(label(loc, k), "head"), para(fmt_money(v, st.currency, loc), "head_right")] for k, v in rows]
    return grid(cells, [60 * mm, 40 * mm], header=False)


def _lines(st: Statement, loc: str):
    keys = ["date", "kind", "description", "seats", "monthly_price", "amount", "reference"]
    rows = [[para(label(loc, k), "head") for k in keys]]
    rows += [_line_row(line, st.currency, loc) for line in st.lines]
    return grid(rows, [80, 58, 120, 38, 55, 60, 86])


def _line_row(line: StatementLine, currency: str, loc: str) -> list:
    days = fmt_date(line.date_from, loc)
    if line.date_to != line.date_from:
        days += " – " + fmt_date(line.date_to, loc)
    cells = [
        para(days, "cell"),
        para(label(loc, line.kind), "cell"),
        para(line.description, "cell"),
        para("" if line.seats is None else str(line.seats), "cell_right"),
        para("" if line.monthly_price is None else fmt_amount(line.monthly_price, currency, loc), "cell_right"),
        para(fmt_amount(line.amount, currency, loc), "cell_right"),
        para(line.reference or "", "cell"),
    ]
    return cells


def _explain_text(entry: dict, loc: str) -> str:
    """One calculation step as "key: value; …", numbers and dates in the reader's format."""
    parts = []
    for key, value in entry.items():
        if isinstance(value, Decimal):
            shown = fmt_number(value, loc)  # exact steps: never rounded to the currency here
        elif isinstance(value, date):
            shown = fmt_date(value, loc)
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)
