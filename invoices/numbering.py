"""Gapless document numbers per series and year: PRO-2026-000001, INV-…, CRN-….

The law wants invoice numbers without gaps or repeats. A number is taken in the transaction that
issues the document and never committed here: if that transaction rolls back, the counter rolls
back with it and the next document gets the same number, so no gap ever appears.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from invoices.models import NumberSeries
from invoices.sqlutil import insert_if_absent
from invoices.taxnumbers import DOCUMENT_NUMBER, DOCUMENT_PREFIXES


def allocate_number(session: Session, kind: str, year: int) -> str:
    if kind not in DOCUMENT_PREFIXES:
        raise ValueError(f"unknown document kind {kind!r}")
    series = DOCUMENT_PREFIXES[kind]
    # The first document of a year creates the counter. Two transactions may both find it missing;
    # ON CONFLICT DO NOTHING lets the loser go on to the locked read below instead of failing on
    # the primary key (and on SQLite this write takes the database write lock right away).
    insert_if_absent(session, NumberSeries, {"series": series, "year": year, "last_value": 0})
    # Row lock (SELECT … FOR UPDATE on PostgreSQL) held until the caller commits or rolls back:
    # without it two transactions read the same last_value and issue the same number; with it the
    # second waits and reads the first one's value once that commits (or the old one if it rolls
    # back). SQLite has no row locks; its single writer lock, taken by the insert above, serialises
    # the same way.
    last_value = session.execute(
        select(NumberSeries.last_value)
        .where(NumberSeries.series == series, NumberSeries.year == year)
        .with_for_update()
    ).scalar_one()
    next_value = last_value + 1
    session.execute(
        update(NumberSeries)
        .where(NumberSeries.series == series, NumberSeries.year == year)
        .values(last_value=next_value)
        # No NumberSeries object is loaded in the session, so there is nothing to synchronise; the
        # default would scan the whole identity map for every number (costly inside a cycle chunk).
        .execution_options(synchronize_session=False)
    )
    return DOCUMENT_NUMBER.format(kind, year, next_value)
