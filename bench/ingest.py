"""Event ingestion over HTTP against `billing serve`, next to a bare executemany of the same rows.

For each engine: a fresh database, a served process, one plan and A accounts, then N seat events
posted in batches of 1,000 on one keep-alive connection. The baseline inserts the very rows the
service stored (same columns, same values, one transaction per 1,000 rows) into the `events` table
of another fresh database of the same engine with a bare SQLAlchemy Core executemany.

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


def stored_rows(url: str, n: int) -> list[dict]:
    """The seat-event rows exactly as the service stored them (minus the serial key)."""
    from sqlalchemy import select

    from billing.db.models import Event

    engine, _ = c.fresh_schema(url)
    cols = [col for col in Event.__table__.columns if col.name != "seq"]
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(*cols).where(Event.type == "seat.activated").order_by(Event.seq))]
    engine.dispose()
    if len(rows) != n:
        raise RuntimeError(f"expected {n} stored seat events, found {len(rows)}")
    return rows


def bare_insert(url: str, rows: list[dict]) -> float:
    from billing.db.models import Event

    engine, _ = c.fresh_schema(url)
    table = Event.__table__
    with c.timed() as t:
        for batch in c.chunks(rows, BATCH):
            with engine.begin() as conn:
                conn.execute(table.insert(), batch)
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
    rate, bare_rate = n / http_s, n / bare_s
    quarter = max(1, len(per_batch) // 4)
    first = quarter * BATCH / sum(per_batch[:quarter])
    last = quarter * BATCH / sum(per_batch[-quarter:])
    ok = rate >= bare_rate / 3 and (engine != "sqlite" or rate >= 5000)
    goal = ">= 5000/s and >= 1/3 bare" if engine == "sqlite" else ">= 1/3 bare"
    c.emit("ingest", f"ingest HTTP events/s ({engine})", rate, "events/s", baseline=bare_rate,
           goal=goal, passed=ok, n=n, accounts=account_count, batch=BATCH,
           first_quarter_rate=first, last_quarter_rate=last, http_s=http_s, bare_s=bare_s)


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
