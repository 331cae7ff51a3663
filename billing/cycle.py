"""The daily cycle's database adapter: one transaction per account, under that account's lock.

A crash at any line rolls back the whole account step (charges, documents, numbers, NAV queue,
state), so a rerun does it exactly once; a rerun after success finds nothing left to do.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Iterable

from sqlalchemy import JSON, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.accounts import buyer_of, retry_pending_vat, vat_of
from billing.db import models as m
from billing.db.base import JsonText, utcnow
from billing.domain import records as r
from billing.domain.engine import SEAT_OR_PLAN, advance, new_state
from billing.domain.state import AccountState
from billing.issuing import compose, exchange_rate
from invoices.documents import Document, canonical_json
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

        self._terms: dict[tuple[str, date], r.PriceTerms] = {}

    def price(self, plan: str, day: date) -> r.PriceTerms:
        terms = self._terms.get((plan, day))  # every account on the plan asks again for the same day
        if terms is None:
            in_force = [v for v in self.versions[plan] if v.effective_from is None or v.effective_from <= day]
            version = max(in_force, key=lambda v: (v.effective_from or date.min, v.id))
            terms = self._terms[(plan, day)] = r.PriceTerms(
                plan, self.plans[plan].currency, version.monthly_seat_price, version.discount_percent,
                version.prices_include_vat)
        return terms


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


# Below this many chunks a run stays in this process: starting workers costs more than it saves.
PARALLEL_MIN_CHUNKS = 10


def worker_count(factory: sessionmaker, chunks: int) -> int:
    """BILLING_CYCLE_WORKERS processes (default 1: this process) for a run of many chunks on a
    database other processes can open. Not on by default: workers are spawned, and spawning
    re-imports the caller's main module, which a script without a __main__ guard cannot survive."""
    url = factory.kw["bind"].url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return 1
    workers = int(os.environ.get("BILLING_CYCLE_WORKERS", "1") or 1)
    return max(1, workers) if chunks >= PARALLEL_MIN_CHUNKS else 1


def run_cycle(factory: sessionmaker, until: date, progress: Callable[[Iterable], Iterable] | None = None) -> dict:
    with factory() as session:
        ids = accounts_due(session, until)
        prices = PriceBook(session)  # plans change rarely; one read per run, not per account
    size = chunk_size()
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    workers = worker_count(factory, len(chunks))
    if workers > 1 and len(chunks) > 1:
        processed = _run_in_workers(factory, chunks, until, min(workers, len(chunks)), progress)
    else:
        processed = sum(process_chunk(factory, chunk, until, prices)
                        for chunk in (progress(chunks) if progress else chunks))
    with factory.begin() as session:
        session.add(m.CycleRun(until=until, accounts=processed))
    return {"until": until.isoformat(), "accounts_processed": processed}


def _run_in_workers(factory: sessionmaker, chunks: list[list[str]], until: date, workers: int,
                    progress: Callable[[Iterable], Iterable] | None) -> int:
    """The chunks spread over worker processes. Each chunk is still its own transaction under its
    accounts' locks (process_chunk), so workers never process an account twice, and a failure
    stops the run with every finished chunk kept: a rerun does the rest, as in one process."""
    url = factory.kw["bind"].url.render_as_string(hide_password=False)
    # spawn, not fork: the caller may be a server with threads and open connections.
    spawn = multiprocessing.get_context("spawn")
    # SQLite has one writer: the workers pass the write turn by a lock of their own, at once,
    # rather than through SQLite's busy handler, which sleeps up to 100 ms between tries.
    turn = spawn.Lock() if factory.kw["bind"].dialect.name == "sqlite" else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn,
                             initializer=_worker_start, initargs=(url, turn)) as pool:
        futures = [pool.submit(_worker_chunk, chunk, until) for chunk in chunks]
        processed = 0
        try:
            for future in (progress(as_completed(futures)) if progress else as_completed(futures)):
                processed += future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return processed


_worker: dict = {}


def _worker_start(url: str, write_turn) -> None:
    from billing.db.session import make_engine, make_session_factory

    _worker["factory"] = factory = make_session_factory(make_engine(url))
    _worker["prices"] = _price_book(factory)
    _worker["write_turn"] = write_turn


