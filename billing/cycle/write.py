"""What a cycle step stores. Inside a cycle chunk (process_chunk) the rows wait in buffers on the
session and are written together, one executemany per table, at the end of the chunk's
transaction; called anywhere else, they are written at once. JSON columns are given as JSON text
already made, under '<column>__json', so the serialising can happen before the write lock."""
from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from billing import config as billing_config
from billing.accounts import buyer_of, vat_on
from billing.db import bulk, jsoncodec
from billing.db import models as m
from billing.db.base import utcnow
from billing.domain import records as r
from billing.domain.state import AccountState
from billing.cycle import waiting
from billing.cycle.issuing import compose, document_rate, remember_rate
from billing.mail import store as mail
from invoices.documents import Document, text_hash

log = logging.getLogger("billing.cycle")


def save_states(session: Session, states: list[tuple[str, AccountState, bool, str]]) -> None:
    """Many accounts' states at once (account id, state, whether a row is stored, the state as
    JSON text): two executemany."""
    table, now = m.AccountStateRow.__table__, utcnow()
    bulk.update_rows(session, table, "account_id", [
        {"account_id": account_id, "through": state.through, "status": state.status, "state__json": text,
         "updated_at": now} for account_id, state, stored, text in states if stored], increment="version")
    bulk.insert_rows(session, table, [
        {"account_id": account_id, "through": state.through, "status": state.status, "state__json": text,
         "updated_at": now, "version": 1} for account_id, state, stored, text in states if not stored])


def persist_outcome(session: Session, account: m.Account, outcome: r.Outcome,
                    before: AccountState | None = None, after: AccountState | None = None) -> list[Document]:
    for posting in outcome.postings:
        add_posting(session, posting)
    # An invoice whose MNB rate is not known yet waits, unnumbered, instead (billing/cycle/waiting.py)
    issued = [issue_document(session, account, draft) for draft in outcome.documents
              if not waiting.park_if_waiting(session, draft)]
    for allocation in outcome.allocations:
        session.add(m.AllocationRow(payment_event_id=allocation.payment_event_id,
                                    proforma_number=allocation.proforma_number,
                                    amount=allocation.amount, day=allocation.day))
    for change in outcome.state_changes:
        add_state_notice(session, account.id, change)
    for order in outcome.refunds:
        add_refund(session, order)
    for rejection in outcome.rejections:
        log.warning("event %s rejected on %s: %s", rejection.event_id, rejection.day, rejection.reason)
        session.add(m.Rejection(event_id=rejection.event_id, day=rejection.day, reason=rejection.reason))
    if before is not None and after is not None:
        add_step_messages(session, account, before, after, outcome)
    return issued


def add_step_messages(session: Session, account, before: AccountState, after: AccountState,
                      outcome: r.Outcome) -> None:
    """The customer's messages the step decides (reminders, overdue, state changes), in its
    transaction (billing/mail); a document's own message comes with its rows (document_rows)."""
    terms = billing_config.cycle_config().payment_terms_days
    for table, row in mail.step_message_rows(account, before, after, outcome, terms, utcnow()):
        add_row(session, table, row)


def add_posting(session: Session, posting: r.Posting) -> None:
    """Book one balanced entry. Inside a cycle chunk the entries wait in a buffer and are written
    together (flush_postings) in the same transaction; elsewhere they are written at once."""
    rows = posting_rows(posting)
    buffer = session.info.get("posting_buffer")
    if buffer is None:
        _write_postings(session, [rows])
    else:
        buffer.append(rows)


def posting_rows(posting: r.Posting, now: datetime | None = None) -> tuple[dict, list[dict]]:
    """The journal entry row and its legs' rows, still without the entry id."""
    assert sum([amount for _, amount in posting.legs]) == 0, "a journal entry must balance"
    entry = {"account_id": posting.account_id, "day": posting.day, "kind": posting.kind, "amount": posting.amount,
             "currency": posting.currency, "event_id": posting.event_id, "document_number": posting.document_number,
             "details__json": jsoncodec.dumps(posting.details), "created_at": now or utcnow()}
    legs = [{"ledger_account": account, "amount": amount, "currency": posting.currency, "day": posting.day}
            for account, amount in posting.legs]
    return entry, legs


def flush_postings(session: Session) -> None:
    buffer = session.info.pop("posting_buffer", None)
    if buffer:
        _write_postings(session, buffer)


def _write_postings(session: Session, postings: list[tuple[dict, list[dict]]]) -> None:
    entry_ids = bulk.insert_with_ids(session, m.JournalEntry.__table__, [entry for entry, _ in postings])
    bulk.insert_rows(session, m.PostingRow.__table__, [
        {"entry_id": entry_id, **leg} for entry_id, (_, entry_legs) in zip(entry_ids, postings) for leg in entry_legs])


def issue_document(session: Session, account: m.Account, draft: r.DocumentDraft) -> Document:
    rate = document_rate(session, draft)  # never a guess: an invoice without its rate never gets here
    doc = compose(draft, billing_config.seller(), buyer_of(account), vat_on(account, _vat_day(session, draft)),
                  rate, account.locale)
    remember_rate(session, doc.number, rate)  # its credit note in this transaction converts at it
    for table, row in document_rows(doc, draft, utcnow()):
        add_row(session, table, row)
    if doc.kind in ("invoice", "credit_note"):
        _book_vat(session, doc)
        _queue_for_nav(session, doc)
    return doc


