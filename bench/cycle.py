"""The daily cycle: A accounts with 10 seats each: the first run, an ordinary day, a 31-day catch-up.

For each engine: a fresh database; one plan; A accounts (no trial, so every day is charged) with 10
seat events each, stored through `billing.events.ingest` in chunks (the same path as the API).
Then `run_cycle` through the first day (every account converts: its 11 events apply, it gets its
first proforma), through the next day (charges only), and through 31 more days (a 20th, when
every account gets its next proforma, and a month end). Each run happens in a child process that
reports its own peak RSS (VmHWM; resource.getrusage's ru_maxrss would carry the parent's peak over
fork+exec), so seeding does not count towards it. The baseline copies the journal_entries +
postings rows the run wrote into a fresh database of the same engine with a bare Core
executemany (one transaction per 1,000 rows) and turns that time into seat-days/s; the same
copy of the documents and notices it wrote is timed too (bare_with_documents_s).

`--stop-after first` (or `ordinary`) ends the standard phase after that run: the first run of
100,000 accounts alone, with its bare copies and its memory at a quarter, takes minutes rather than
the catch-up's half hour.

The runs use --workers processes (BILLING_CYCLE_WORKERS, default one per core); the peak RSS
reported is the largest of the cycle process and its workers.

Memory: the same runs at A/4 accounts too; the peak RSS of the cycle child should not grow with A.

The history phase (issue #19, --phases history): H accounts (--history-accounts, default 2,000)
with 10 seats, built by the real cycle month by month (bench/history.py: every proforma paid in full
two days after its issue, so each month adds a proforma, a payment and an invoice to each state).
At month 2 (April 2026) and month 36 (February 2029) of the same accounts: five ordinary days
(the 10th-14th, each its own run in a fresh process; the median is the figure) and the 20th (every
account's next proforma). Figures: wall seconds month 36 against month 2 (goal <= 1.2x), the
child's CPU seconds in the line, and peak RSS (VmHWM of the cycle process and its workers; goal
<= 1.1x). The line also carries the state JSON bytes per account and the rows in the ledger.
The timed runs use BILLING_CYCLE_CHUNK=--history-chunk (500, as in production), so at 2,000
accounts they are one process (workers start at 10 chunks); the build uses --build-chunk and
--build-workers. --profile-dir writes a cProfile of each timed run (compare them with
bench/profdiff.py). About 6 minutes on SQLite and 15 on PostgreSQL at 2,000 accounts here.

    .venv/bin/python bench/cycle.py --phases history --engines sqlite --history-accounts 2000
    .venv/bin/python bench/cycle.py --phases history --history-accounts 500 --history-workers 1 \
        --profile-dir /tmp/prof && .venv/bin/python bench/profdiff.py \
        /tmp/prof/sqlite-m2-2026-04-12.prof /tmp/prof/sqlite-m36-2029-02-12.prof
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from datetime import date, timedelta

import common as c

SEATS = 10
FIRST_DAY = c.BASE_INSTANT.date()  # the accounts' creation day (Budapest)
CATCH_UP_DAYS = 31
CHUNK_ACCOUNTS = 1000 // (SEATS + 1)  # whole accounts per ingest batch of at most 1,000 events
FIRST_RUN, ORDINARY_DAY, CATCH_UP = "first run", "ordinary day", f"{CATCH_UP_DAYS}-day catch-up"
STANDARD_RUNS = {"first": FIRST_RUN, "ordinary": ORDINARY_DAY, "catch-up": CATCH_UP}  # --stop-after


def seed(url: str, account_count: int) -> None:
    from billing.accounts import account_from_event
    from billing.events import ingest
    from billing.plans import define_plan

    engine, factory = c.fresh_schema(url)
    with factory.begin() as session:
        define_plan(session, c.plan_in())
    ids = [f"acc{i:06d}" for i in range(account_count)]
    for group in c.chunks(ids, CHUNK_ACCOUNTS):
        items = []
        for a in group:
            items.append(c.account_created(a, trial_days=0))
            items += [c.seat_event(a, u, offset_s=60) for u in range(SEATS)]
        with factory.begin() as session:
            ingest(session, items, account_from_event)
    engine.dispose()


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from billing.db.models import DocumentRow, JournalEntry, PostingRow

    engine, _ = c.fresh_schema(url)
    with engine.connect() as conn:
        out = {name: conn.scalar(select(func.count()).select_from(model))
               for name, model in (("journal_entries", JournalEntry), ("postings", PostingRow),
                                   ("documents", DocumentRow))}
    engine.dispose()
    return out


def cycle_child(url: str, until: date, workers: int, **env: str) -> dict:
    """Run in a fresh interpreter: its peak RSS is the cycle's alone."""
    out = subprocess.run([sys.executable, __file__, "--child", url, until.isoformat()],
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": c.ROOT, "BILLING_CYCLE_WORKERS": str(workers), **env})
    if out.returncode != 0:
        tail = "\n".join(line for line in out.stderr.splitlines() if "cycle_chunk" not in line)[-3000:]
        raise RuntimeError(f"the cycle through {until} exited with {out.returncode}:\n{tail}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(url: str, until: str) -> None:
    from billing.cycle.run import run_cycle
    from billing.db.session import make_engine, make_session_factory

    c.offline_env()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rss_before = c.peak_rss_mib()
    profile_to = os.environ.get("BENCH_CYCLE_PROFILE")  # the history phase's --profile-dir
    profile = None
    if profile_to:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    with c.timed() as t:
        result = run_cycle(factory, date.fromisoformat(until))
    if profile is not None:
        profile.disable()
        profile.dump_stats(profile_to)
    # The worker processes (BILLING_CYCLE_WORKERS) have ended: the largest one's peak.
    workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"s": t["s"], "cpu_s": t["cpu"], "rss_mib": max(c.peak_rss_mib(), workers_rss),
                      "parent_rss_mib": c.peak_rss_mib(), "workers_rss_mib": workers_rss,
                      "rss_before_mib": rss_before, **result}))