def _worker_chunk(account_ids: list[str], until: date) -> int:
    return process_chunk(_worker["factory"], account_ids, until, _worker["prices"], _worker["write_turn"])


def process_chunk(factory: sessionmaker, account_ids: list[str], until: date, prices: PriceBook | None = None,
                  write_turn=None) -> int:
    """Advance a few hundred accounts in one transaction: all of them or none, so a crash at any
    line leaves each account either fully processed or untouched, and a rerun does the rest.

    The work is prepared first from a plain read, outside the write lock (so several workers can
    compute at once, even on SQLite), down to the rows to insert; a proforma gets a placeholder for
    its number. The write transaction uses what was prepared only if the account, its state
    version and its pending events are still exactly what they were read as, and numbers the
    proformas then; anything else is read and computed again under the lock."""
    prices = prices or _price_book(factory)
    prepared = _prepare(factory, account_ids, until, prices)
    with write_turn or contextlib.nullcontext(), factory.begin() as session:
        # FOR UPDATE on the account rows, always in id order: two cycle runs (or API processes)
        # started at once serialise per account without deadlocking, so no day is charged twice;
        # on SQLite the BEGIN IMMEDIATE lock does the same.
        accounts, versions, _, pending = _read_chunk(session, account_ids, until, lock=True)
        session.info["posting_buffer"], session.info["row_buffer"] = [], {}
        ctx = DbContext(session, prices, billing_config.cycle_config())
        saved, applied, locked = [], [], []
        for account in accounts:
            snapshot, step = prepared.get(account.id, (None, None))
            if snapshot is None or snapshot.key != _key(account, versions.get(account.id),
                                                          pending.get(account.id, ())):
                locked.append((account.id, None))
            elif step is not None:
                state_json = _store_prepared(session, ctx, step)
                saved.append((account.id, step.state, snapshot.stored, state_json))
                applied += snapshot.seqs
            elif not snapshot.idle:
                locked.append((account.id, snapshot))
        if locked:
            locked_saved, locked_applied = _process_locked(session, ctx, locked, until)
            saved += locked_saved
            applied += locked_applied
        save_states(session, saved)
        flush_postings(session)
        flush_rows(session)
        ctx.write_counters()
        if applied:
            session.execute(update(m.Event).where(m.Event.seq.in_(applied)).values(applied=True),
                            execution_options={"synchronize_session": False})
    return len(saved)


class NeedsLock(Exception):
    """The step must be computed under the write lock (see PrepareContext)."""


