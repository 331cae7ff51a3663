"""The daily cycle's database adapter: accounts in chunks, one transaction per chunk, under the
chunk's account locks, optionally spread over worker processes.

A crash at any line rolls back the whole chunk (charges, documents, numbers, NAV queue, state),
so a rerun does it exactly once; a rerun after success finds nothing left to do.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterable, Iterator

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.cycle import archive, prepare
from billing.cycle import write as writes
from billing.accounts import Answer, ask_vies
from billing.cycle.context import DbContext, PreviewContext, PriceBook, profile_of, to_domain
from billing.cycle.rates import advance_account, fetch_rates, issue_waiting, rates_wanted, seed_rates
from billing.cycle.updates import first_day
from billing.db import jsoncodec
from billing.db.base import utcnow
from billing.db import models as m
from billing.db.queries import among, without_parallel_plans
from billing.db.session import make_engine, make_read_factory, make_session_factory
from billing.domain import records as r
from billing.domain.engine import SEAT_OR_PLAN, advance, new_state
from billing.domain.state import AccountState
from billing.logs import get_logger
from billing.mail.outbox import send_after_run
from billing.payments.card_charges import charge_saved_cards

log = logging.getLogger("billing.cycle")
chunk_log = get_logger("billing.cycle")


def load_state(session: Session, account: m.Account) -> AccountState:
    row = session.get(m.AccountStateRow, account.id)
    return AccountState.from_json(row.state) if row else new_state(profile_of(account), account.plan)


def pending_events(session: Session, account_id: str, until: date) -> list[m.Event]:
    return list(session.scalars(select(m.Event).join(m.PendingEvent, m.PendingEvent.seq == m.Event.seq).where(
        m.PendingEvent.account_id == account_id, m.PendingEvent.day <= until
    ).order_by(m.Event.seq)))


def accounts_due(session: Session, until: date, after: str | None = None, limit: int | None = None) -> list[str]:
    """Accounts with days or events left to process through `until`, in id order: those after
    `after`, at most `limit` of them."""
    states = m.AccountStateRow
    has_pending = exists().where(m.PendingEvent.account_id == m.Account.id, m.PendingEvent.day <= until)
    query = (select(m.Account.id).outerjoin(states, states.account_id == m.Account.id)
             .where(m.Account.created_day <= until,
                    or_(states.through.is_(None), states.through < until, has_pending))
             .order_by(m.Account.id))
    if after is not None:
        query = query.where(m.Account.id > after)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def due_chunks(factory: sessionmaker, until: date, size: int) -> Iterator[list[str]]:
    """The accounts due, a chunk at a time, read as they are needed: a run never holds every id."""
    after = None
    while True:
        with make_read_factory(factory.kw["bind"])() as session:  # on SQLite no write lock
            ids = accounts_due(session, until, after, size)
        if ids:
            yield ids
        if len(ids) < size:
            return
        after = ids[-1]


def chunk_size() -> int:
    return max(1, int(os.environ.get("BILLING_CYCLE_CHUNK", "500")))


# Below this many chunks a run stays in this process: starting workers costs more than it saves.
PARALLEL_MIN_CHUNKS = 10


def worker_count(factory: sessionmaker, chunks: int) -> int:
    """BILLING_CYCLE_WORKERS processes (default 1: this process) for a run of many chunks on a
    database other processes can open. Not on by default: in a process with threads the workers
    are spawned, which re-imports the caller's main module (a script without a __main__ guard
    cannot survive that), and a small server may not want its cores taken."""
    url = factory.kw["bind"].url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return 1
    workers = int(os.environ.get("BILLING_CYCLE_WORKERS", "1") or 1)
    return max(1, workers) if chunks >= PARALLEL_MIN_CHUNKS else 1


def run_cycle(factory: sessionmaker, until: date, progress: Callable[[Iterable], Iterable] | None = None) -> dict:
    started_at, started = utcnow(), time.perf_counter()
    prices = _price_book(factory)  # plans change rarely; one read per run, not per account
    issue_waiting(factory, until, prices)  # first: invoices that waited for their MNB rate (rates.py)
    chunks = due_chunks(factory, until, chunk_size())
    head = list(itertools.islice(chunks, PARALLEL_MIN_CHUNKS))
    chunks = itertools.chain(head, chunks)
    workers = worker_count(factory, len(head))
    if workers > 1:
        processed = _run_in_workers(factory, chunks, until, workers, progress)
    else:
        with _fewer_collections():
            processed = sum(process_chunk(factory, chunk, until, prices)
                            for chunk in (progress(chunks) if progress else chunks))
    charge_saved_cards(factory, until, lambda paid: process_chunk(factory, paid, until, prices))  # card on file (§8)
    with factory.begin() as session:
        session.add(m.CycleRun(until=until, accounts=processed, started_at=started_at,
                               duration_ms=round((time.perf_counter() - started) * 1000)))
    send_after_run(factory)  # the messages the run decided, after its commits (billing/mail/outbox.py)
    return {"until": until.isoformat(), "accounts_processed": processed}


def _run_in_workers(factory: sessionmaker, chunks: Iterable[list[str]], until: date, workers: int,
                    progress: Callable[[Iterable], Iterable] | None) -> int:
    """The chunks spread over worker processes, a few handed out ahead of them. Each chunk is
    still its own transaction under its accounts' locks (process_chunk), so workers never process
    an account twice, and a failure stops the run with every finished chunk kept: a rerun does the
    rest, as in one process."""
    engine = factory.kw["bind"]
    url = engine.url.render_as_string(hide_password=False)
    # fork when this process has no other thread (billing run): it starts at once. A server has
    # threads, which fork would copy in whatever state they are: there, spawn a fresh interpreter.
    if threading.active_count() == 1:
        engine.dispose()  # no open connection is copied into the workers
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    # SQLite has one writer: the workers pass the write turn by a lock of their own, at once,
    # rather than through SQLite's busy handler, which sleeps up to 100 ms between tries.
    turn = context.Lock() if engine.dialect.name == "sqlite" else None
    processed = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_worker_start, initargs=(url, turn)) as pool:
        in_flight: set = set()
        try:
            for chunk in (progress(chunks) if progress else chunks):
                in_flight.add(pool.submit(_worker_chunk, chunk, until))
                if len(in_flight) >= 2 * workers:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    processed += sum(future.result() for future in done)
            processed += sum(future.result() for future in as_completed(in_flight))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return processed


@contextlib.contextmanager
def _fewer_collections():
    """A chunk allocates a few hundred thousand short-lived objects without cycles; at the default
    threshold (700 allocations) the collector would run thousands of times per run for nothing."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


