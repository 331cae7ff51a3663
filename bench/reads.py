"""The account reads at month 36 against month 2 (issue #19): p50 and p99 of GET /v1/accounts/{id},
/v1/accounts/{id}/documents, /v1/accounts/{id}/ledger and the portal page.

For each engine: one database with two cohorts of A accounts (10 seats, no trial): OLD created on
2026-03-02 and NEW created on 2029-01-02, built by the real cycle month by month with every
proforma paid two days after its issue (bench/history.py), through 2029-02-15, the business day
of both. On that day an OLD account is in its 36th month (36 proformas, payments and invoices,
about 1,080 charge entries), a NEW one in its 2nd (2 of each, about 45 entries). Then R requests
per route and cohort, one at a time, rotating over the cohort's accounts (a few warm-up requests
first), in this process through the ASGI app (FastAPI TestClient; --served: `billing serve` on
loopback through httpx). The figure is the p99 at month 36 against the p99 at month 2 (goal
<= 1.5x, lists paginated); p50, the mean, the response size and, in-process, the rows each request
loads through the ORM (per mapped table) and its SQL statements are in the JSON line.

Paginated lists: a route that takes `limit`/`cursor` answers `next_cursor`; the bench asks each
list with `?limit=50` and measures that variant only if the answer has `next_cursor` (otherwise
the route ignored the parameter and the line says `paginated: false`). Each list is measured at
its first page and at its last one (`?limit=50&cursor=`, reached by walking the pages first: at
month 36 the newest entries, whose balances start from a sum of all earlier history; at month 2
the only page). The ledger is also read with `?from=` the first day of the month shown (a window
the route does take). The portal page shows a bounded part of the history (the latest months'
statements, the latest documents), so it is measured as it is.

    .venv/bin/python bench/reads.py --engines sqlite --accounts 10 --requests 100
    .venv/bin/python bench/reads.py --profile-dir /tmp/reads-prof     # cProfile of each view, in-process
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date

import common as c
import history as h

SEATS = 10
OLD_CREATED = date(2026, 3, 2)
NEW_CREATED = date(2029, 1, 2)
AS_OF = date(2029, 2, 15)  # month 36 of OLD, month 2 of NEW
PAGE = 50
WHOLE_LISTS = ("documents", "ledger")  # the routes as the contract shows them, without limit


def build(url: str, accounts: int, workers: int) -> tuple[list[str], list[str], dict]:
    _, factory = c.fresh_schema(url)
    old = [f"old{i:04d}" for i in range(accounts)]
    new = [f"new{i:04d}" for i in range(accounts)]
    h.seed(factory, old, OLD_CREATED, SEATS)
    os.environ["BILLING_CYCLE_CHUNK"] = str(max(10, (2 * accounts) // 10))
    run = h.in_process_runner(factory, workers)
    c.note(f"building 36 months for {accounts} accounts, then 2 months for {accounts} more")
    h.build(factory, run, OLD_CREATED, NEW_CREATED - date.resolution, [OLD_CREATED], progress=False)
    h.seed(factory, new, NEW_CREATED, SEATS, define_plan=False)
    h.build(factory, run, NEW_CREATED, AS_OF, [NEW_CREATED], progress=False)
    sizes = {"old": h.state_sizes(factory, old), "new": h.state_sizes(factory, new), "rows": h.table_rows(factory)}
    factory.kw["bind"].dispose()
    return old, new, sizes


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Counter:
    """Rows loaded through the ORM per mapped class, and SQL statements, on one engine."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        from billing.db import models as m

        self.rows: dict[str, int] = {}
        self.statements = 0
        for model in (m.JournalEntry, m.DocumentRow, m.AllocationRow, m.AccountStateRow, m.Event, m.Account):
            event.listen(model, "load", self._loaded(model.__tablename__))
        event.listen(engine, "before_cursor_execute", self._statement)

    def _loaded(self, name: str):
        def count(*_args):
            self.rows[name] = self.rows.get(name, 0) + 1
        return count

    def _statement(self, *_args):
        self.statements += 1

    def take(self) -> tuple[dict[str, int], int]:
        out = (self.rows, self.statements)
        self.rows, self.statements = {}, 0
        return out