@dataclass
class PrepareContext:
    """Outside the write lock a step may price and charge, and issue proformas under placeholder
    numbers; an invoice or credit note (NAV, VAT booking) is left to the lock."""
    prices: PriceBook
    config: r.CycleConfig
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)
    placeholders: list[tuple[str, str, date]] = field(default_factory=list)  # of the current step

    def price(self, plan: str, day: date) -> r.PriceTerms:
        if plan not in self.prices.versions:  # a plan defined after this run began
            raise NeedsLock(plan)
        return self.prices.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        if kind != "proforma":
            raise NeedsLock(kind)
        placeholder = f"@@{self.nonce}:{len(self.placeholders)}@@"
        self.placeholders.append((placeholder, kind, day))
        return placeholder


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """An account's step inputs as read: the state before, the pending events."""
    key: tuple            # what they were read from (see _key)
    state: AccountState   # never changed: advance works on a copy
    events: tuple[r.Event, ...]
    stored: bool          # the account has a state row
    idle: bool            # processed through the day already, nothing pending

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A step computed down to its rows; `placeholders` (placeholder, kind, day) stand in for the
    numbers of the proformas it issues, in every text below."""
    state: AccountState
    state_json: str
    postings: list[tuple[dict, list[dict]]]  # posting_rows
    rows: list[tuple[Any, dict]]            # (table, row) for flush_rows
    placeholders: list[tuple[str, str, date]]


def _key(account, version: int | None, events) -> tuple:
    return tuple(account), version, tuple(e.seq for e in events)


def _read_chunk(session: Session, account_ids: list[str], until: date, lock: bool):
    """(account rows in id order, state versions, state JSON, pending events by account); under
    the lock only what _key compares."""
    accounts_table, states_table, events_table = m.Account.__table__, m.AccountStateRow.__table__, m.Event.__table__
    query = select(accounts_table).where(accounts_table.c.id.in_(account_ids)).order_by(accounts_table.c.id)
    accounts = session.execute(query.with_for_update() if lock else query).all()
    columns = (states_table.c.account_id, states_table.c.version) + (() if lock else (states_table.c.state,))
    versions, states = {}, {}
    for row in session.execute(select(*columns).where(states_table.c.account_id.in_(account_ids))):
        versions[row.account_id] = row.version
        if not lock:
            states[row.account_id] = row.state
    event_columns = (events_table.c.seq, events_table.c.account_id) if lock else tuple(events_table.c)
    pending: dict[str, list] = {}
    for event in session.execute(select(*event_columns).where(
            events_table.c.account_id.in_(account_ids), events_table.c.applied.is_(False),
            events_table.c.day <= until).order_by(events_table.c.seq)):
        pending.setdefault(event.account_id, []).append(event)
    return accounts, versions, states, pending


def _snapshots(session: Session, account_ids: list[str], until: date) -> list[tuple[Any, _Snapshot]]:
    """(account row, snapshot) in id order."""
    accounts, versions, states, pending = _read_chunk(session, account_ids, until, lock=False)
    snapshots = []
    for account in accounts:
        events = pending.get(account.id, [])
        stored = states.get(account.id)
        state = AccountState.from_json(stored) if stored is not None else new_state(profile_of(account), account.plan)
        idle = state.through is not None and state.through >= until and not events
        snapshots.append((account, _Snapshot(_key(account, versions.get(account.id), events), state,
                                             tuple(to_domain(e) for e in events), stored is not None, idle)))
    return snapshots


def _prepare(factory: sessionmaker, account_ids: list[str], until: date,
             prices: PriceBook) -> dict[str, tuple[_Snapshot, _Prepared | None]]:
    ctx = PrepareContext(prices, billing_config.cycle_config())
    with _reader(factory)() as session:
        snapshots = _snapshots(session, account_ids, until)
    prepared: dict[str, tuple[_Snapshot, _Prepared | None]] = {}
    for account, snapshot in snapshots:
        prepared[account.id] = (snapshot, _prepare_step(ctx, account, snapshot, until))
    return prepared


def _prepare_step(ctx: PrepareContext, account, snapshot: _Snapshot, until: date) -> _Prepared | None:
    """The step's rows, or None when it is to be computed under the lock."""
    state = snapshot.state
    if snapshot.idle or (account.vat or {}).get("pending"):  # VIES is asked again under the lock
        return None
    if state.through is not None and any(e.day <= state.through for e in snapshot.events):
        return None  # a late event reads the account's history: done under the lock
    ctx.placeholders = []
    try:
        new, outcome = advance(state, profile_of(account), list(snapshot.events), until, ctx)
    except NeedsLock:
        return None
    if outcome.refunds or outcome.allocations or outcome.rejections:
        return None
    if outcome.documents and account.currency != "HUF" and os.environ.get("MNB_URL"):
        return None  # the MNB rate may need fetching and caching: a write
    now = utcnow()
    rows = []
    for draft in outcome.documents:
        rate = exchange_rate(None, draft.currency, draft.fulfilment_date)
        doc = compose(draft, billing_config.seller(), buyer_of(account), vat_of(account), rate, account.locale)
        rows += document_rows(doc, draft, now)
    rows += [state_notice_row(account.id, change, now) for change in outcome.state_changes]
    return _Prepared(new, json.dumps(new.to_json()), [posting_rows(p, now) for p in outcome.postings], rows,
                     ctx.placeholders)


def _store_prepared(session: Session, ctx: "DbContext", step: _Prepared) -> str:
    """Buffer a prepared step's rows, its proformas numbered now; returns its state's JSON text."""
    postings, rows, state_json = step.postings, step.rows, step.state_json
    if step.placeholders:
        numbers = {placeholder: ctx.allocate_number(kind, day) for placeholder, kind, day in step.placeholders}
        postings = [(_numbered(entry, numbers), legs) for entry, legs in postings]
        rows = [(table, _numbered(row, numbers)) for table, row in rows]
        state_json = _replace_all(state_json, numbers)
    session.info["posting_buffer"].extend(postings)
    buffer = session.info["row_buffer"]
    for table, row in rows:
        buffer.setdefault(table, []).append(row)
    return state_json