def _vat_day(session: Session, draft: r.DocumentDraft) -> date:
    """The day whose VAT decision a document carries: its fulfilment day, but a credit note reduces
    the supply of its invoice and keeps that invoice's treatment (a buyer confirmed in VIES in
    between does not turn a 27 % invoice's refund into a reverse charge)."""
    if draft.kind == "credit_note" and draft.references:
        base = session.get(m.DocumentRow, draft.references[0])
        if base is not None and base.body.get("fulfilment_date"):
            return date.fromisoformat(base.body["fulfilment_date"])
    return draft.fulfilment_date


def document_rows(doc: Document, draft: r.DocumentDraft, now: datetime) -> list[tuple[Any, dict]]:
    """The document's row (its body stored as the canonical JSON its content hash is taken of),
    the CRM's notice of it and the customer's message of it (billing/mail)."""
    payload = {"number": doc.number, "kind": doc.kind, "gross": str(doc.gross), "currency": doc.currency,
               "issue_date": doc.issue_date.isoformat()}
    return [
        (m.DocumentRow.__table__, {
            "number": doc.number, "kind": doc.kind, "account_id": doc.account_id, "issue_date": doc.issue_date,
            "due_date": doc.due_date, "currency": doc.currency, "gross": doc.gross, "net": doc.net, "vat": doc.vat,
            "body__json": doc.canonical_json(), "content_hash": None, "event_id": draft.event_id,
            "explain__json": jsoncodec.dumps({"details": draft.details, "lines": [line.details for line in draft.lines]}),
            "created_at": now}),
        (m.Notice.__table__, {"event_id": f"document.issued:{doc.number}", "topic": "document.issued",
                              "account_id": doc.account_id, "day": doc.issue_date,
                              "payload__json": jsoncodec.dumps(payload), "created_at": now}),
        mail.document_message_row(doc, now)]


def state_notice_row(account_id: str, change: r.StateChange, now: datetime) -> tuple[Any, dict]:
    payload = {"account_id": account_id, "day": change.day.isoformat(), "old_state": change.old,
               "new_state": change.new, "access": r.ACCESS[change.new],
               "old_access": r.ACCESS.get(change.old) if change.old else None}
    topic = "access.changed" if change.access_changed else "state.changed"
    return m.Notice.__table__, {"event_id": f"{topic}:{account_id}:{change.day.isoformat()}:{change.new}",
                                "topic": topic, "account_id": account_id, "day": change.day,
                                "payload__json": jsoncodec.dumps(payload), "created_at": now}


def add_state_notice(session: Session, account_id: str, change: r.StateChange) -> None:
    add_row(session, *state_notice_row(account_id, change, utcnow()))


def add_row(session: Session, table, row: dict) -> None:
    """An insert nothing later in the transaction reads back (documents, notices): inside a cycle
    chunk it waits in a buffer and is written with its kind in one executemany (flush_rows)."""
    buffer = session.info.get("row_buffer")
    if buffer is None:
        _insert_rows(session, table, [row])
    else:
        buffer.setdefault(table, []).append(row)


def flush_rows(session: Session) -> None:
    for table, rows in session.info.pop("row_buffer", {}).items():
        _insert_rows(session, table, rows)


def _insert_rows(session: Session, table, rows: list[dict]) -> None:
    if table is mail.TABLE:  # a message already decided (a rerun of its day) is not added again
        mail.insert_messages(session, rows)
        return
    if table is m.DocumentRow.__table__:
        # Hashed here, as written: a prepared document's body gets its number just before.
        for row in rows:
            row["content_hash"] = text_hash(row["body__json"])
    bulk.insert_rows(session, table, rows)


def _book_vat(session: Session, doc: Document) -> None:
    """VAT becomes payable when the invoice is issued (on payment, §4); a credit note gives it back."""
    if doc.vat == 0:
        return
    add_posting(session, r.Posting(doc.account_id, doc.issue_date, "vat", Decimal(0), doc.currency, (("revenue", doc.vat), ("vat_payable", -doc.vat)),
                                   details={"document": doc.number}, document_number=doc.number))


def _queue_for_nav(session: Session, doc: Document) -> None:
    """Queue the report in the issuing transaction. A document NAV's schema cannot express must not
    stop the invoice (it is due on the payment day): it is recorded as rejected, with the reason,
    in finance's list of NAV rejections, and nothing is sent."""
    from nav_reporting.models import NavOutbox
    from nav_reporting.outbox import enqueue

    try:
        with session.begin_nested():
            enqueue(session, doc)
    except ValueError as exc:  # InvoiceDataError, SchemaViolation, OutboxError
        log.error("document %s cannot be reported to NAV: %s", doc.number, exc)
        session.add(NavOutbox(document_number=doc.number, operation="MODIFY" if doc.references else "CREATE",
                              base_document_number=doc.references[0] if doc.references else None,
                              modification_index=doc.modification_index, line_count=len(doc.lines),
                              invoice_xml="", status="ABORTED", attempts=0,
                              messages=[{"level": "ERROR", "code": "NOT_REPORTABLE", "message": str(exc)[:2000]}],
                              last_error=str(exc)[:2000]))


def add_refund(session: Session, order: r.RefundOrder) -> None:
    row = m.RefundRow(account_id=order.account_id, day=order.day, due_date=order.due_date, amount=order.amount,
                      currency=order.currency,
                      parts=[{"payment_event_id": p.payment_event_id, "external_id": p.external_id,
                              "method": p.method, "amount": str(p.amount)} for p in order.parts],
                      credit_notes=list(order.credit_notes))
    session.add(row)
    session.flush()
    for index, part in enumerate(order.parts):
        status = "due" if part.method == "card" else "payout_instructed"
        session.add(m.RefundStatusRow(refund_id=row.id, part_index=index, status=status, info={}))
