"""The portal page's view model: plain dicts of already formatted text, so the template does no
arithmetic and no formatting of its own.

The page is bounded whatever the account's age: the statements of the latest STATEMENT_MONTHS
months with activity (older ones keep their PDF link, /portal/{id}/statements/YYYY-MM.pdf), their
figures from one grouped SQL sum; and the latest DOCUMENTS_PER_PAGE documents, newest first, with
a link to the next older ones (`?before=`, a cursor on (issue_date, number))."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.views import accounts, documents, statements
from billing.cycle.run import load_state
from billing.db import models as m
from billing.domain.state import AccountState
from billing.payments.saved_cards import current_card, expiry
from billing.portal.labels import labels
from billing.views.cursors import after_key, decode_day_key, encode_day_key
from invoices.i18n import fmt_date, fmt_money, fmt_month, normalize_locale

PAYABLE = ("open", "overdue")
STATEMENT_MONTHS = 12  # a year of statements; older ones by their PDF link
DOCUMENTS_PER_PAGE = 24  # about a year: a proforma and an invoice a month
OLDER = "portal-documents"  # the name the `before` cursor carries (billing/views/cursors.py)
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html"]))

# `link(path, **query)`: a portal path ("" for the page itself) as a URL that carries the caller's
# credentials, with `query` added.
Link = Callable[..., str]


# fmt_money of one page's locale: (amount, currency) -> text.
Money = Callable[[Decimal, str], str]


def _page_money(loc: str) -> Money:
    """fmt_money for one page, each distinct amount formatted once: a year of monthly documents
    and statements repeats a few amounts, and Babel takes tens of microseconds for each."""
    @lru_cache(maxsize=None)
    def formatted(text: str, currency: str) -> str:  # by its text: Decimal("-0") == 0, and they show apart
        return fmt_money(Decimal(text), currency, loc)

    return lambda amount, currency: formatted(str(amount), currency)


def render_page(model: dict[str, Any]) -> str:
    return _TEMPLATES.get_template("portal.html").render(**model)


def page_model(session: Session, account_id: str, locale: str | None, link: Link,
               can_pay: bool, before: str | None = None) -> dict[str, Any]:
    """`before`: a cursor the page gave (`older`), to show the documents older than its page."""
    account = accounts.get_account(session, account_id)
    loc = normalize_locale(locale or account.locale, fallback="en")
    stored = load_state(session, account)  # decoded once, for the summary and the documents' statuses
    summary = accounts.account_view(session, account_id, stored)
    words = labels(loc)
    money = _page_money(loc)
    items, older = _documents(session, account, stored, loc, money, link, can_pay, before)
    shown, earlier = _statements(session, account, loc, money, link)
    return {
        "lang": loc, "t": words, "name": account.name, "account_id": account_id,
        "access": words.get(summary["access"], summary["access"]), "access_key": summary["access"],
        "balance": money(Decimal(summary["balance"]), account.currency),
        "documents": items,
        "older_documents": older,
        "latest_documents": link("") if before else None,
        "statements": shown,
        "earlier_statements": words["earlier_statements"].format(count=STATEMENT_MONTHS) if earlier else None,
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


def _documents(session: Session, account: m.Account, stored: AccountState, loc: str, money: Money, link: Link,
               can_pay: bool, before: str | None) -> tuple[list[dict], str | None]:
    """A page of the account's documents, newest first, and the link to the older ones (None on
    the last page)."""
    doc = m.DocumentRow
    # the columns shown and judged (document_statuses), not the frozen documents themselves
    query = (select(doc.number, doc.kind, doc.account_id, doc.issue_date, doc.due_date, doc.currency, doc.gross)
             .where(doc.account_id == account.id).order_by(doc.issue_date.desc(), doc.number.desc())
             .limit(DOCUMENTS_PER_PAGE + 1))  # one row looked ahead: an older link exactly when there are more
    if before:
        query = query.where(after_key(doc.issue_date, doc.number, decode_day_key(before, OLDER, "before"),
                                      descending=True))
    rows = session.execute(query).all()
    more, rows = len(rows) > DOCUMENTS_PER_PAGE, rows[:DOCUMENTS_PER_PAGE]
    paid = documents.paid_by_proforma(session, [row.number for row in rows if row.kind == "proforma"])
    statuses = documents.document_statuses(session, rows, stored, paid)
    words = labels(loc)
    items = []
    for row in rows:
        status = statuses[row.number]
        remaining = max(Decimal(0), row.gross - paid.get(row.number, Decimal(0))) if row.kind == "proforma" else None
        items.append({
            "number": row.number, "kind": words[row.kind], "status": words.get(status, status), "status_key": status,
            "issue_date": fmt_date(row.issue_date, loc), "due_date": fmt_date(row.due_date, loc),
            "amount": money(row.gross, row.currency),
            "remaining": money(remaining, row.currency) if remaining else None,
            "pdf": link(f"documents/{row.number}.pdf"),
            "pay": link(f"documents/{row.number}/pay") if can_pay and status in PAYABLE and remaining else None,
        })
    older = link("", before=encode_day_key(OLDER, rows[-1].issue_date, rows[-1].number)) if more else None
    return items, older


def _statements(session: Session, account: m.Account, loc: str, money: Money, link: Link) -> tuple[list[dict], int]:
    """The latest months with ledger activity the customer sees, latest first, and how many
    earlier months are not shown."""
    shown, earlier = statements.latest_months(session, account, STATEMENT_MONTHS)
    c = account.currency
    return [{"month": fmt_month(st.month, loc), "key": st.month,
             "payments": money(st.payments, c),
             "charges": money(st.charges, c),
             "refunds": money(st.refunds, c) if st.refunds else None,
             "closing": money(st.closing, c),
             "pdf": link(f"statements/{st.month}.pdf")} for st in shown], earlier