def _numbered(row: dict, numbers: dict[str, str]) -> dict:
    return {k: _replace_all(v, numbers) if isinstance(v, str) else v for k, v in row.items()}


def _replace_all(text: str, numbers: dict[str, str]) -> str:
    for placeholder, number in numbers.items():
        text = text.replace(placeholder, number)
    if "@@" in text and any(p.split(":")[0] in text for p in numbers):
        raise RuntimeError("a placeholder number was left in a prepared row")
    return text


def _process_locked(session: Session, ctx: "DbContext", locked: list[tuple[str, _Snapshot | None]],
                    until: date) -> tuple[list[tuple[str, AccountState, bool, str]], list[int]]:
    """The whole step under the lock, for the accounts _prepare could not do, from their snapshot
    when it is still current: (states to save, applied event seqs)."""
    account_ids = [account_id for account_id, _ in locked]
    accounts = session.scalars(select(m.Account).where(m.Account.id.in_(account_ids))
                               .order_by(m.Account.id).with_for_update()).all()
    snapshots = {account_id: snapshot for account_id, snapshot in locked if snapshot is not None}
    missing = [account_id for account_id, snapshot in locked if snapshot is None]
    if missing:
        snapshots.update((account.id, snapshot) for account, snapshot in _snapshots(session, missing, until))
    saved, applied = [], []
    for account in accounts:
        retry_pending_vat(account)
        snapshot = snapshots[account.id]
        if snapshot.idle:
            continue
        events = list(snapshot.events)
        history = build_history(session, account, snapshot.state, events)
        new, outcome = advance(snapshot.state, profile_of(account), events, until, ctx, history)
        persist_outcome(session, account, outcome)
        saved.append((account.id, new, snapshot.stored, json.dumps(new.to_json())))
        applied += snapshot.seqs
    return saved, applied


def _reader(factory: sessionmaker) -> sessionmaker:
    """Sessions of the same engine that only read: on SQLite they do not take the write lock."""
    bind = factory.kw["bind"]
    return sessionmaker(bind.execution_options(billing_read_only=True), expire_on_commit=False)


def _price_book(factory: sessionmaker) -> PriceBook:
    with factory() as session:
        return PriceBook(session)


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


def save_states(session: Session, states: list[tuple[str, AccountState, bool, str]]) -> None:
    """Many accounts' states at once (account id, state, whether a row is stored, the state as
    JSON text): two executemany."""
    table, now = m.AccountStateRow.__table__, utcnow()
    changed = [{"b_id": account_id, "b_through": state.through, "b_status": state.status, "b_state": text,
                "b_now": now} for account_id, state, stored, text in states if stored]
    if changed:
        session.execute(update(table).where(table.c.account_id == bindparam("b_id")).values(
            through=bindparam("b_through"), status=bindparam("b_status"),
            state=bindparam("b_state", type_=JsonText), updated_at=bindparam("b_now"),
            version=table.c.version + 1), changed)
    new = [{"account_id": account_id, "through": state.through, "status": state.status, "state_json": text,
            "updated_at": now, "version": 1} for account_id, state, stored, text in states if not stored]
    if new:
        session.execute(insert(table).values(state=bindparam("state_json", type_=JsonText)), new)


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
    rows = posting_rows(posting)
    buffer = session.info.get("posting_buffer")
    if buffer is None:
        _write_postings(session, [rows])
    else:
        buffer.append(rows)


def posting_rows(posting: r.Posting, now: datetime | None = None) -> tuple[dict, list[dict]]:
    """The journal entry row and its legs' rows, still without the entry id."""
    assert sum(amount for _, amount in posting.legs) == 0, "a journal entry must balance"
    entry = {"account_id": posting.account_id, "day": posting.day, "kind": posting.kind, "amount": posting.amount,
             "currency": posting.currency, "event_id": posting.event_id, "document_number": posting.document_number,
             "details__json": json.dumps(posting.details), "created_at": now or utcnow()}
    legs = [{"ledger_account": account, "amount": amount, "currency": posting.currency, "day": posting.day}
            for account, amount in posting.legs]
    return entry, legs


def flush_postings(session: Session) -> None:
    buffer = session.info.pop("posting_buffer", None)
    if buffer:
        _write_postings(session, buffer)


