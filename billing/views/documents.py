"""Read models of documents: an account's list (a page at a time if asked), one document, their
statuses (paid, overdue, refunded).

An account's list is in (issue_date, number) order, both fixed when a document is issued, so a
keyset cursor (the last row shown) pages it without OFFSET and never skips or repeats a row.
Everything a page shows besides its rows is read for those rows only, a query per kind of fact
(paid amounts, credit notes, NAV statuses), so a page costs the same at month 36 as at month 2."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.cycle.run import load_state
from billing.db import models as m
from billing.db.queries import among
from billing.domain.state import AccountState
from billing.errors import NotFound
from billing.money import fmt
from billing.views.accounts import get_account
from billing.views.cursors import after_key, decode_day_key, encode_day_key
from invoices.documents import Document
from nav_reporting.models import NavOutbox

ACCOUNT_LIST = "account-documents"  # the name its cursors carry (billing/views/cursors.py)


def paid_by_proforma(session: Session, numbers: list[str]) -> dict[str, Decimal]:
    if not numbers:
        return {}
    rows = session.execute(select(m.AllocationRow.proforma_number, m.AllocationRow.amount).where(
        among(session, m.AllocationRow.proforma_number, numbers)))
    paid: dict[str, Decimal] = {}
    for number, amount in rows:
        paid[number] = paid.get(number, Decimal(0)) + amount
    return paid


def nav_statuses(session: Session, numbers: list[str]) -> dict[str, str]:
    """nav_reporting.outbox.nav_status for many documents in one query (a document never queued
    is missing)."""
    if not numbers:
        return {}
    return dict(session.execute(select(NavOutbox.document_number, NavOutbox.status)
                                .where(among(session, NavOutbox.document_number, numbers))).all())


def nav_status_of(session: Session, number: str, kind: str) -> str | None:
    return None if kind == "proforma" else nav_statuses(session, [number]).get(number)


def credited_amounts(session: Session, rows: list) -> dict[str, Decimal]:
    """What credit notes took off each invoice among `rows`: the sum of -gross of those naming it (a
    credit note's gross is negative). Read only when `rows` hold an invoice: the credit notes of
    their accounts, of each only its gross and its references, not the whole frozen document.
    (Which credit notes name an invoice is only in their JSON body: narrowing the query to those
    needs a column or table of references.)"""
    invoices = {r.number for r in rows if r.kind == "invoice"}
    if not invoices:
        return {}
    doc = m.DocumentRow
    notes = session.execute(select(doc.gross, doc.body["references"]).where(
        doc.kind == "credit_note", among(session, doc.account_id, sorted({r.account_id for r in rows}))))
    credited: dict[str, Decimal] = {}
    for gross, references in notes:
        for reference in references or ():
            if reference in invoices:
                credited[reference] = credited.get(reference, Decimal(0)) - gross
    return credited


def document_statuses(session: Session, rows: list, state: AccountState | None,
                      paid: dict[str, Decimal] | None = None) -> dict[str, str]:
    """`rows`: DocumentRows or rows with their number, kind, account_id, gross and due_date;
    paid: what paid_by_proforma gives for these rows, when the caller has it already."""
    if paid is None:
        paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    credited = credited_amounts(session, rows)
    today = state.through if state and state.through else None
    closed = state is not None and state.status in ("terminated", "expired")
    statuses = {}
    for row in rows:
        if row.kind == "proforma":
            unpaid = row.gross - paid.get(row.number, Decimal(0))
            if unpaid <= 0:
                statuses[row.number] = "paid"
            elif closed:
                statuses[row.number] = "void"
            elif today is not None and row.due_date < today:
                statuses[row.number] = "overdue"
            else:
                statuses[row.number] = "open"
        elif row.kind == "invoice":
            amount = credited.get(row.number, Decimal(0))
            statuses[row.number] = "paid" if amount == 0 else ("refunded" if amount >= row.gross else "partially_refunded")
        else:
            statuses[row.number] = "issued"
    return statuses


_doc = m.DocumentRow
# The columns a summary reads: a row, not a mapped object (nor the document's derivation, `explain`).
# The frozen body is decoded here: PostgreSQL's json operators would parse it again for each field.
SUMMARY_COLUMNS = (_doc.number, _doc.kind, _doc.account_id, _doc.issue_date, _doc.due_date, _doc.currency,
                   _doc.gross, _doc.net, _doc.vat, _doc.body)


def document_summary(row, status: str, nav_status: str | None, paid: Decimal | None = None) -> dict:
    """`row`: a DocumentRow, or a row of SUMMARY_COLUMNS."""
    body = row.body
    summary = {
        "number": row.number, "kind": row.kind, "account_id": row.account_id,
        "issue_date": row.issue_date.isoformat(), "due_date": row.due_date.isoformat(),
        "fulfilment_date": body.get("fulfilment_date"),
        "gross": fmt(row.gross, row.currency), "net": fmt(row.net, row.currency), "vat": fmt(row.vat, row.currency),
        "currency": row.currency, "status": status, "nav_status": nav_status,
        "period_start": body.get("period_start"), "period_end": body.get("period_end"),
        "references": body.get("references", []),
    }
    if paid is not None:
        summary["paid"] = fmt(paid, row.currency)
        summary["remaining"] = fmt(max(Decimal(0), row.gross - paid), row.currency)
    return summary


def documents_view(session: Session, account_id: str, limit: int | None = None,
                   cursor: str | None = None) -> dict:
    """The account's documents by (issue_date, number): all of them (after `cursor`, if given), or
    `limit` at a time. `next_cursor` continues after the last one shown; null on the last page."""
    account = get_account(session, account_id)
    doc = m.DocumentRow
    query = select(*SUMMARY_COLUMNS).where(doc.account_id == account_id).order_by(doc.issue_date, doc.number)
    if cursor:
        query = query.where(after_key(doc.issue_date, doc.number, decode_day_key(cursor, ACCOUNT_LIST)))
    rows = session.execute(query if limit is None else query.limit(limit + 1)).all()
    more = limit is not None and len(rows) > limit  # one row looked ahead: null exactly at the end
    rows = rows[:limit] if more else rows
    return {"account_id": account_id, "documents": summaries(session, account, rows),
            "next_cursor": encode_day_key(ACCOUNT_LIST, rows[-1].issue_date, rows[-1].number) if more else None}


def summaries(session: Session, account: m.Account, rows: list) -> list[dict]:
    """Each of one account's `rows` (of SUMMARY_COLUMNS) as its documents list shows it: a query
    each for the amounts paid, the credit notes and the NAV statuses of these rows."""
    paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    statuses = document_statuses(session, rows, load_state(session, account), paid)
    navs = nav_statuses(session, [r.number for r in rows if r.kind != "proforma"])
    return [document_summary(r, statuses[r.number], navs.get(r.number),
                             paid.get(r.number, Decimal(0)) if r.kind == "proforma" else None) for r in rows]


def get_document_row(session: Session, number: str) -> m.DocumentRow:
    row = session.get(m.DocumentRow, number)
    if row is None:
        raise NotFound(f"no document {number}")
    return row


def document_view(session: Session, number: str) -> dict:
    row = get_document_row(session, number)
    account = get_account(session, row.account_id)
    paid_map = paid_by_proforma(session, [row.number] if row.kind == "proforma" else [])
    status = document_statuses(session, [row], load_state(session, account), paid_map)[row.number]
    paid = paid_map.get(row.number, Decimal(0)) if row.kind == "proforma" else None
    return {**document_summary(row, status, nav_status_of(session, row.number, row.kind), paid),
            "document": row.body, "content_hash": row.content_hash}


def frozen_document(session: Session, number: str) -> Document:
    return Document.from_json(get_document_row(session, number).body)
