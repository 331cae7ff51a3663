"""Putting issued documents into the NAV outbox, and reading their reporting state.

`enqueue` runs inside the caller's transaction (the one that issues the document), so a document
is issued if and only if it is queued for NAV; nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from invoices.documents import Document
from nav_reporting.models import NavOutbox
from nav_reporting.xml import DATA_NS, build_invoice_data, validate_invoice_data


class OutboxError(ValueError):
    """The document cannot be queued (its base invoice is not in the outbox, for instance)."""


@dataclass(frozen=True, slots=True)
class AbortedReport:
    document_number: str
    operation: str
    messages: tuple[dict, ...]
    last_error: str | None


def enqueue(session: Session, doc: Document) -> None:
    """Render, validate and queue `doc`; flushes so the unique number is checked at once."""
    line_count_before = 1
    operation, base = "CREATE", None
    if doc.kind in ("credit_note", "correction"):  # a modifying document: MODIFY of its base invoice
        operation, base = "MODIFY", doc.references[0] if doc.references else None
        line_count_before = _chain_line_count(session, doc)
    xml = build_invoice_data(doc, original_line_count=line_count_before)
    validate_invoice_data(xml)
    session.add(NavOutbox(
        document_number=doc.number, operation=operation, base_document_number=base,
        modification_index=doc.modification_index, line_count=len(doc.lines),
        invoice_xml=xml.decode("utf-8"), status="QUEUED", attempts=0, messages=[],
    ))
    session.flush()


def _chain_line_count(session: Session, doc: Document) -> int:
    """Lines already in the chain: the base invoice's plus those of earlier modifications, since
    NAV numbers a modification's lines (lineNumberReference) after all of them."""
    if not doc.references or doc.modification_index is None:
        raise OutboxError(f"{doc.number}: a modifying document needs references[0] and modification_index")
    base = session.scalar(select(NavOutbox).where(NavOutbox.document_number == doc.references[0]))
    if base is None:
        raise OutboxError(f"{doc.number}: base invoice {doc.references[0]} is not in the NAV outbox")
    earlier = session.scalar(
        select(func.coalesce(func.sum(NavOutbox.line_count), 0)).where(
            NavOutbox.base_document_number == base.document_number,
            NavOutbox.modification_index < doc.modification_index,
        )
    )
    return base.line_count + int(earlier)


def nav_status(session: Session, number: str) -> str | None:
    """QUEUED … DONE/ABORTED for a queued document; None if it was never queued."""
    return session.scalar(select(NavOutbox.status).where(NavOutbox.document_number == number))


def aborted(session: Session) -> list[AbortedReport]:
    """Documents NAV rejected, with its messages (fix, then issue a corrected document)."""
    rows = session.scalars(select(NavOutbox).where(NavOutbox.status == "ABORTED").order_by(NavOutbox.id))
    return [AbortedReport(r.document_number, r.operation, tuple(r.messages or ()), r.last_error) for r in rows]


def invoice_number_of(invoice_xml: bytes) -> str | None:
    """The invoiceNumber of an InvoiceData document (used to match NAV's copy to our rows)."""
    try:
        root = etree.fromstring(invoice_xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    return root.findtext(f"{{{DATA_NS}}}invoiceNumber")
