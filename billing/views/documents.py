"""Read models of documents: their list, one document, their statuses (paid, overdue, refunded)."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.cycle.run import load_state
from billing.db import models as m
from billing.domain.state import AccountState
from billing.errors import NotFound
from billing.money import fmt
from billing.views.accounts import get_account
from invoices.documents import Document


def paid_by_proforma(session: Session, numbers: list[str]) -> dict[str, Decimal]:
    if not numbers:
        return {}
    rows = session.execute(select(m.AllocationRow.proforma_number, m.AllocationRow.amount).where(
        m.AllocationRow.proforma_number.in_(numbers)))
    paid: dict[str, Decimal] = {}
    for number, amount in rows:
        paid[number] = paid.get(number, Decimal(0)) + amount
    return paid


def nav_status_of(session: Session, number: str, kind: str) -> str | None:
    if kind == "proforma":
        return None
    from nav_reporting.outbox import nav_status

    return nav_status(session, number)


def document_statuses(session: Session, rows: list[m.DocumentRow], state: AccountState | None,
                      paid: dict[str, Decimal] | None = None) -> dict[str, str]:
    """paid: what paid_by_proforma gives for these rows, when the caller has it already."""
    if paid is None:
        paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    credited: dict[str, Decimal] = {}
    account_ids = {r.account_id for r in rows}
    for note in session.scalars(select(m.DocumentRow).where(m.DocumentRow.kind == "credit_note",
                                                            m.DocumentRow.account_id.in_(account_ids))):
        for reference in note.body.get("references", []):
            credited[reference] = credited.get(reference, Decimal(0)) - note.gross
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


def document_summary(row: m.DocumentRow, status: str, nav_status: str | None, paid: Decimal | None = None) -> dict:
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


def documents_view(session: Session, account_id: str) -> dict:
    account = get_account(session, account_id)
    rows = list(session.scalars(select(m.DocumentRow).where(m.DocumentRow.account_id == account_id)
                                .order_by(m.DocumentRow.issue_date, m.DocumentRow.created_at)))
    paid = paid_by_proforma(session, [r.number for r in rows if r.kind == "proforma"])
    statuses = document_statuses(session, rows, load_state(session, account), paid)
    return {"account_id": account_id, "documents": [
        document_summary(r, statuses[r.number], nav_status_of(session, r.number, r.kind),
                         paid.get(r.number, Decimal(0)) if r.kind == "proforma" else None) for r in rows]}


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