def bare_copy(src_url: str, dst_url: str, before: dict[str, int], since: date | None) -> dict[str, tuple[float, int]]:
    """Insert what the run wrote into a fresh database, one transaction per 1,000 rows:
    {"ledger": its journal entries and their postings, "documents": its documents (issued after
    `since`) and notices} → (seconds, rows) each."""
    from sqlalchemy import select

    from billing.db.models import DocumentRow, JournalEntry, Notice, PostingRow

    src, _ = c.fresh_schema(src_url)
    with src.connect() as conn:
        def rows_of(query):
            return [dict(r._mapping) for r in conn.execute(query)]

        groups = {
            "ledger": [
                (JournalEntry.__table__, rows_of(select(JournalEntry.__table__).where(
                    JournalEntry.id > before["max_entry_id"]).order_by(JournalEntry.id))),
                (PostingRow.__table__, rows_of(select(PostingRow.__table__).where(
                    PostingRow.entry_id > before["max_entry_id"]).order_by(PostingRow.id)))],
            "documents": [
                (DocumentRow.__table__, rows_of(select(DocumentRow.__table__).where(
                    DocumentRow.issue_date > since if since else True).order_by(DocumentRow.number))),
                (Notice.__table__, rows_of(select(Notice.__table__).where(
                    Notice.id > before["max_notice_id"]).order_by(Notice.id)))]}
    src.dispose()
    dst, _ = c.fresh_schema(dst_url)
    out = {}
    for name, tables in groups.items():
        with c.timed() as t:
            for table, rows in tables:
                for batch in c.chunks(rows, 1000):
                    with dst.begin() as conn:
                        conn.execute(table.insert(), batch)
        out[name] = (t["s"], sum(len(rows) for _, rows in tables))
    dst.dispose()
    return out


