"""Accounts with months of history, built fast: the real cycle run month by month over the
simulated period, with every proforma paid two days after it is issued (a `payment.received`
event posted through `billing.events.ingest`, the same path as the API).

Used by `bench/cycle.py` (the "after 36 months" phase) and `bench/reads.py`. Not a benchmark on
its own. Each account has `seats` seats from its creation day and no trial, so every day is
charged; it gets its first proforma on its creation day (conversion) and one on every 20th, pays
each one in full by bank transfer two days later, which issues its invoice. After m months an
account's state holds m proformas, m payments and m invoices, and its ledger about 30·m charge
entries and m payment entries.
"""
from __future__ import annotations

import os
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterable

from sqlalchemy import func, select

import common as c

BUDAPEST_WINTER = timezone(timedelta(hours=1))
PAY_AFTER_DAYS = 2


def instant(day: date, hour: int = 9) -> str:
    # 09:00 at +01:00 is 09:00 or 10:00 in Budapest: always the same local day.
    return datetime.combine(day, dtime(hour, 0), BUDAPEST_WINTER).isoformat()


def seed(factory, ids: list[str], created: date, seats: int, *, define_plan: bool = True) -> None:
    """`ids` created on `created` (no trial), `seats` seats each, through ingest in batches of <= 1,000."""
    from billing.accounts import account_from_event
    from billing.events import ingest
    from billing.plans import define_plan as define

    if define_plan:
        with factory.begin() as session:
            define(session, c.plan_in())
    per_batch = max(1, 1000 // (seats + 1))
    for group in c.chunks(ids, per_batch):
        items = []
        for a in group:
            event = c.account_created(a, trial_days=0)
            event["occurred_at"] = instant(created)
            items.append(event)
            for u in range(seats):
                items.append({"id": f"{a}-s{u}", "type": "seat.activated", "account_id": a,
                              "occurred_at": instant(created, 10), "data": {"user_id": f"u{u}"}})
        with factory.begin() as session:
            ingest(session, items, account_from_event)


def proformas_issued(factory, day: date) -> list[tuple[str, str, str]]:
    """(account, number, gross) of the proformas issued on `day`."""
    from billing.db.models import DocumentRow as D

    with factory() as session:
        # format(normalize): PostgreSQL's NUMERIC gives "96677.00", which HUF (no decimals) refuses
        return [(a, n, format(Decimal(g).normalize(), "f")) for a, n, g in session.execute(
            select(D.account_id, D.number, D.gross).where(D.kind == "proforma", D.issue_date == day))]


def pay(factory, proformas: Iterable[tuple[str, str, str]], day: date) -> int:
    """Each proforma paid in full on `day`, by bank transfer, naming it."""
    from billing.accounts import account_from_event
    from billing.events import ingest

    items = [{"id": f"{a}-pay-{number}", "type": "payment.received", "account_id": a,
              "occurred_at": instant(day),
              "data": {"amount": gross, "currency": "HUF", "method": "bank_transfer", "reference": number}}
             for a, number, gross in proformas]
    for batch in c.chunks(items, 1000):
        with factory.begin() as session:
            ingest(session, batch, account_from_event)
    return len(items)


def issue_days(start: date, end: date, extra: Iterable[date] = (), proforma_day: int = 20) -> list[date]:
    """The days in [start, end] on which proformas are issued: every `proforma_day` and `extra`
    (the accounts' creation days, when the first proforma comes)."""
    days = set(d for d in extra if start <= d <= end)
    d = date(start.year, start.month, proforma_day)
    while d <= end:
        if d >= start:
            days.add(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, proforma_day)
    return sorted(days)


def build(factory, run: Callable[[date], object], start: date, until: date,
          creation_days: Iterable[date] = (), progress: bool = True) -> dict:
    """Run the cycle from `start` (the first day not yet processed) through `until`, paying each
    proforma PAY_AFTER_DAYS after its issue; a proforma issued so late that its payment day is
    after `until` stays open. `run(day)` runs the cycle through `day`."""
    runs = payments = 0
    for day in issue_days(start, until, creation_days):
        run(day)
        runs += 1
        issued = proformas_issued(factory, day)
        pay_day = day + timedelta(days=PAY_AFTER_DAYS)
        if issued and pay_day <= until:
            payments += pay(factory, issued, pay_day)
        if progress and (day.month in (1, 7) and day.day == 20):
            c.note(f"  history through {day}: {len(issued)} proformas issued that day")
    run(until)
    return {"runs": runs + 1, "payments": payments}


def in_process_runner(factory, workers: int) -> Callable[[date], object]:
    """run_cycle in this process (BILLING_CYCLE_WORKERS=workers: forked workers for >= 10 chunks)."""
    from billing.cycle.run import run_cycle

    os.environ["BILLING_CYCLE_WORKERS"] = str(workers)

    def run(day: date):
        result = run_cycle(factory, day)
        factory.kw["bind"].dispose()  # no pooled connection survives a fork of the next run
        return result

    return run


def state_sizes(factory, account_ids: list[str] | None = None) -> dict:
    """Bytes of the stored state JSON per account (mean, max) and the record counts it holds."""
    from billing.db.models import AccountStateRow
    from billing.db import jsoncodec

    engine = factory.kw["bind"]
    table = AccountStateRow.__table__
    query = select(table.c.account_id, table.c.state)
    sizes, counts = [], {"proformas": [], "payments": [], "invoices": []}
    with engine.connect() as conn:
        for account_id, state in conn.execute(query):
            if account_ids is not None and account_id not in account_ids:
                continue
            text = jsoncodec.dumps(state)
            sizes.append(len(text.encode() if isinstance(text, str) else text))
            for k in counts:
                counts[k].append(len(state.get(k) or ()))
    if not sizes:
        return {}
    return {"state_json_bytes_mean": sum(sizes) / len(sizes), "state_json_bytes_max": max(sizes),
            **{f"{k}_mean": sum(v) / len(v) for k, v in counts.items()}}


def table_rows(factory) -> dict[str, int]:
    from billing.db.models import AllocationRow, DocumentRow, JournalEntry, PostingRow

    with factory.kw["bind"].connect() as conn:
        return {name: conn.scalar(select(func.count()).select_from(model))
                for name, model in (("journal_entries", JournalEntry), ("postings", PostingRow),
                                    ("documents", DocumentRow), ("allocations", AllocationRow))}


def month_of(created: date, month: int) -> tuple[int, int]:
    """(year, month) of an account's `month`-th calendar month (1 = its creation month)."""
    index = created.year * 12 + created.month - 1 + month - 1
    return index // 12, index % 12 + 1
