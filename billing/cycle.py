"""The daily cycle's database adapter: one transaction per account, under that account's lock.

A crash at any line rolls back the whole account step (charges, documents, numbers, NAV queue,
state), so a rerun does it exactly once; a rerun after success finds nothing left to do.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterable

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.accounts import buyer_of, retry_pending_vat, vat_of
from billing.db import models as m
from billing.db.base import utcnow
from billing.domain import records as r
from billing.domain.engine import SEAT_OR_PLAN, advance, new_state
from billing.domain.state import AccountState
from billing.issuing import compose, exchange_rate
from invoices.documents import Document, json_hash
from invoices.models import NumberSeries
from invoices.numbering import allocate_number
from invoices.taxnumbers import DOCUMENT_NUMBER, DOCUMENT_PREFIXES

log = logging.getLogger("billing.cycle")


class PriceBook:
    """Plan price versions, loaded once per run."""

    def __init__(self, session: Session) -> None:
        self.plans = {p.code: p for p in session.scalars(select(m.Plan))}
        self.versions: dict[str, list[m.PlanPrice]] = {}
        for row in session.scalars(select(m.PlanPrice).order_by(m.PlanPrice.id)):
            self.versions.setdefault(row.plan_code, []).append(row)

    def price(self, plan: str, day: date) -> r.PriceTerms:
        in_force = [v for v in self.versions[plan] if v.effective_from is None or v.effective_from <= day]
        version = max(in_force, key=lambda v: (v.effective_from or date.min, v.id))
        return r.PriceTerms(plan, self.plans[plan].currency, version.monthly_seat_price,
                            version.discount_percent, version.prices_include_vat)


@dataclass
class DbContext:
    session: Session
    prices: PriceBook
    config: r.CycleConfig
    # The last number this transaction issued per (kind, year). The first allocation locks the
    # series row until commit, so nobody else can take a number meanwhile: the following ones are
    # counted here and written back once (write_counters) before the transaction commits. A
    # rollback drops them all together: still no gap, no duplicate.
    issued: dict[tuple[str, int], int] = field(default_factory=dict)

    def price(self, plan: str, day: date) -> r.PriceTerms:
        if plan not in self.prices.versions:  # a plan defined after this run began
            self.prices = PriceBook(self.session)
        return self.prices.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        key = (kind, day.year)
        if key in self.issued:
            self.issued[key] += 1
            return DOCUMENT_NUMBER.format(kind, day.year, self.issued[key])
        with self.session.no_autoflush:  # the counter's rows need nothing else flushed first
            number = allocate_number(self.session, kind, day.year)
        self.issued[key] = DOCUMENT_NUMBER.parse(number)[2]
        return number

    def write_counters(self) -> None:
        for (kind, year), value in self.issued.items():
            self.session.execute(
                update(NumberSeries).where(NumberSeries.series == DOCUMENT_PREFIXES[kind], NumberSeries.year == year)
                .values(last_value=value).execution_options(synchronize_session=False))


@dataclass
class PreviewContext:
    """Numbers that are obviously not real, for a run that writes nothing."""
    prices: PriceBook
    config: r.CycleConfig
    counter: dict[str, int] = field(default_factory=dict)

    def price(self, plan: str, day: date) -> r.PriceTerms:
        return self.prices.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        self.counter[kind] = self.counter.get(kind, 0) + 1
        return f"PREVIEW-{kind.upper()}-{self.counter[kind]}"


def profile_of(account: m.Account) -> r.Profile:
    return r.Profile(account.id, account.currency, account.country, account.terms, account.trial_days,
                     account.created_day, vat_of(account))


def to_domain(row: m.Event) -> r.Event:
    return r.Event(row.id, row.type, row.account_id, row.occurred_at, row.day, row.seq, row.data)


def load_state(session: Session, account: m.Account) -> AccountState:
    row = session.get(m.AccountStateRow, account.id)
    return AccountState.from_json(row.state) if row else new_state(profile_of(account), account.plan)


def pending_events(session: Session, account_id: str, until: date) -> list[m.Event]:
    return list(session.scalars(select(m.Event).where(
        m.Event.account_id == account_id, m.Event.applied.is_(False), m.Event.day <= until
    ).order_by(m.Event.seq)))


def accounts_due(session: Session, until: date) -> list[str]:
    """Accounts with days or events left to process through `until`."""
    behind = select(m.AccountStateRow.account_id).where(m.AccountStateRow.through >= until)
    has_pending = exists().where(m.Event.account_id == m.Account.id, m.Event.applied.is_(False),
                                 m.Event.day <= until)
    query = select(m.Account.id).where(m.Account.created_day <= until).where(
        or_(m.Account.id.not_in(behind), has_pending)).order_by(m.Account.id)
    return list(session.scalars(query))


def chunk_size() -> int:
    return max(1, int(os.environ.get("BILLING_CYCLE_CHUNK", "200")))


def run_cycle(factory: sessionmaker, until: date, progress: Callable[[Iterable], Iterable] | None = None) -> dict:
    with factory() as session:
        ids = accounts_due(session, until)
        prices = PriceBook(session)  # plans change rarely; one read per run, not per account
    size = chunk_size()
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    processed = 0
    for chunk in (progress(chunks) if progress else chunks):
        processed += process_chunk(factory, chunk, until, prices)
    with factory.begin() as session:
        session.add(m.CycleRun(until=until, accounts=processed))
    return {"until": until.isoformat(), "accounts_processed": processed}


def process_chunk(factory: sessionmaker, account_ids: list[str], until: date, prices: PriceBook | None = None) -> int:
    """Advance a few hundred accounts in one transaction: all of them or none, so a crash at any
    line leaves each account either fully processed or untouched, and a rerun does the rest."""
    with factory.begin() as session:
        # FOR UPDATE on the account rows, always in id order: two cycle runs (or API processes)
        # started at once serialise per account without deadlocking, so no day is charged twice;
        # on SQLite the BEGIN IMMEDIATE lock does the same.
        accounts = session.scalars(select(m.Account).where(m.Account.id.in_(account_ids))
                                   .order_by(m.Account.id).with_for_update()).all()
        rows = {row.account_id: row for row in session.scalars(
            select(m.AccountStateRow).where(m.AccountStateRow.account_id.in_(account_ids)))}
        pending: dict[str, list[m.Event]] = {}
        for event in session.scalars(select(m.Event).where(
                m.Event.account_id.in_(account_ids), m.Event.applied.is_(False), m.Event.day <= until
        ).order_by(m.Event.seq)):
            pending.setdefault(event.account_id, []).append(event)
        ctx = DbContext(session, prices or PriceBook(session), billing_config.cycle_config())
        session.info["posting_buffer"] = []
        applied: list[int] = []
        processed = 0
        for account in accounts:
            retry_pending_vat(account)
            row = rows.get(account.id)
            state = AccountState.from_json(row.state) if row else new_state(profile_of(account), account.plan)
            events = pending.get(account.id, [])
            if state.through is not None and state.through >= until and not events:
                continue
            domain_events = [to_domain(e) for e in events]
            history = build_history(session, account, state, domain_events)
            new, outcome = advance(state, profile_of(account), domain_events, until, ctx, history)
            persist_outcome(session, account, outcome)
            applied += [e.seq for e in events]
            save_state(session, account.id, new, row if row is not None else NEW_ROW)
            processed += 1
        flush_postings(session)
        ctx.write_counters()
        if applied:
            session.execute(update(m.Event).where(m.Event.seq.in_(applied)).values(applied=True),
                            execution_options={"synchronize_session": False})
    return processed


def dry_run(session: Session, account: m.Account, until: date,
            state: AccountState | None = None) -> tuple[AccountState, r.Outcome]:
    """What the cycle would do for one account through `until`: the same engine, nothing written."""
    state = state if state is not None else load_state(session, account)
    events = [to_domain(e) for e in pending_events(session, account.id, until)]
    return advance(state, profile_of(account), events, until,
                   PreviewContext(PriceBook(session), billing_config.cycle_config()),
                   build_history(session, account, state, events))


def build_history(session: Session, account: m.Account, state: AccountState,
                  events: list[r.Event]) -> r.History | None:
    """Only for a late seat or plan event: what the engine needs to re-derive charged days."""
    late = [e for e in events if state.through is not None and e.day <= state.through
            and (e.type in SEAT_OR_PLAN or e.type == "account.terminated")]
    if not late:
        return None
    first_day = min(e.day for e in late)
    applied = [to_domain(e) for e in session.scalars(select(m.Event).where(
        m.Event.account_id == account.id, m.Event.applied.is_(True), m.Event.type.in_(SEAT_OR_PLAN)
    ).order_by(m.Event.seq))]
    entries = list(session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account.id, m.JournalEntry.kind.in_(("charge", "charge_correction"))
    ).order_by(m.JournalEntry.id)))
    posted_users: dict[date, frozenset[str]] = {}
    totals: dict[str, list] = {}
    for entry in entries:
        if entry.kind == "charge":
            month = entry.day.isoformat()[:7]
            posted_users[entry.day] = frozenset(entry.details.get("users", ()))
            total = totals.setdefault(month, [Fraction(0), Decimal(0)])
            total[0] = Fraction(entry.details["month_to_date_exact"])
            total[1] -= entry.amount
        else:
            month = entry.details["month"]
            total = totals.setdefault(month, [Fraction(0), Decimal(0)])
            total[0] += Fraction(entry.details["exact_delta"])
            total[1] -= entry.amount
            for day_text, change in entry.details.get("days", {}).items():
                day = date.fromisoformat(day_text)
                users = set(posted_users.get(day, frozenset())) | set(change["added"])
                posted_users[day] = frozenset(users - set(change["removed"]))
    return r.History(account.plan, tuple(applied),
                     {d: u for d, u in posted_users.items() if d >= first_day},
                     {k: (v[0], v[1]) for k, v in totals.items()})


NEW_ROW = object()  # the caller knows there is no state row yet: no lookup needed


def save_state(session: Session, account_id: str, state: AccountState, row=None) -> None:
    row = row if row is not None else session.get(m.AccountStateRow, account_id)
    if row is NEW_ROW or row is None:
        session.add(m.AccountStateRow(account_id=account_id, through=state.through, status=state.status,
                                      state=state.to_json()))
    else:
        row.through, row.status, row.state = state.through, state.status, state.to_json()


def persist_outcome(session: Session, account: m.Account, outcome: r.Outcome) -> list[Document]:
    for posting in outcome.postings:
        add_posting(session, posting)
    issued = [issue_document(session, account, draft) for draft in outcome.documents]
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
    return issued


def add_posting(session: Session, posting: r.Posting) -> None:
    """Book one balanced entry. Inside a cycle chunk the entries wait in a buffer and are written
    together (flush_postings) in the same transaction; elsewhere they are written at once."""
    assert sum(amount for _, amount in posting.legs) == 0, "a journal entry must balance"
    buffer = session.info.get("posting_buffer")
    if buffer is None:
        _write_postings(session, [posting])
    else:
        buffer.append(posting)


def flush_postings(session: Session) -> None:
    buffer = session.info.pop("posting_buffer", None)
    if buffer:
        _write_postings(session, buffer)


def _write_postings(session: Session, postings: list[r.Posting]) -> None:
    now = utcnow()
    # Core inserts (the ORM's per-row bookkeeping costs more than the insert itself here).
    entries, legs = m.JournalEntry.__table__, m.PostingRow.__table__
    rows = [{"account_id": p.account_id, "day": p.day, "kind": p.kind, "amount": p.amount, "currency": p.currency,
             "event_id": p.event_id, "document_number": p.document_number, "details": p.details, "created_at": now}
            for p in postings]
    entry_ids = _insert_entries(session, entries, rows)
    session.execute(insert(legs), [
        {"entry_id": entry_id, "ledger_account": account, "amount": amount, "currency": p.currency, "day": p.day}
        for entry_id, p in zip(entry_ids, postings) for account, amount in p.legs])


def _insert_entries(session: Session, entries, rows: list[dict]) -> list[int]:
    """Insert journal entries in order and return their ids, in one statement per batch."""
    if session.get_bind().dialect.name != "sqlite":
        return list(session.scalars(insert(entries).returning(entries.c.id, sort_by_parameter_order=True), rows))
    # SQLite cannot promise the order of RETURNING rows, so SQLAlchemy would insert row by row.
    # This transaction holds SQLite's only write lock (BEGIN IMMEDIATE) and an INTEGER PRIMARY KEY
    # takes max(id) + 1 for each new row, so the ids of one executemany are the last n, in order.
    session.execute(insert(entries), rows)
    last = session.scalar(select(func.max(entries.c.id)))
    return list(range(last - len(rows) + 1, last + 1))


def issue_document(session: Session, account: m.Account, draft: r.DocumentDraft) -> Document:
    rate = exchange_rate(session, draft.currency, draft.fulfilment_date)
    doc = compose(draft, billing_config.seller(), buyer_of(account), vat_of(account), rate, account.locale)
    body = doc.to_json()
    session.add(m.DocumentRow(
        number=doc.number, kind=doc.kind, account_id=doc.account_id, issue_date=doc.issue_date,
        due_date=doc.due_date, currency=doc.currency, gross=doc.gross, net=doc.net, vat=doc.vat,
        body=body, content_hash=json_hash(body), event_id=draft.event_id,
        explain={"details": draft.details, "lines": [line.details for line in draft.lines]}))
    if doc.kind in ("invoice", "credit_note"):
        _book_vat(session, doc)
        _queue_for_nav(session, doc)
    session.add(m.Notice(event_id=f"document.issued:{doc.number}", topic="document.issued",
                         account_id=doc.account_id, day=doc.issue_date,
                         payload={"number": doc.number, "kind": doc.kind, "gross": str(doc.gross),
                                  "currency": doc.currency, "issue_date": doc.issue_date.isoformat()}))
    return doc


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


def add_state_notice(session: Session, account_id: str, change: r.StateChange) -> None:
    payload = {"account_id": account_id, "day": change.day.isoformat(), "old_state": change.old,
               "new_state": change.new, "access": r.ACCESS[change.new],
               "old_access": r.ACCESS.get(change.old) if change.old else None}
    topic = "access.changed" if change.access_changed else "state.changed"
    session.add(m.Notice(event_id=f"{topic}:{account_id}:{change.day.isoformat()}:{change.new}", topic=topic,
                         account_id=account_id, day=change.day, payload=payload))


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