def measure(get, paths: list[str], n: int, warmup: int, counter: Counter | None) -> dict:
    for path in paths[:warmup]:
        get(path)
    if counter:
        counter.take()
    lat, size = [], 0
    for k in range(n):
        path = paths[k % len(paths)]
        start = time.perf_counter()
        body = get(path)
        lat.append(time.perf_counter() - start)
        size += len(body)
    out = {"p50_ms": _pct(lat, 50) * 1000, "p99_ms": _pct(lat, 99) * 1000, "mean_ms": statistics.fmean(lat) * 1000,
           "n": n, "bytes": size / n}
    if counter:
        rows, statements = counter.take()
        out["orm_rows_per_request"] = {k: v / n for k, v in sorted(rows.items())}
        out["sql_statements_per_request"] = statements / n
    return out


def routes(get_json, post_json, ids: list[str]) -> dict[str, list[str]]:
    tokens = {a: post_json(f"/v1/accounts/{a}/portal-link", {})["url"].split("token=", 1)[1] for a in ids}
    window = AS_OF.replace(day=1).isoformat()
    return {
        "account": [f"/v1/accounts/{a}" for a in ids],
        "documents": [f"/v1/accounts/{a}/documents" for a in ids],
        "documents?limit": [f"/v1/accounts/{a}/documents?limit={PAGE}" for a in ids],
        "documents?limit&cursor (last page)": [last_page(get_json, f"/v1/accounts/{a}/documents?limit={PAGE}")
                                               for a in ids],
        "ledger": [f"/v1/accounts/{a}/ledger" for a in ids],
        "ledger?limit": [f"/v1/accounts/{a}/ledger?limit={PAGE}" for a in ids],
        "ledger?limit&cursor (last page)": [last_page(get_json, f"/v1/accounts/{a}/ledger?limit={PAGE}")
                                            for a in ids],
        f"ledger?from={window}": [f"/v1/accounts/{a}/ledger?from={window}" for a in ids],
        "portal": [f"/portal/{a}?token={tokens[a]}" for a in ids],
    }


def last_page(get_json, first: str, most: int = 1000) -> str:
    """The path of a paginated list's last page, walked to from `first` (`first` itself when the
    route does not paginate or the list fits one page)."""
    path = first
    for _ in range(most):
        body = get_json(path)
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            return path
        path = f"{first}&cursor={cursor}"  # urlsafe base64: nothing to escape
    raise RuntimeError(f"{first}: more than {most} pages")


def paginated(get_json, path: str) -> bool:
    body = get_json(path)
    return isinstance(body, dict) and "next_cursor" in body


def run(engine: str, dbs: c.Databases, accounts: int, n: int, served: bool, workers: int,
        profile_dir: str | None) -> None:
    url = dbs.url(engine, "reads")
    with c.timed() as t:
        old, new, sizes = build(url, accounts, workers)
    c.note(f"{engine}: history built in {t['s']:.0f} s; state JSON {sizes['old'].get('state_json_bytes_mean', 0):,.0f} "
           f"B (month 36) vs {sizes['new'].get('state_json_bytes_mean', 0):,.0f} B (month 2)")
    os.environ["BILLING_PUBLIC_RATE_LIMIT"] = "1000000/minute"  # the portal's limit is per client address
    os.environ["BILLING_WORKERS"] = "0"
    results: dict[str, dict[str, dict]] = {}
    if served:
        import httpx

        with c.served(url) as base, httpx.Client(base_url=base, headers=c.admin_headers(), timeout=120) as client:
            results, support = _drive(lambda p: _ok(client.get(p)),
                                      lambda p, b: _ok(client.post(p, json=b)), old, new, n, None)
    else:
        from fastapi.testclient import TestClient

        from billing.http.app import create_app

        app = create_app(url)
        counter = Counter(app.state.engine)
        with TestClient(app, headers=c.admin_headers()) as client:
            results, support = _drive(lambda p: _ok(client.get(p)),
                                      lambda p, b: _ok(client.post(p, json=b)), old, new, n, counter)
        if profile_dir:
            profile_views(app, old[0], new[0], profile_dir, engine)
        app.state.engine.dispose()
    for route, by_cohort in results.items():
        a, b = by_cohort["month 2"], by_cohort["month 36"]
        # A list asked without `limit` answers all of it (the contract's route): its cost is its
        # size (36 months of daily entries), so only its pages carry the goal ("lists paginated").
        whole = route in WHOLE_LISTS
        c.emit("reads", f"GET {route} p99 ms, month 36 vs month 2 ({engine})", b["p99_ms"], "ms (lower is better)",
               baseline=a["p99_ms"],
               goal=("none: the whole list in one answer; its pages carry the goal" if whole
                     else "p99 <= 1.5x month 2" + (" (paginated)" if "?limit" in route else "")),
               passed=None if whole else b["p99_ms"] <= 1.5 * a["p99_ms"], month36=b, month2=a,
               accounts_per_cohort=accounts,
               served=served, paginated=support.get(route), state=sizes)