def _write_postings(session: Session, postings: list[tuple[dict, list[dict]]]) -> None:
    # Core inserts (the ORM's per-row bookkeeping costs more than the insert itself here).
    entries, legs = m.JournalEntry.__table__, m.PostingRow.__table__
    entry_ids = _insert_entries(session, entries, [entry for entry, _ in postings])
    session.execute(insert(legs), [{"entry_id": entry_id, **leg}
                                   for entry_id, (_, entry_legs) in zip(entry_ids, postings) for leg in entry_legs])


def _insert_entries(session: Session, entries, rows: list[dict]) -> list[int]:
    """Insert journal entries in order and return their ids, in one statement per batch."""
    statement = _insert_json_text(entries)
    if session.get_bind().dialect.name != "sqlite":
        return list(session.scalars(statement.returning(entries.c.id, sort_by_parameter_order=True), rows))
    # SQLite cannot promise the order of RETURNING rows, so SQLAlchemy would insert row by row.
    # This transaction holds SQLite's only write lock (BEGIN IMMEDIATE) and an INTEGER PRIMARY KEY
    # takes max(id) + 1 for each new row, so the ids of one executemany are the last n, in order.
    session.execute(statement, rows)
    last = session.scalar(select(func.max(entries.c.id)))
    return list(range(last - len(rows) + 1, last + 1))


@lru_cache(maxsize=None)
def _insert_json_text(table):
    """insert(table) taking every JSON column as JSON text already made, under '<column>__json'."""
    return insert(table).values({column.name: bindparam(f"{column.name}__json", type_=JsonText)
                                 for column in table.c if isinstance(column.type, JSON)})


def issue_document(session: Session, account: m.Account, draft: r.DocumentDraft) -> Document:
    rate = exchange_rate(session, draft.currency, draft.fulfilment_date)
    doc = compose(draft, billing_config.seller(), buyer_of(account), vat_of(account), rate, account.locale)
    for table, row in document_rows(doc, draft, utcnow()):
        add_row(session, table, row)
    if doc.kind in ("invoice", "credit_note"):
        _book_vat(session, doc)
        _queue_for_nav(session, doc)
    return doc


def document_rows(doc: Document, draft: r.DocumentDraft, now: datetime) -> list[tuple[Any, dict]]:
    """The document's row (its body stored as the canonical JSON its content hash is taken of)
    and the CRM's notice of it."""
    payload = {"number": doc.number, "kind": doc.kind, "gross": str(doc.gross), "currency": doc.currency,
               "issue_date": doc.issue_date.isoformat()}
    return [
        (m.DocumentRow.__table__, {
            "number": doc.number, "kind": doc.kind, "account_id": doc.account_id, "issue_date": doc.issue_date,
            "due_date": doc.due_date, "currency": doc.currency, "gross": doc.gross, "net": doc.net, "vat": doc.vat,
            "body__json": canonical_json(doc.to_json()), "content_hash": None, "event_id": draft.event_id,
            "explain__json": json.dumps({"details": draft.details, "lines": [line.details for line in draft.lines]}),
            "created_at": now}),
        (m.Notice.__table__, {"event_id": f"document.issued:{doc.number}", "topic": "document.issued",
                              "account_id": doc.account_id, "day": doc.issue_date,
                              "payload__json": json.dumps(payload), "created_at": now})]


def state_notice_row(account_id: str, change: r.StateChange, now: datetime) -> tuple[Any, dict]:
    payload = {"account_id": account_id, "day": change.day.isoformat(), "old_state": change.old,
               "new_state": change.new, "access": r.ACCESS[change.new],
               "old_access": r.ACCESS.get(change.old) if change.old else None}
    topic = "access.changed" if change.access_changed else "state.changed"
    return m.Notice.__table__, {"event_id": f"{topic}:{account_id}:{change.day.isoformat()}:{change.new}",
                                "topic": topic, "account_id": account_id, "day": change.day,
                                "payload__json": json.dumps(payload), "created_at": now}


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
    if table is m.DocumentRow.__table__:
        # Hashed here, as written: a prepared document's body gets its number just before.
        for row in rows:
            row["content_hash"] = hashlib.sha256(row["body__json"].encode()).hexdigest()
    session.execute(_insert_json_text(table), rows)


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
