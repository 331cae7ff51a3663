"""The archive of settled history (billing/domain/compaction.py) in the database: rows of
`account_state_archive`, one per archived record, next to the account's hot state row.

A run that may reach the archive gets the whole history (`with_archive`); when it saves its state
the account's rows are replaced by what the compaction of that whole state moves out (it moves
them all again, and perhaps more), in the same transaction as the state row, so the state's
counts and the rows always agree. Any other run only adds the rows it moved."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing.cycle.write import add_row
from billing.db import jsoncodec
from billing.db import models as m
from billing.db.base import utcnow
from billing.domain.compaction import ArchivedRecord, compact, needs_history, with_history
from billing.domain.records import Event
from billing.domain.state import AccountState
from billing.logs import get_logger

TABLE = m.ArchivedStateRecord.__table__
log = get_logger("billing.cycle")


def archived_records(session: Session, account_id: str) -> list[ArchivedRecord]:
    rows = session.execute(select(TABLE.c.kind, TABLE.c.ordinal, TABLE.c.key, TABLE.c.record)
                           .where(TABLE.c.account_id == account_id))
    return [ArchivedRecord(row.kind, row.ordinal, row.key, row.record) for row in rows]


def with_archive(session: Session, state: AccountState, events: list[Event] | None = None) -> tuple[AccountState, bool]:
    """(the state a run of `events` needs, whether it is the whole history); None: every event
    (finance's adjustments read the whole history: they are rare and may name any invoice)."""
    if not state.archive or (events is not None and not needs_history(state, events)):
        return state, False
    records = archived_records(session, state.account_id)
    # rare by design: a figure to watch, each load costs a read of the account's settled years
    log.info("history_loaded", account_id=state.account_id, records=len(records),
             events=sorted({e.type for e in events}) if events is not None else None)
    return with_history(state, records), True


def compacted(state: AccountState, first_day: date, keep_days: int, now: datetime | None = None
              ) -> tuple[AccountState, list[tuple[Any, dict]]]:
    """(the state to save, the archive rows to insert) after a run whose first day was `first_day`."""
    hot, moved = compact(state, first_day, keep_days)
    return hot, rows_of(state.account_id, moved, now or utcnow())


def store_compacted(session: Session, state: AccountState, first_day: date, keep_days: int,
                    whole: bool) -> AccountState:
    """compacted(), its rows added to the session's writes; `whole`: the state was given its whole
    history (with_archive), so the account's rows it replaces are removed first."""
    hot, rows = compacted(state, first_day, keep_days)
    if whole:
        forget(session, state.account_id)
    for table, row in rows:
        add_row(session, table, row)
    return hot


def rows_of(account_id: str, records: Iterable[ArchivedRecord], now: datetime) -> list[tuple[Any, dict]]:
    return [(TABLE, {"account_id": account_id, "kind": r.kind, "ordinal": r.ordinal, "key": r.key,
                     "record__json": jsoncodec.dumps(r.data), "archived_at": now}) for r in records]


def forget(session: Session, account_id: str) -> None:
    """The account's rows, before the rows of a state compacted from its whole history are added."""
    session.execute(delete(TABLE).where(TABLE.c.account_id == account_id))