def _ok(response) -> bytes:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} "
                           f"{response.text[:300]}")
    return response.content


def _drive(get, post, old: list[str], new: list[str], n: int, counter: Counter | None):
    import json

    get_json = lambda p: json.loads(get(p))  # noqa: E731
    post_json = lambda p, b: json.loads(post(p, b))  # noqa: E731
    by_cohort = {"month 2": routes(get_json, post_json, new), "month 36": routes(get_json, post_json, old)}
    support = {}
    for route in list(by_cohort["month 2"]):
        if "?limit" in route:
            support[route] = paginated(get_json, by_cohort["month 36"][route][0])
            if not support[route]:
                c.note(f"{route.split('?')[0]}: the route ignores limit/cursor (no next_cursor): not paginated today")
                for cohort in by_cohort.values():
                    del cohort[route]
    results: dict[str, dict[str, dict]] = {}
    for route in by_cohort["month 2"]:
        for cohort, paths in by_cohort.items():
            c.note(f"  {route} at {cohort}: {n} requests")
            results.setdefault(route, {})[cohort] = measure(get, paths[route], n, min(5, n), counter)
    return results, support


def profile_views(app, old_id: str, new_id: str, out_dir: str, engine: str, repeat: int = 20) -> None:
    """cProfile of each view called directly (the route's thread is not the profiler's), dumped to
    {out_dir}/{engine}-{view}-m{2,36}.prof; compare with bench/profdiff.py."""
    import cProfile

    from billing.portal.page import page_model, render_page
    from billing.views.accounts import account_view, ledger_view
    from billing.views.documents import documents_view

    os.makedirs(out_dir, exist_ok=True)
    factory = app.state.factory
    views = {
        "account": lambda s, a: account_view(s, a),
        "documents": lambda s, a: documents_view(s, a),
        "ledger": lambda s, a: ledger_view(s, a, None, None),
        "portal": lambda s, a: render_page(page_model(s, a, None, lambda p, **q: p, False)),
    }
    for view, fn in views.items():
        for month, account in (("m2", new_id), ("m36", old_id)):
            with factory() as session:
                fn(session, account)
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(repeat):
                with factory() as session:
                    fn(session, account)
            profile.disable()
            path = os.path.join(out_dir, f"{engine}-{view}-{month}.prof")
            profile.dump_stats(path)
    c.note(f"profiles in {out_dir} ({repeat} calls each)")


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=None, help="accounts per cohort (default 20; quick 5)")
    p.add_argument("--requests", type=int, default=None, help="requests per route and cohort (default 200; quick 50)")
    p.add_argument("--served", action="store_true", help="against `billing serve` on loopback instead of in-process")
    p.add_argument("--workers", type=int, default=1, help="cycle workers while the history is built (default 1)")
    p.add_argument("--profile-dir", default=None, help="also cProfile each view (in-process only)")
    args = p.parse_args()
    c.offline_env()
    with c.Databases() as dbs:
        for engine in c.engines(args):
            run(engine, dbs, args.accounts or (5 if args.quick else 20), args.requests or (50 if args.quick else 200),
                args.served, args.workers, args.profile_dir)


if __name__ == "__main__":
    sys.exit(main())