GC_THRESHOLD = 50_000
_worker: dict = {}


def _worker_start(url: str, write_turn) -> None:
    _worker["factory"] = factory = make_session_factory(make_engine(url))
    _worker["prices"] = _price_book(factory)
    _worker["write_turn"] = write_turn
    gc.freeze()  # what was loaded so far lives as long as the worker: never scan it again
    gc.set_threshold(GC_THRESHOLD)


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
    started = time.perf_counter()
    prices = prices or _price_book(factory)
    prepared = prepare.prepare(factory, account_ids, until, prices)
    # From the same read, before the lock: VIES may take seconds, and MNB too (billing/cycle/rates.py).
    # A chunk of HUF accounts with their VAT decided asks neither and opens no transaction for them.
    snapshots = [snapshot for snapshot, _ in prepared.values()]
    answers = ask_vies(number for snapshot in snapshots for number in snapshot.vies)
    rates = fetch_rates(factory, rates_wanted(((s.profile, s.state.through, s.events) for s in snapshots), until))
    with write_turn or contextlib.nullcontext(), factory.begin() as session:
        without_parallel_plans(session)
        seed_rates(session, rates)
        # FOR UPDATE on the account rows, always in id order: two cycle runs (or API processes)
        # started at once serialise per account without deadlocking, so no day is charged twice;
        # on SQLite the BEGIN IMMEDIATE lock does the same.
        accounts, pending = prepare.read_chunk(session, account_ids, until, lock=True)
        session.info["posting_buffer"], session.info["row_buffer"] = [], {}
        ctx = DbContext(session, prices, billing_config.cycle_config())
        ready, applied, locked, numbered = [], [], [], []
        for row, version, _ in accounts:
            account_id = row[prepare.ACCOUNT_ID]
            snapshot, step = prepared.get(account_id, (None, None))
            if snapshot is None or snapshot.key != prepare.step_key(row, version, pending.get(account_id, ())):
                locked.append((account_id, None))
            elif step is not None:
                (numbered if step.placeholders else ready).append((account_id, snapshot, step))
                applied += snapshot.seqs
            elif not snapshot.idle:
                locked.append((account_id, snapshot))
        for _, _, step in ready + numbered:
            prepare.store_postings(session, step)
        saved = [(account_id, step.state, snapshot.stored, prepare.store_prepared(session, ctx, step))
                 for account_id, snapshot, step in ready]
        if locked:
            locked_saved, locked_applied = _process_locked(session, ctx, locked, until, answers)
            saved += locked_saved
            applied += locked_applied
        _write(session, saved)
        if applied:  # out of the queue: applied, in the same transaction as their effects
            session.execute(delete(m.PendingEvent.__table__).where(among(session, m.PendingEvent.seq, applied)))
        # Numbers last: the first one locks the series' counter until commit, and every other
        # transaction issuing documents waits for it. What holds no number (the numbered steps'
        # ledger postings) was written above.
        numbered = [(account_id, step.state, snapshot.stored, prepare.store_prepared(session, ctx, step))
                    for account_id, snapshot, step in numbered]
        _write(session, numbered)
        ctx.write_counters()
    chunk_log.info("cycle_chunk", until=until.isoformat(), accounts=len(account_ids),
                   prepared=len(ready) + len(numbered), recomputed_under_lock=len(locked),
                   events_applied=len(applied), duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return len(saved) + len(numbered)


def _write(session: Session, saved: list[tuple[str, AccountState, bool, str]]) -> None:
    writes.save_states(session, saved)
    writes.flush_postings(session)
    writes.flush_rows(session)
    session.info["posting_buffer"], session.info["row_buffer"] = [], {}


def _process_locked(session: Session, ctx: DbContext, locked: list[tuple[str, prepare.Snapshot | None]],
                    until: date, answers: dict[str, Answer] | None = None,
                    ) -> tuple[list[tuple[str, AccountState, bool, str]], list[int]]:
    """The whole step under the lock, for the accounts prepare() could not do, from their snapshot
    when it is still current: (states to save, applied event seqs)."""
    account_ids = [account_id for account_id, _ in locked]
    accounts = session.scalars(select(m.Account).where(among(session, m.Account.id, account_ids))
                               .order_by(m.Account.id).with_for_update()).all()
    snapshots = {account_id: snapshot for account_id, snapshot in locked if snapshot is not None}
    missing = [account_id for account_id, snapshot in locked if snapshot is None]
    if missing:
        snapshots.update((account.id, snapshot) for account, snapshot in prepare.read_snapshots(session, missing, until))
    saved, applied = [], []
    for account in accounts:
        snapshot = snapshots[account.id]
        if snapshot.idle:
            continue
        events = list(snapshot.events)
        first = first_day(account, snapshot.state)
        # the archived history too, when an event may reach it (billing/domain/compaction.py)
        state, whole = archive.with_archive(session, snapshot.state, events)
        history = build_history(session, account, state, events)
        # VIES's answer (asked before the lock) and account.updated take effect from their day
        new = advance_account(session, ctx, account, state, events, until, history, answers)
        if new is None:  # it terminates while an invoice of it waits for its MNB rate: next run (rates.py)
            continue
        new = archive.store_compacted(session, new, first, ctx.config.archive_after_days, whole)
        saved.append((account.id, new, snapshot.stored, jsoncodec.dumps(new.to_json())))
        applied += snapshot.seqs
    return saved, applied


def _price_book(factory: sessionmaker) -> PriceBook:
    with factory() as session:
        return PriceBook(session)


def dry_run(session: Session, account: m.Account, until: date,
            state: AccountState | None = None) -> tuple[AccountState, r.Outcome]:
    """What the cycle would do for one account through `until`: the same engine, nothing written."""
    state = state if state is not None else load_state(session, account)
    events = [to_domain(e) for e in pending_events(session, account.id, until)]
    state, _ = archive.with_archive(session, state, events)
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
        m.Event.account_id == account.id, m.Event.type.in_(SEAT_OR_PLAN), m.event_applied()
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


