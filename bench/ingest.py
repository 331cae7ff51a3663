"""Event ingestion over HTTP against `billing serve`, next to a bare executemany of the same rows.

For each engine: a fresh database, a served process, one plan and A accounts, then N seat events
posted in batches of 1,000 on one keep-alive connection. The baseline inserts the very rows the
service stored (same columns, same values, one transaction per 1,000 events) into another fresh
database of the same engine with a bare SQLAlchemy Core executemany per table: each event's row in
`events` and its row in the cycle's queue, `pending_events` (billing/db/models.py).

Goal (issue): >= 5,000 events/s on SQLite and >= 1/3 of the bare rate.
"""
from __future__ import annotations

import sys
import time

import common as c

BATCH = 1000


def post_all(base: str, events: list[dict]) -> list[float]:
    import httpx

    seconds = []
    with httpx.Client(base_url=base, headers=c.admin_headers(), timeout=120.0) as client:
        for batch in c.chunks(events, BATCH):
            start = time.perf_counter()
            r = client.post("/v1/events", json={"events": batch})
            seconds.append(time.perf_counter() - start)
            if r.status_code != 201 or r.json()["accepted"] != len(batch):
                raise RuntimeError(f"batch refused: {r.status_code} {r.text[:300]}")
    return seconds


def setup(base: str, accounts: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=base, headers=c.admin_headers(), timeout=120.0) as client:
        r = client.post("/v1/plans", json=c.PLAN)
        assert r.status_code in (200, 201), r.text
        for batch in c.chunks([c.account_created(a) for a in accounts], BATCH):
            r = client.post("/v1/events", json={"events": batch})
            assert r.status_code == 201, r.text


def stored_rows(url: str, n: int) -> list[tuple[dict, dict]]:
    """(event row minus the serial key, its queue row) exactly as the service stored them."""
    from sqlalchemy import select

    from billing.db.models import Event, PendingEvent

    engine, _ = c.fresh_schema(url)
    cols = [col for col in Event.__table__.columns if col.name != "seq"]
    queue = [col for col in PendingEvent.__table__.columns]
    with engine.connect() as conn:
        rows = [({col.name: r._mapping[col] for col in cols}, {col.name: r._mapping[col] for col in queue})
                for r in conn.execute(select(*cols, *queue).join(PendingEvent, PendingEvent.seq == Event.seq)
                                      .where(Event.type == "seat.activated").order_by(Event.seq))]
    engine.dispose()
    if len(rows) != n:
        raise RuntimeError(f"expected {n} stored seat events with their queue rows, found {len(rows)}")
    return rows


def bare_insert(url: str, rows: list[tuple[dict, dict]], queue: bool = True) -> float:
    """Seconds to insert the rows; with queue=False the events' rows alone (for comparison)."""
    from billing.db.models import Event, PendingEvent

    engine, _ = c.fresh_schema(url)
    with c.timed() as t:
        for batch in c.chunks(rows, BATCH):
            with engine.begin() as conn:
                conn.execute(Event.__table__.insert(), [event for event, _ in batch])
                if queue:
                    conn.execute(PendingEvent.__table__.insert(), [queued for _, queued in batch])
    engine.dispose()
    return t["s"]


def run(engine: str, dbs: c.Databases, n: int, account_count: int) -> None:
    accounts = [f"acc{i:05d}" for i in range(account_count)]
    events = [c.seat_event(accounts[k % account_count], k, offset_s=60 + k // account_count)
              for k in range(n)]
    url = dbs.url(engine, "ingest")
    with c.served(url) as base:
        setup(base, accounts)
        c.note(f"{engine}: posting {n} seat events over HTTP")
        per_batch = post_all(base, events)
    http_s = sum(per_batch)
    rows = stored_rows(url, n)
    c.note(f"{engine}: bare executemany of the same {n} rows")
    bare_s = bare_insert(dbs.url(engine, "ingest_bare"), rows)
    events_only_s = bare_insert(dbs.url(engine, "ingest_bare"), rows, queue=False)
    rate, bare_rate = n / http_s, n / bare_s
    quarter = max(1, len(per_batch) // 4)
    first = quarter * BATCH / sum(per_batch[:quarter])
    last = quarter * BATCH / sum(per_batch[-quarter:])
    ok = rate >= bare_rate / 3 and (engine != "sqlite" or rate >= 5000)
    goal = ">= 5000/s and >= 1/3 bare" if engine == "sqlite" else ">= 1/3 bare"
    c.emit("ingest", f"ingest HTTP events/s ({engine})", rate, "events/s", baseline=bare_rate,
           goal=goal, passed=ok, n=n, accounts=account_count, batch=BATCH,
           first_quarter_rate=first, last_quarter_rate=last, http_s=http_s, bare_s=bare_s,
           bare_events_only_rate=n / events_only_s, ratio_to_events_only=rate / (n / events_only_s),
           baseline_is="events/s of a bare executemany of the stored rows: each event and its queue row")


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=None, help="seat events (default 100,000; quick 10,000)")
    p.add_argument("--accounts", type=int, default=100)
    args = p.parse_args()
    n = args.events or (10_000 if args.quick else 100_000)
    c.offline_env()
    with c.Databases() as dbs:
        for engine in c.engines(args):
            run(engine, dbs, n, args.accounts)


if __name__ == "__main__":
    sys.exit(main())