def high_water(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from billing.db.models import JournalEntry, Notice

    engine, _ = c.fresh_schema(url)
    with engine.connect() as conn:
        out = {"max_entry_id": int(conn.scalar(select(func.coalesce(func.max(JournalEntry.id), 0)))),
               "max_notice_id": int(conn.scalar(select(func.coalesce(func.max(Notice.id), 0))))}
    engine.dispose()
    return out


def run(engine: str, dbs: c.Databases, account_count: int, report: bool, workers: int,
        stop_after: str = CATCH_UP) -> dict:
    url = dbs.url(engine, f"cycle{account_count}")
    c.note(f"{engine}: seeding {account_count} accounts x {SEATS} seats through ingest")
    with c.timed() as seeding:
        seed(url, account_count)
    phases = {}
    # The first run is the day every seeded account converts: its 11 events apply and it gets its
    # first proforma. The second is an ordinary day: charges only, what the scheduler runs most
    # days (the issue's "one day"). The catch-up crosses a 20th (every account's next proforma)
    # and a month end.
    previous = None
    for phase, until, days in ((FIRST_RUN, FIRST_DAY, 1),
                               (ORDINARY_DAY, FIRST_DAY + timedelta(days=1), 1),
                               (CATCH_UP, FIRST_DAY + timedelta(days=1 + CATCH_UP_DAYS), CATCH_UP_DAYS)):
        before_ids = high_water(url)
        before = counts(url)
        c.note(f"{engine}: cycle {phase} for {account_count} accounts (until {until})")
        child = cycle_child(url, until, workers)
        after = counts(url)
        if child["accounts_processed"] != account_count:
            raise RuntimeError(f"{phase}: {child['accounts_processed']} of {account_count} accounts processed")
        bare = bare_copy(url, dbs.url(engine, "cycle_bare"), before_ids, previous)
        previous = until
        bare_s, bare_rows = bare["ledger"]
        with_documents_s = bare_s + bare["documents"][0]
        seat_days = account_count * SEATS * days
        written = {k: after[k] - before[k] for k in after}
        phases[phase] = child
        if report:
            # Issue #3: the daily cycle within 3x of the bare insert of its ledger rows, and one day
            # for 100,000 accounts under 30 s. The first run is held to the 30 s; its 3x is
            # reported but not a goal (README "Measured figures": most of that day's writes are
            # not ledger rows).
            under_30 = child["s"] * 100_000 / account_count < 30
            within_3x = seat_days / child["s"] >= seat_days / bare_s / 3
            goal, passed = {FIRST_RUN: ("100,000 accounts < 30 s", under_30),
                            ORDINARY_DAY: ("100,000 accounts < 30 s and >= 1/3 bare", under_30 and within_3x),
                            CATCH_UP: (">= 1/3 bare", within_3x)}[phase]
            c.emit("cycle", f"cycle {phase} seat-days/s ({engine})", seat_days / child["s"], "seat-days/s",
                   baseline=seat_days / bare_s, goal=goal, passed=passed, accounts=account_count,
                   seat_days=seat_days, cycle_s=child["s"], cycle_cpu_s=child["cpu_s"], accounts_per_s=account_count / child["s"],
                   bare_insert_s=bare_s, bare_rows=bare_rows, rows_written=written,
                   bare_with_documents_s=with_documents_s, bare_documents_rows=bare["documents"][1],
                   times_bare=child["s"] / bare_s, times_bare_with_documents=child["s"] / with_documents_s,
                   peak_rss_mib=child["rss_mib"], seed_s=seeding["s"], workers=workers,
                   under_30_s_per_100k=under_30, within_3x_bare=within_3x,
                   baseline_is="seat-days/s if the run cost only a bare executemany of its journal_entries+postings rows")
        if phase == stop_after:
            break
    return phases


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=None, help="accounts (default 100,000; quick 200)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="BILLING_CYCLE_WORKERS for the runs (default: one per core)")
    p.add_argument("--phases", default="standard,history",
                   help="standard (first run, ordinary day, catch-up at --accounts and a quarter of it), "
                        "history (after 36 months, issue #19); comma-separated, default both")
    p.add_argument("--stop-after", choices=tuple(STANDARD_RUNS), default="catch-up",
                   help="the standard phase's last run: first (the first run alone), ordinary, catch-up (all; default)")
    p.add_argument("--history-accounts", type=int, default=None, help="accounts of the history phase "
                   "(default 2,000; quick 200)")
    p.add_argument("--history-months", default="2,36", help="the two months compared (default 2,36)")
    p.add_argument("--history-workers", type=int, default=None,
                   help="BILLING_CYCLE_WORKERS of the timed history runs (default --workers; they use "
                        "workers only at >= 10 chunks)")
    p.add_argument("--history-chunk", type=int, default=500, help="BILLING_CYCLE_CHUNK of the timed runs (500)")
    p.add_argument("--build-workers", type=int, default=None,
                   help="workers while the history is built (default --workers)")
    p.add_argument("--build-chunk", type=int, default=None,
                   help="chunk while the history is built (default: accounts / 10, so the workers are used)")
    p.add_argument("--profile-dir", default=None, help="cProfile every timed history run into this directory "
                   "(a profile, not a figure: times are inflated; use --history-workers 1)")
    p.add_argument("--child", nargs=2, metavar=("URL", "UNTIL"), help=argparse_hidden())
    args = p.parse_args()
    if args.child:
        return _child(*args.child)
    phases = {x.strip() for x in args.phases.split(",") if x.strip()}
    if phases - {"standard", "history"}:
        raise SystemExit(f"unknown phase(s) {phases - {'standard', 'history'}}")
    big = args.accounts or (200 if args.quick else 100_000)
    small = max(1, big // 4)
    c.offline_env()
    with c.Databases() as dbs:
        for engine in c.engines(args):
            if "history" in phases:
                n = args.history_accounts or (200 if args.quick else 2000)
                months = tuple(int(x) for x in args.history_months.split(","))
                workers = args.history_workers or args.workers
                if args.profile_dir:
                    os.makedirs(args.profile_dir, exist_ok=True)
                out = history_run(engine, dbs, n, months, workers, args.build_workers or args.workers,
                                  args.history_chunk, args.build_chunk or max(50, n // 10), args.profile_dir)
                history_report(engine, n, months, out, workers, args.history_chunk, bool(args.profile_dir))
            if "standard" not in phases:
                continue
            stop_after = STANDARD_RUNS[args.stop_after]
            small_run = run(engine, dbs, small, report=False, workers=args.workers, stop_after=stop_after)
            big_run = run(engine, dbs, big, report=True, workers=args.workers, stop_after=stop_after)
            for phase in big_run:
                a, b = small_run[phase]["rss_mib"], big_run[phase]["rss_mib"]
                c.emit("cycle", f"cycle {phase} peak RSS MiB at {big} vs {small} accounts ({engine})", b, "MiB",
                       baseline=a, goal="flat (<= 1.2x at 4x the accounts)", passed=b <= 1.2 * a,
                       accounts_big=big, accounts_small=small)


# --------------------------------------------------------------------------- after 36 months (issue #19)

HISTORY_CREATED = FIRST_DAY  # 2026-03-02: month 1 is March 2026, month 36 February 2029
ORDINARY_DAYS = (10, 11, 12, 13, 14)  # of the measured month: no proforma, no payment on them


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def history_run(engine: str, dbs: c.Databases, account_count: int, months: tuple[int, int], workers: int,
                build_workers: int, chunk: int, build_chunk: int, profile_dir: str | None) -> dict:
    """The same accounts at month `months[0]` and month `months[1]`: five ordinary days (each its
    own run, in a fresh process) and the 20th (every account's next proforma), each timed."""
    import history as h

    url = dbs.url(engine, f"history{account_count}")
    engine_, factory = c.fresh_schema(url)
    ids = [f"acc{i:06d}" for i in range(account_count)]
    c.note(f"{engine}: history phase, seeding {account_count} accounts x {SEATS} seats")
    h.seed(factory, ids, HISTORY_CREATED, SEATS)
    os.environ["BILLING_CYCLE_CHUNK"] = str(build_chunk)
    build = h.in_process_runner(factory, build_workers)
    child_env = {"BILLING_CYCLE_CHUNK": str(chunk)}
    start, creation, out = HISTORY_CREATED, [HISTORY_CREATED], {}
    for month in months:
        year, mon = h.month_of(HISTORY_CREATED, month)
        first_ordinary = date(year, mon, ORDINARY_DAYS[0])
        c.note(f"{engine}: building history through {first_ordinary - timedelta(days=1)} (month {month})")
        with c.timed() as built:
            h.build(factory, build, start, first_ordinary - timedelta(days=1), creation)
        creation = []
        sizes, rows = h.state_sizes(factory), h.table_rows(factory)
        runs: dict[str, list[dict]] = {"ordinary day": [], "20th": []}

        def timed_day(label: str, day: date) -> None:
            env = dict(child_env)
            if profile_dir:
                env["BENCH_CYCLE_PROFILE"] = os.path.join(profile_dir, f"{engine}-m{month}-{day.isoformat()}.prof")
            child = cycle_child(url, day, workers, **env)
            if child["accounts_processed"] != account_count:
                raise RuntimeError(f"{day}: {child['accounts_processed']} of {account_count} accounts processed")
            runs[label].append(child)

        for d in ORDINARY_DAYS:
            timed_day("ordinary day", date(year, mon, d))
        twentieth = date(year, mon, 20)
        build(twentieth - timedelta(days=1))
        timed_day("20th", twentieth)
        # the 20th's proformas are paid like every other (the next month starts from here)
        h.pay(factory, h.proformas_issued(factory, twentieth), twentieth + timedelta(days=h.PAY_AFTER_DAYS))
        start = twentieth + timedelta(days=1)
        out[month] = {"runs": runs, "sizes": sizes, "rows": rows, "build_s": built["s"]}
        c.note(f"{engine}: month {month}: state JSON {sizes.get('state_json_bytes_mean', 0):,.0f} B/account, "
               f"{rows['journal_entries']:,} journal entries; ordinary day "
               f"{_median([r['s'] for r in runs['ordinary day']]):.3f} s, 20th {runs['20th'][0]['s']:.3f} s")
    engine_.dispose()
    return out


def history_report(engine: str, account_count: int, months: tuple[int, int], out: dict, workers: int,
                   chunk: int, profiled: bool) -> None:
    early, late = months
    for label in ("ordinary day", "20th"):
        a, b = out[early]["runs"][label], out[late]["runs"][label]
        wall = (_median([r["s"] for r in a]), _median([r["s"] for r in b]))
        cpu = (_median([r["cpu_s"] for r in a]), _median([r["cpu_s"] for r in b]))
        rss = (max(r["rss_mib"] for r in a), max(r["rss_mib"] for r in b))
        grown = (max(r["rss_mib"] - r["rss_before_mib"] for r in a), max(r["rss_mib"] - r["rss_before_mib"] for r in b))
        common = dict(accounts=account_count, months=list(months), workers=workers, chunk=chunk,
                      runs_per_month=len(a), profiled=profiled,
                      state_json_bytes=[out[early]["sizes"].get("state_json_bytes_mean"),
                                        out[late]["sizes"].get("state_json_bytes_mean")],
                      records_in_state=[{k: out[m]["sizes"].get(f"{k}_mean") for k in ("proformas", "payments", "invoices")}
                                        for m in months],
                      journal_entries=[out[early]["rows"]["journal_entries"], out[late]["rows"]["journal_entries"]],
                      documents=[out[early]["rows"]["documents"], out[late]["rows"]["documents"]])
        # value = month 36's, baseline = month 2's: the ratio is month 36 / month 2 (lower is better)
        c.emit("cycle", f"cycle {label} s, month {late} vs month {early} ({engine})", wall[1], "s (lower is better)",
               baseline=wall[0], goal="<= 1.2x month 2", passed=wall[1] <= 1.2 * wall[0],
               cpu_s=list(cpu), cpu_ratio=cpu[1] / cpu[0], all_s=[[r["s"] for r in a], [r["s"] for r in b]],
               per_100k_accounts_s=wall[1] * 100_000 / account_count, **common)
        c.emit("cycle", f"cycle {label} peak RSS MiB, month {late} vs month {early} ({engine})", rss[1],
               "MiB (lower is better)", baseline=rss[0], goal="<= 1.1x month 2", passed=rss[1] <= 1.1 * rss[0],
               memory_is="VmHWM of the cycle process (largest of it and its workers)",
               grown_during_run_mib=list(grown), **common)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
