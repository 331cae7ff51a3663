"""cProfile of one benchmark's work, in-process, to see where the time goes (not a figure).

    .venv/bin/python bench/hotspots.py cycle      # 150 accounts on SQLite: one day, then 31 days
    .venv/bin/python bench/hotspots.py ingest     # 10,000 seat events through billing.events.ingest
    .venv/bin/python bench/hotspots.py pdf        # 60 invoice PDFs
    .venv/bin/python bench/hotspots.py navxml     # 1,000 InvoiceData build + validate
Add --url postgresql+psycopg://… to profile cycle/ingest on an existing PostgreSQL database.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
from datetime import timedelta

import common as c


def _profiled(label: str, fn, top: int) -> None:
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    print(f"==== {label}")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top // 2)


def cycle(url: str, top: int) -> None:
    import cycle as bench_cycle
    from billing.cycle.run import run_cycle
    from billing.db.session import make_engine, make_session_factory

    bench_cycle.seed(url, 150)
    factory = make_session_factory(make_engine(url))
    _profiled("cycle, one day", lambda: run_cycle(factory, bench_cycle.FIRST_DAY), top)
    _profiled("cycle, 31-day catch-up",
              lambda: run_cycle(factory, bench_cycle.FIRST_DAY + timedelta(days=31)), top)


def ingest(url: str, top: int) -> None:
    from billing.accounts import account_from_event
    from billing.events import ingest as ingest_batch
    from billing.plans import define_plan

    _, factory = c.fresh_schema(url)
    with factory.begin() as session:
        define_plan(session, c.plan_in())
    accounts = [f"acc{i:05d}" for i in range(100)]
    with factory.begin() as session:
        ingest_batch(session, [c.account_created(a) for a in accounts], account_from_event)
    events = [c.seat_event(accounts[k % 100], k, offset_s=60 + k // 100) for k in range(10_000)]

    def work():
        for batch in c.chunks(events, 1000):
            with factory.begin() as session:
                ingest_batch(session, batch, account_from_event)

    _profiled("ingest, 10 batches of 1,000", work, top)


def pdf(_url: str, top: int) -> None:
    from docs import LOCALES, documents
    from invoices.pdf import render_document_pdf

    docs = documents(60)
    render_document_pdf(docs[0], "hu")
    _profiled("60 invoice PDFs", lambda: [render_document_pdf(d, LOCALES[i % 4]) for i, d in enumerate(docs)], top)


def navxml(_url: str, top: int) -> None:
    from docs import documents
    from nav_reporting.xml import build_invoice_data, validate_invoice_data

    docs = documents(1000)
    validate_invoice_data(build_invoice_data(docs[0]))
    _profiled("1,000 InvoiceData build + validate",
              lambda: [validate_invoice_data(build_invoice_data(d)) for d in docs], top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("cycle", "ingest", "pdf", "navxml"))
    p.add_argument("--url", default=None, help="an empty database (default: a temporary SQLite file)")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    c.offline_env()
    with tempfile.TemporaryDirectory(prefix="billing-profile-") as tmp:
        globals()[args.what](args.url or f"sqlite:///{os.path.join(tmp, 'p.db')}", args.top)


if __name__ == "__main__":
    sys.exit(main())
