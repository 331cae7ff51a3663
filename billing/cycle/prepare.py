"""A cycle step prepared outside the write lock, from a plain read: computed down to the rows it
will insert, with placeholders for its proformas' numbers. process_chunk stores it only if the
account, its state version and its pending events are still what they were read as."""
from __future__ import annotations

import uuid
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.accounts import buyer_of, vies_numbers
from billing.cycle import archive
from billing.cycle.context import DbContext, PriceBook, profile_of
from billing.cycle import write as writes
from billing.mail import store as mail
from billing.db import jsoncodec
from billing.db import models as m
from billing.db.queries import among, array_text, without_parallel_plans
from billing.db.session import make_read_factory
from billing.db.base import utcnow
from billing.domain import records as r
from billing.domain.compaction import needs_history
from billing.domain.engine import advance, new_state
from billing.domain.state import AccountState
from billing.cycle.issuing import compose, exchange_rate, rate_needs_database
from billing.cycle.updates import first_day
from invoices.documents import Party


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
    seller: Party = field(default_factory=billing_config.seller)  # read from the environment once a chunk
    now: datetime = field(default_factory=utcnow)  # the created_at of the chunk's rows

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
class Snapshot:
    """An account's step inputs as read: the state before, the pending events."""
    key: tuple            # what they were read from (see step_key)
    state: AccountState   # never changed: advance works on a copy
    events: tuple[r.Event, ...]
    stored: bool          # the account has a state row
    idle: bool            # processed through the day already, nothing pending
    profile: r.Profile    # of the account row as read
    vies: tuple[str, ...]  # the numbers VIES is asked about before the lock (accounts.vies_numbers)

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step computed down to its rows; `placeholders` (placeholder, kind, day) stand in for the
    numbers of the proformas it issues, in every text below."""
    state: AccountState
    state_json: str
    postings: list[tuple[dict, list[dict]]]  # posting_rows
    rows: list[tuple[Any, dict]]            # (table, row) for flush_rows
    placeholders: list[tuple[str, str, date]]


def step_key(account_row: tuple, version: int | None, events) -> tuple:
    """The account row, its state's version and its pending events, as read_chunk read them."""
    return account_row, version, tuple([e.seq for e in events])


_ACCOUNTS, _STATES = m.Account.__table__, m.AccountStateRow.__table__
_ACCOUNT_COLUMNS = len(_ACCOUNTS.c)
ACCOUNT_ID = list(_ACCOUNTS.c.keys()).index("id")  # where a compared account row has its id
_SnapshotAccount = namedtuple("_SnapshotAccount", [c.name for c in _ACCOUNTS.c] + ["state_version", "state_json"])
# What the engine's Event record holds, in its order: a row is the record's arguments.
_EVENT_FIELDS = tuple(r.Event.__dataclass_fields__)


def read_chunk(session: Session, account_ids: list[str], until: date, lock: bool
               ) -> tuple[list[tuple[tuple, int | None, Any]], dict[str, list]]:
    """([(the account row as step_key compares it, its state's version, the account)] in id
    order, pending events by account). Outside the lock the account is a named tuple that carries
    its state's `state_json` too (one query for both); under it only what step_key compares is
    read (the account is None), and of the events the queue alone (seq, account); outside it the
    events are the engine's Event records."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        accounts = _sqlite_accounts(session, account_ids, lock)
    elif lock:
        # On PostgreSQL the accounts are locked first and the versions read by a statement of its
        # own after: a statement sees what was committed before it began, and a join's other rows
        # are not read again after a lock wait.
        rows = session.execute(select(_ACCOUNTS).where(among(session, _ACCOUNTS.c.id, account_ids))
                               .order_by(_ACCOUNTS.c.id).with_for_update()).all()
        versions = dict(session.execute(select(_STATES.c.account_id, _STATES.c.version)
                                        .where(among(session, _STATES.c.account_id, account_ids))).all())
        accounts = [(tuple(row), versions.get(row.id), None) for row in rows]
    else:
        accounts = _pg_accounts(session, account_ids)
    pending: dict[str, list] = {}
    if sqlite:
        events = _sqlite_pending(session, account_ids, until, lock)
    elif lock:
        events = [_Queued._make(row) for row in _driver_rows(session.connection(), _PG_LOCKED_QUEUE,
                                                             (array_text(account_ids), until))]
    else:
        events = _pg_pending(session, account_ids, until)
    for event in events:
        pending.setdefault(event.account_id, []).append(event)
    return accounts, pending


_EVENTS, _QUEUE = m.Event.__table__, m.PendingEvent.__table__
_Queued = namedtuple("_Queued", ["seq", "account_id"])


def _sqlite_pending(session: Session, account_ids: list[str], until: date, lock: bool) -> list:
    """read_chunk's pending events on SQLite, in seq order, read by the driver: under the lock the
    queue's (seq, account) alone; outside it the engine's Event records, each stored value
    through its column type's result processing."""
    connection = session.connection()
    dialect = connection.dialect
    day = _QUEUE.c.day.type._cached_bind_processor(dialect)(until)
    statement = _sqlite_pending_select(len(account_ids), lock)
    rows = connection.exec_driver_sql(statement, (*account_ids, day)).all()
    if lock:
        return [_Queued._make(row) for row in rows]
    processors = _result_processors(dialect, "events")
    return [r.Event(*_processed(row, processors)) for row in rows]


