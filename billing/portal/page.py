"""The portal page's view model: plain dicts of already formatted text, so the template does no
arithmetic and no formatting of its own."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.views import accounts, documents, statements
from billing.cycle.run import load_state
from billing.db import models as m
from billing.payments.saved_cards import current_card, expiry
from billing.portal.labels import labels
from invoices.i18n import fmt_date, fmt_money, fmt_month, normalize_locale

PAYABLE = ("open", "overdue")
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html"]))


def render_page(model: dict[str, Any]) -> str:
    return _TEMPLATES.get_template("portal.html").render(**model)


def page_model(session: Session, account_id: str, locale: str | None, link: Callable[[str], str],
               can_pay: bool) -> dict[str, Any]:
    """`link(path)` turns a portal path into a URL that carries the caller's credentials."""
    account = accounts.get_account(session, account_id)
    loc = normalize_locale(locale or account.locale, fallback="en")
    summary = accounts.account_view(session, account_id)
    words = labels(loc)
    return {
        "lang": loc, "t": words, "name": account.name, "account_id": account_id,
        "access": words.get(summary["access"], summary["access"]), "access_key": summary["access"],
        "balance": fmt_money(Decimal(summary["balance"]), account.currency, loc),
        "documents": _documents(session, account, loc, link, can_pay),
        "statements": _statements(session, account, loc, link),
        "card": _card(session, account_id, link),
    }


def _card(session: Session, account_id: str, link) -> dict[str, Any] | None:
    """The card on file, as much of it as the customer needs to recognise it (never more than
    the brand, the last four digits and the expiry), and where the remove button posts."""
    card = current_card(session, account_id)
    if card is None:
        return None
    return {"brand": (card.brand or "").capitalize(), "last4": card.last4 or "", "expiry": expiry(card),
            "remove": link(f"cards/{card.id}/remove")}


def _documents(session: Session, account: m.Account, loc: str, link, can_pay: bool) -> list[dict]:
    rows = list(session.scalars(select(m.DocumentRow).where(m.DocumentRow.account_id == account.id)
                                .order_by(m.DocumentRow.issue_date.desc(), m.DocumentRow.number.desc())))
    paid = documents.paid_by_proforma(session, [row.number for row in rows if row.kind == "proforma"])
    statuses = documents.document_statuses(session, rows, load_state(session, account), paid)
    words = labels(loc)
    items = []
    for row in rows:
        status = statuses[row.number]
        remaining = max(Decimal(0), row.gross - paid.get(row.number, Decimal(0))) if row.kind == "proforma" else None
        items.append({
            "number": row.number, "kind": words[row.kind], "status": words.get(status, status), "status_key": status,
            "issue_date": fmt_date(row.issue_date, loc), "due_date": fmt_date(row.due_date, loc),
            "amount": fmt_money(row.gross, row.currency, loc),
            "remaining": fmt_money(remaining, row.currency, loc) if remaining else None,
            "pdf": link(f"documents/{row.number}.pdf"),
            "pay": link(f"documents/{row.number}/pay") if can_pay and status in PAYABLE and remaining else None,
        })
    return items


def _statements(session: Session, account: m.Account, loc: str, link) -> list[dict]:
    """One per month with any ledger activity the customer sees, latest first."""
    days = session.scalars(select(m.JournalEntry.day).where(
        m.JournalEntry.account_id == account.id, m.JournalEntry.kind.in_(accounts.CUSTOMER_KINDS)).distinct())
    months = sorted({day.strftime("%Y-%m") for day in days}, reverse=True)
    items = []
    for month in months:
        st = statements.statement(session, account.id, month)
        items.append({"month": fmt_month(month, loc), "key": month,
                      "payments": fmt_money(st.payments, st.currency, loc),
                      "charges": fmt_money(st.charges, st.currency, loc),
                      "refunds": fmt_money(st.refunds, st.currency, loc) if st.refunds else None,
                      "closing": fmt_money(st.closing_balance, st.currency, loc),
                      "pdf": link(f"statements/{month}.pdf")})
    return items
