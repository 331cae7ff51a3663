"""The one transaction both finance adjustments run in (a goodwill credit, a correction).

Under the account's row lock (SELECT … FOR UPDATE on PostgreSQL; on SQLite the transaction's
BEGIN IMMEDIATE is the only writer), in one transaction: the adjustment is stored as an event of
the account (billing/domain/adjustments.py), the engine applies it to the account's state as the
cycle would, and its postings, its documents (numbered from the locked counter), their NAV outbox
rows and the state (its version raised, so a cycle step prepared before is computed again) are
written. Anything refused rolls all of it back.

A retry is the same request: its event id is derived from the Idempotency-Key header, or, without
one, from the request itself and the business day. The id is the events table's unique key, and
the account lock serialises two copies of one request, so the second finds the first's event and
answers with its documents (200) instead of issuing again; a key reused for another request is a
409. Without a header, the same credit for the same reason on the same day is taken to be a retry:
a second one must say so (another reason, or its own key).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.cycle import archive
from billing.cycle.context import DbContext, PriceBook, profile_of, to_domain
from billing.cycle.write import (_book_vat, add_posting, add_row, add_state_notice, add_step_messages, document_rows,
                                 save_states)
from billing.db import jsoncodec
from billing.db import models as m
from billing.db.base import utcnow
from billing.domain import records as r
from billing.domain.engine import advance
from billing.domain.state import AccountState
from billing.errors import Conflict, InvalidInput, NotFound
from invoices.documents import Document, canonical_json

IDEMPOTENCY_KEY_MAX = 200


@dataclass(frozen=True, slots=True)
class Request:
    """One adjustment as asked: `scope` names what a key is unique within (the account, or the
    corrected invoice), `request` is hashed (a key reused for another request is refused), and
    `data` becomes the event's data: no buyer data, since the event log outlives an erasure."""
    account_id: str
    event_type: str
    scope: str
    request: dict[str, Any]
    data: dict[str, Any]
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    numbers: list[str]  # the documents issued, in number order
    created: bool       # False: a retry, answered with what the first request issued


# Refuses (raises) or returns what it adds to the event's data, read under the lock.
Check = Callable[[Session, m.Account, AccountState | None], dict[str, Any] | None]
Issue = Callable[[Session, m.Account, list[r.DocumentDraft]], list[Document]]


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise InvalidInput("Idempotency-Key is 1 to 200 printable characters", {"errors": [
            {"field": "Idempotency-Key", "message": f"1 to {IDEMPOTENCY_KEY_MAX} printable characters"}]})
    return value


def _event_id(req: Request, day: date | None) -> str:
    key = (f"key\n{req.idempotency_key}" if req.idempotency_key is not None
           else f"day\n{day}\n{canonical_json(req.request)}")
    digest = hashlib.sha256(f"{req.scope}\n{key}".encode()).hexdigest()
    return f"{req.event_type}:{digest}"


def _end_of_day(day: date, timezone: str) -> datetime:
    """The event's instant: the end of its business day (it was made after the day's run)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone)) - timedelta(microseconds=1)


def adjust(factory: sessionmaker, req: Request, check: Check, issue: Issue) -> Outcome:
    with factory.begin() as session:
        # The lock: a cycle chunk holding this account, or a twin of this request, finishes first;
        # then this one reads the state and the event log as they are.
        account = session.scalars(select(m.Account).where(m.Account.id == req.account_id).with_for_update()).first()
        if account is None:
            raise NotFound(f"no account {req.account_id}")
        row = session.get(m.AccountStateRow, account.id)
        state = AccountState.from_json(row.state) if row is not None else None
        # Finance's adjustments are rare and may name any invoice: they read the whole history.
        state, whole = archive.with_archive(session, state) if state is not None else (None, False)
        day = state.through if state is not None else None
        event_id = _event_id(req, day)
        digest = hashlib.sha256(canonical_json(req.request).encode()).hexdigest()
        stored = session.scalar(select(m.Event).where(m.Event.id == event_id))
        if stored is not None:
            if stored.body_hash != digest:
                raise Conflict("this Idempotency-Key was used for another request", {"errors": [
                    {"field": "Idempotency-Key", "message": "already used with another body"}]})
            return Outcome(_issued_by(session, event_id), created=False)
        data = {**req.data, **(check(session, account, state) or {})}
        assert state is not None and day is not None, "check() refuses an account the cycle never processed"
        event = m.Event(id=event_id, type=req.event_type, account_id=account.id, day=day,
                        occurred_at=_end_of_day(day, account.timezone), body_hash=digest, data=data)
        session.add(event)
        session.flush()  # its seq; the unique id backs the lock against a second copy
        ctx = DbContext(session, PriceBook(session), billing_config.cycle_config())
        # The engine applies it as it applies every event (a replay of the log does the same).
        new, outcome = advance(state, profile_of(account), [to_domain(event)], day, ctx)
        if outcome.rejections:
            raise Conflict(outcome.rejections[0].reason)
        for posting in outcome.postings:
            add_posting(session, posting)
        documents = issue(session, account, list(outcome.documents))
        for change in outcome.state_changes:
            add_state_notice(session, account.id, change)
        add_step_messages(session, account, state, new, outcome)  # the documents' own come with them
        new = archive.store_compacted(session, new, day, ctx.config.archive_after_days, whole)
        save_states(session, [(account.id, new, True, jsoncodec.dumps(new.to_json()))])
        ctx.write_counters()
        return Outcome([doc.number for doc in documents], created=True)


def _issued_by(session: Session, event_id: str) -> list[str]:
    return list(session.scalars(select(m.DocumentRow.number).where(m.DocumentRow.event_id == event_id)
                                .order_by(m.DocumentRow.number)))


def store_document(session: Session, doc: Document, draft: r.DocumentDraft) -> None:
    """The document's row and the CRM's notice, its VAT booking, and its NAV report queued. A
    document NAV's schema cannot take is refused here, before anything is kept: unlike the cycle,
    which must issue a paid invoice anyway, finance can fix the request and ask again."""
    from nav_reporting.outbox import enqueue

    for table, values in document_rows(doc, draft, utcnow()):
        add_row(session, table, values)
    _book_vat(session, doc)  # a credit note gives its VAT back: Dr vat_payable, Cr revenue
    try:
        enqueue(session, doc)
    except ValueError as exc:  # InvoiceDataError, SchemaViolation, OutboxError
        raise Conflict(f"{doc.number} cannot be reported to NAV: {exc}") from exc

