"""A bounded load test on loopback: events posted and documents read at the same time.

For each engine: a fresh database behind `billing serve`, one plan, A accounts with seats and no
trial, the cycle run through the first day (so every account has a proforma). Then a fixed number
of requests from C concurrent asyncio workers (httpx, keep-alive): half POST one seat event each,
a quarter GET an account's document list, a quarter GET one document. Reported: requests/s,
p50/p99 latency, errors (anything but 2xx, or a transport error); errors must be 0.

The baseline is GET /health under the same concurrency: what the HTTP stack alone answers.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import time

import common as c

REQUEST_TIMEOUT_S = 30.0


def setup(base: str, account_count: int) -> list[tuple[str, str]]:
    import httpx

    with httpx.Client(base_url=base, headers=c.admin_headers(), timeout=300.0) as client:
        assert client.post("/v1/plans", json=c.PLAN).status_code in (200, 201)
        events = []
        for i in range(account_count):
            a = f"acc{i:04d}"
            events.append(c.account_created(a, trial_days=0))
            events += [c.seat_event(a, u) for u in range(3)]
        for batch in c.chunks(events, 1000):
            r = client.post("/v1/events", json={"events": batch})
            assert r.status_code == 201, r.text
        r = client.post("/v1/clock/run", json={"until": c.FIRST_DAY.isoformat()})
        assert r.status_code == 200, r.text
        docs = []
        for i in range(account_count):
            a = f"acc{i:04d}"
            listed = client.get(f"/v1/accounts/{a}/documents").json()["documents"]
            docs += [(a, d["number"]) for d in listed]
    if not docs:
        raise RuntimeError("the cycle issued no documents to read")
    return docs


async def _drive(base: str, plan: list[tuple[str, str, dict | None]], concurrency: int, budget_s: float):
    """Send the plan; stop taking new requests once `budget_s` has passed (the test stays bounded
    even when the server stalls). Returns (wall, latencies, errors, requests not sent)."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(plan))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + budget_s
    async with httpx.AsyncClient(base_url=base, headers=c.admin_headers(), timeout=REQUEST_TIMEOUT_S,
                                 limits=limits) as client:
        async def worker():
            while queue and time.perf_counter() < deadline:
                method, path, body = queue.pop()
                start = time.perf_counter()
                try:
                    r = await client.request(method, path, json=body)
                    if not 200 <= r.status_code < 300:
                        errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{method} {path}: {exc!r}")
                latencies.append(time.perf_counter() - start)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return wall, latencies, errors, len(queue)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(engine: str, dbs: c.Databases, n: int, account_count: int, concurrency: int, budget_s: float) -> None:
    url = dbs.url(engine, "load")
    with c.served(url) as base:
        c.note(f"{engine}: setting up {account_count} accounts and a cycle day")
        docs = setup(base, account_count)
        plan: list[tuple[str, str, dict | None]] = []
        for k in range(n):
            a, number = docs[k % len(docs)]
            if k % 2 == 0:
                plan.append(("POST", "/v1/events", c.seat_event(a, 1000 + k, offset_s=3600 + k, tag="load")))
            elif k % 4 == 1:
                plan.append(("GET", f"/v1/accounts/{a}/documents", None))
            else:
                plan.append(("GET", f"/v1/documents/{number}", None))
        c.note(f"{engine}: baseline, {n} GET /health with {concurrency} workers")
        base_wall, base_lat, base_err, _ = asyncio.run(
            _drive(base, [("GET", "/health", None)] * n, concurrency, budget_s))
        c.note(f"{engine}: {n} mixed requests with {concurrency} workers (budget {budget_s:.0f} s)")
        wall, lat, errors, unsent = asyncio.run(_drive(base, plan, concurrency, budget_s))
    for e in errors[:5]:
        c.note(f"error: {e}")
    done = len(lat)
    rate = done / wall
    c.emit("load", f"load mixed requests/s ({engine})", rate, "req/s", baseline=len(base_lat) / base_wall,
           goal="0 errors, all sent", passed=not errors and not unsent, errors=len(errors), n=n, completed=done,
           unsent_at_budget=unsent, wall_s=wall, concurrency=concurrency, first_errors=errors[:3],
           p50_ms=_pct(lat, 50) * 1000, p99_ms=_pct(lat, 99) * 1000, mean_ms=statistics.fmean(lat) * 1000,
           baseline_is="GET /health, same concurrency", baseline_p50_ms=_pct(base_lat, 50) * 1000,
           baseline_p99_ms=_pct(base_lat, 99) * 1000, baseline_errors=len(base_err))


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=None, help="requests (default 5,000; quick 1,000)")
    p.add_argument("--accounts", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--budget", type=float, default=None, help="seconds per engine (default 300; quick 30)")
    args = p.parse_args()
    n = args.requests or (1000 if args.quick else 5000)
    c.offline_env()
    with c.Databases() as dbs:
        for engine in c.engines(args):
            run(engine, dbs, n, args.accounts, args.concurrency, args.budget or (30.0 if args.quick else 300.0))


if __name__ == "__main__":
    sys.exit(main())
