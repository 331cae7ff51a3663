"""An account's step under the lock when its buyer data or VAT treatment changes during the days
it covers (account.updated, or VIES answering at last).

The engine prices a run with one VAT treatment and the documents of a run name one buyer, so the
run is cut at the day of each account.updated: the days before it are advanced and their
documents issued with the buyer data and treatment they had, then the update is laid on the
account row and the days from it on follow (CONTRACT §6: documents issued from its day on carry
the new data, those issued before keep theirs). Without an update in the days, this is exactly
one `advance` as before.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Mapping

from sqlalchemy.orm import Session

from billing.accounts import Answer, apply_update, retry_pending_vat
from billing.cycle import write as writes
from billing.cycle.context import DbContext, profile_of
from billing.db import models as m
from billing.domain import records as r
from billing.domain.engine import advance
from billing.domain.state import AccountState


def first_day(account: m.Account, state: AccountState) -> date:
    """The first day a run processes for the account."""
    return account.created_day if state.through is None else state.through + timedelta(days=1)


def segments(first: date, until: date, events: list[r.Event]) -> list[tuple[date, date, list[r.Event]]]:
    """(first day, last day, events) of each part of the run, cut at the days of account.updated
    events after `first`. A late event (dated before `first`) belongs to the first part."""
    cuts = sorted({e.day for e in events if e.type == "account.updated" and first < e.day <= until})
    starts = [first, *cuts]
    ends = [day - timedelta(days=1) for day in cuts] + [until]
    parts = []
    for index, (start, end) in enumerate(zip(starts, ends)):
        parts.append((start, end, [e for e in events
                                   if (index == 0 or e.day >= start) and (index == len(starts) - 1 or e.day <= end)]))
    return parts


def advance_account(session: Session, ctx: DbContext, account: m.Account, state: AccountState,
                    events: list[r.Event], until: date, history: r.History | None,
                    answers: Mapping[str, Answer] | None) -> AccountState:
    """Advance and persist one account through `until` under its lock; returns the new state.
    `answers` are VIES's, asked before the lock (billing.accounts.vies_numbers)."""
    first = first_day(account, state)
    # Still waiting for VIES: its answer (if it came) decides the treatment from the first day
    # processed now; the days already processed keep theirs.
    retry_pending_vat(account, first, answers)
    for index, (start, end, part) in enumerate(segments(first, until, events)):
        for event in part:
            if event.type == "account.updated" and max(event.day, first) == start:
                apply_update(account, event.data, start, answers)
        before = state
        state, outcome = advance(state, profile_of(account, start), part, end, ctx,
                                 history if index == 0 else None)
        writes.persist_outcome(session, account, outcome, before, state)  # with the messages it decides
    return state