def _driver_rows(connection, statement: str, parameters: tuple) -> list[tuple]:
    """The rows as the driver's cursor gives them: no SQLAlchemy row is made for thousands of
    rows the caller turns into records anyway."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement, parameters)
        return cursor.fetchall()
    finally:
        cursor.close()


def _pg_accounts(session: Session, account_ids: list[str]) -> list[tuple[tuple, int | None, Any]]:
    """read_chunk's accounts outside the lock on PostgreSQL, with their states' versions and
    JSON: one joined statement run by the driver, each value then as SQLAlchemy's row would give
    it (the row compared under the lock is SQLAlchemy's)."""
    connection = session.connection()
    rows = _driver_rows(connection, _PG_ACCOUNTS, (array_text(account_ids),))
    processors = _result_processors(connection.dialect, "accounts")
    found = []
    for row in rows:
        values = _processed(row, processors)
        found.append((tuple(values[:_ACCOUNT_COLUMNS]), values[_ACCOUNT_COLUMNS], _SnapshotAccount._make(values)))
    return found


def _pg_pending(session: Session, account_ids: list[str], until: date) -> list[r.Event]:
    """read_chunk's pending events outside the lock on PostgreSQL, in seq order, read by the
    driver: the queue's seqs first, then the events by their seqs. Joined, PostgreSQL would plan
    a hash join over the whole event log (a sequential scan that grows with the years); by seq
    each event is one index look-up. The data comes as JSON text, decoded here as the column type
    would (jsoncodec), without the driver's loader around it."""
    connection = session.connection()
    seqs = [seq for seq, in _driver_rows(connection, _PG_QUEUE, (array_text(account_ids), until))]
    if not seqs:
        return []
    rows = _driver_rows(connection, _PG_EVENTS, (array_text(seqs),))
    instant = _pg_event_instant(connection.dialect)
    loads, event, at = jsoncodec.loads, r.Event, _AT
    return [event(*row[:at], instant(row[at]), *row[at + 1:-1], loads(row[-1])) for row in rows]


_PG_ACCOUNTS = (f"SELECT {', '.join(f'a.{c.name}' for c in _ACCOUNTS.c)}, s.version, s.state FROM {_ACCOUNTS.name} a "
                f"LEFT OUTER JOIN {_STATES.name} s ON s.account_id = a.id WHERE a.id = ANY(%s::VARCHAR[]) ORDER BY a.id")
_QUEUED = f"FROM {_QUEUE.name} WHERE account_id = ANY(%s::VARCHAR[]) AND day <= %s ORDER BY seq"
_PG_QUEUE, _PG_LOCKED_QUEUE = f"SELECT seq {_QUEUED}", f"SELECT seq, account_id {_QUEUED}"
# _pg_pending processes occurred_at (an instant in UTC) and decodes data, the last column, itself.
_AT = _EVENT_FIELDS.index("occurred_at")
assert _EVENT_FIELDS[-1] == "data"
_PG_EVENTS = (f"SELECT {', '.join(_EVENT_FIELDS[:-1])}, {_EVENT_FIELDS[-1]}::text FROM {_EVENTS.name} "
              "WHERE seq = ANY(%s::BIGINT[]) ORDER BY seq")


@lru_cache(maxsize=None)
def _pg_event_instant(dialect):
    """occurred_at's result processing: on PostgreSQL the one column of an event that has any
    besides data (which _pg_pending decodes from its text)."""
    processors = dict(_result_processors(dialect, "events"))
    if processors.keys() - {_AT, len(_EVENT_FIELDS) - 1}:
        raise RuntimeError("an event column _pg_pending does not process has a result processor")
    return processors[_AT]


@lru_cache(maxsize=None)
def _sqlite_pending_select(count: int, lock: bool) -> str:
    columns = "q.seq, q.account_id" if lock else ", ".join(f"e.{name}" for name in _EVENT_FIELDS)
    join = "" if lock else f" JOIN {_EVENTS.name} e ON e.seq = q.seq"
    return (f"SELECT {columns} FROM {_QUEUE.name} q{join} WHERE q.account_id IN ({', '.join('?' * count)})"
            " AND q.day <= ? ORDER BY q.seq")


def _sqlite_accounts(session: Session, account_ids: list[str], lock: bool) -> list[tuple[tuple, int | None, Any]]:
    """read_chunk's accounts on SQLite: one joined statement, the rows as the driver gives them.
    The transaction under the lock took SQLite's one write lock before its first read (BEGIN
    IMMEDIATE), so the join sees the versions as they are under it. The row compared is the
    stored text itself (dates, JSON), so under the lock nothing is decoded; outside it the values
    go through their column types' result processing, as SQLAlchemy's own rows would."""
    connection = session.connection()
    rows = connection.exec_driver_sql(_sqlite_select(len(account_ids), not lock), tuple(account_ids)).all()
    if lock:
        return [(row[:_ACCOUNT_COLUMNS], row[_ACCOUNT_COLUMNS], None) for row in rows]
    processors = _result_processors(connection.dialect, "accounts")
    return [(row[:_ACCOUNT_COLUMNS], row[_ACCOUNT_COLUMNS], _SnapshotAccount._make(_processed(row, processors)))
            for row in rows]


@lru_cache(maxsize=None)
def _sqlite_select(count: int, with_state: bool) -> str:
    columns = [f"a.{c.name}" for c in _ACCOUNTS.c] + ["s.version"] + (["s.state"] if with_state else [])
    return (f"SELECT {', '.join(columns)} FROM {_ACCOUNTS.name} a LEFT OUTER JOIN {_STATES.name} s "
            f"ON s.account_id = a.id WHERE a.id IN ({', '.join('?' * count)}) ORDER BY a.id")


# The columns each driver-level read selects, in its order: _sqlite_select (with the state) and
# _pg_accounts; _sqlite_pending_select (outside the lock) and _pg_pending.
_SELECTED = {"accounts": (*_ACCOUNTS.c, _STATES.c.version, _STATES.c.state),
             "events": tuple(_EVENTS.c[name] for name in _EVENT_FIELDS)}


@lru_cache(maxsize=None)
def _result_processors(dialect, read: str) -> tuple:
    """(index, processor) of the columns of a read (_SELECTED) whose stored value SQLAlchemy turns
    into another Python value (the driver's value is it for the others)."""
    processors = [(index, column.type._cached_result_processor(dialect, None))
                  for index, column in enumerate(_SELECTED[read])]
    return tuple((index, process) for index, process in processors if process is not None)


def _processed(row, processors) -> list:
    """A driver's row with each value as SQLAlchemy's own row would give it (_result_processors)."""
    values = list(row)
    for index, process in processors:
        values[index] = process(values[index])
    return values


def read_snapshots(session: Session, account_ids: list[str], until: date) -> list[tuple[Any, Snapshot]]:
    """(account row, snapshot) in id order."""
    accounts, pending = read_chunk(session, account_ids, until, lock=False)
    found = []
    for row, version, account in accounts:
        events = pending.get(account.id, [])
        stored = account.state_json
        profile = profile_of(account)
        state = AccountState.from_json(stored) if stored is not None else new_state(profile, account.plan)
        idle = state.through is not None and state.through >= until and not events
        records = tuple(events)
        found.append((account, Snapshot(step_key(row, version, events), state, records, stored is not None, idle,
                                         profile, tuple(vies_numbers(account, records)))))
    return found


def prepare(factory: sessionmaker, account_ids: list[str], until: date,
            prices: PriceBook) -> dict[str, tuple[Snapshot, Prepared | None]]:
    ctx = PrepareContext(prices, billing_config.cycle_config())
    with make_read_factory(factory.kw["bind"])() as session:  # on SQLite no write lock
        without_parallel_plans(session)
        snapshots = read_snapshots(session, account_ids, until)
    prepared: dict[str, tuple[Snapshot, Prepared | None]] = {}
    for account, snapshot in snapshots:
        prepared[account.id] = (snapshot, prepare_step(ctx, account, snapshot, until))
    return prepared


def prepare_step(ctx: PrepareContext, account, snapshot: Snapshot, until: date) -> Prepared | None:
    """The step's rows, or None when it is to be computed under the lock."""
    state = snapshot.state
    if snapshot.idle or (account.vat or {}).get("pending"):  # VIES is asked again under the lock
        return None
    if snapshot.events and any(e.type == "account.updated" for e in snapshot.events):
        return None  # new buyer data from its day: the run is cut there (billing/cycle/updates.py)
    if snapshot.events and state.through is not None and any(e.day <= state.through for e in snapshot.events):
        return None  # a late event reads the account's history: done under the lock
    if needs_history(state, snapshot.events):
        return None  # it reads the archived history too (billing/domain/compaction.py)
    ctx.placeholders = []
    try:
        new, outcome = advance(state, snapshot.profile, list(snapshot.events), until, ctx)
    except NeedsLock:
        return None
    if outcome.refunds or outcome.allocations or outcome.rejections:
        return None
    if outcome.documents and rate_needs_database(account.currency):
        return None  # the MNB rate may need fetching and caching: a write
    now = ctx.now
    rows = []
    for draft in outcome.documents:
        rate = exchange_rate(None, draft.currency, draft.fulfilment_date)
        doc = compose(draft, ctx.seller, buyer_of(account), snapshot.profile.vat, rate, account.locale)
        rows += writes.document_rows(doc, draft, now)
    rows += [writes.state_notice_row(account.id, change, now) for change in outcome.state_changes]
    rows += mail.step_message_rows(account, state, new, outcome, ctx.config.payment_terms_days, now)
    new, archived = archive.compacted(new, first_day(account, state), ctx.config.archive_after_days, now)
    rows += archived
    postings = [writes.posting_rows(p, now) for p in outcome.postings]
    if ctx.placeholders and any(_holds_placeholder(entry) or any(map(_holds_placeholder, legs)) for entry, legs in postings):
        return None  # only invoices and credit notes are booked, and those are issued under the lock
    return Prepared(new, jsoncodec.dumps(new.to_json()), postings, rows, ctx.placeholders)


def store_postings(session: Session, step: Prepared) -> None:
    """Buffer a prepared step's ledger postings. They never hold a placeholder (prepare_step), so
    a step that issues proformas can have them written before its numbers are taken."""
    session.info["posting_buffer"].extend(step.postings)


def store_prepared(session: Session, ctx: DbContext, step: Prepared) -> str:
    """Buffer a prepared step's rows but its postings (store_postings), its proformas numbered
    now; returns its state's JSON text."""
    rows, state_json = step.rows, step.state_json
    if step.placeholders:
        numbers = {placeholder: ctx.allocate_number(kind, day) for placeholder, kind, day in step.placeholders}
        rows = [(table, _numbered(row, numbers)) for table, row in rows]
        state_json = _replace_all(state_json, numbers)
    buffer = session.info["row_buffer"]
    for table, row in rows:
        buffer.setdefault(table, []).append(row)
    return state_json


def _placeholder_keys(row: dict) -> list[str]:
    """The keys whose values are texts that hold a placeholder ("@@…@@"). A first run scans
    a million values: the test is written out here, not called per value."""
    return [k for k, v in row.items() if isinstance(v, str) and "@@" in v]


def _holds_placeholder(row: dict) -> bool:
    return bool(_placeholder_keys(row))


def _numbered(row: dict, numbers: dict[str, str]) -> dict:
    """The row with its placeholders replaced; a copy, so a retried step still has them."""
    keys = _placeholder_keys(row)
    if not keys:
        return row
    row = dict(row)
    for k in keys:
        row[k] = _replace_all(row[k], numbers)
    return row


def _replace_all(text: str, numbers: dict[str, str]) -> str:
    for placeholder, number in numbers.items():
        text = text.replace(placeholder, number)
    if "@@" in text and any(p.split(":")[0] in text for p in numbers):
        raise RuntimeError("a placeholder number was left in a prepared row")
    return text

