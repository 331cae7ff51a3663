"""Shared plumbing for the benchmarks: databases, a served process, timing and JSON output.

Benchmarks are run by hand (never by the test suite). Every script prints one JSON line per figure
on stdout, with the bare baseline measured in the same run, so a figure is read as a ratio to what
the machine can do without our code in the way, not as an absolute that depends on the host.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ADMIN_KEY = "bench-admin-key"
# Services we never want a benchmark to call: every one of them stays offline.
_OFFLINE = ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "BILLING_SCHEDULER", "SMTP_URL")
# The mail outbox (#17) is filled by the cycle's transactions as usual, but not sent after a run:
# rendering and writing each proforma's PDF mail is the outbox worker's cost, not the cycle's, and a
# benchmark must not leave thousands of .eml files in ./mail (MAIL_DIR is a throwaway directory).
_MAIL = {"MAIL_SEND_AFTER_RUN": "0", "MAIL_DIR": os.path.join(tempfile.gettempdir(), "billing-bench-mail")}


def offline_env() -> None:
    """Make this process behave like the served one: no outside services, a known admin key."""
    for name in _OFFLINE:
        os.environ.pop(name, None)
    os.environ.update(_MAIL)
    os.environ["BILLING_ADMIN_KEY"] = ADMIN_KEY


# --------------------------------------------------------------------------- arguments, output


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes, for a run of a minute or two")
    p.add_argument("--engines", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    return p


def engines(args) -> list[str]:
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(names) - {"sqlite", "postgresql"}
    if unknown:
        raise SystemExit(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return names


def emit(bench: str, figure: str, value: float, unit: str, *, baseline: float | None = None,
         goal: str | None = None, passed: bool | None = None, **extra: Any) -> dict:
    """One figure as one JSON line. `ratio` is value / baseline (both in the same unit, higher is
    better unless the unit says otherwise)."""
    row: dict[str, Any] = {"bench": bench, "figure": figure, "value": _round(value), "unit": unit,
                           "baseline": _round(baseline) if baseline is not None else None,
                           "ratio": _round(value / baseline) if baseline else None,
                           "goal": goal, "pass": passed}
    row.update({k: _round(v) if isinstance(v, float) else v for k, v in extra.items()})
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def _round(x: float | None) -> float | None:
    if x is None:
        return None
    return float(f"{x:.4g}") if abs(x) < 1000 else round(x, 1)


def note(message: str) -> None:
    """Progress for the human, on stderr so stdout stays JSON lines."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed() -> Iterator[dict]:
    """`with timed() as t: ...` then t["s"] holds the wall seconds and t["cpu"] this process's CPU
    seconds (the honest figure for single-threaded work on a shared, busy machine)."""
    box: dict = {}
    start, cpu = time.perf_counter(), time.process_time()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start
        box["cpu"] = time.process_time() - cpu


def peak_rss_mib() -> float:
    """This process's peak resident set. VmHWM belongs to the address space made by exec, whereas
    Linux carries ru_maxrss over fork+exec, so a child would report its parent's peak."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "loadavg_at_start": os.getloadavg()}


# --------------------------------------------------------------------------- databases


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


class Databases:
    """Fresh empty databases on demand: SQLite files in a temporary directory and, when asked for,
    databases on one throwaway PostgreSQL server (tests/pg.py; fsync off, as in the test suite)."""

    def __init__(self) -> None:
        # A SIGTERM (report.py stopped, a kill by pid) unwinds like Ctrl-C, so the served process,
        # the PostgreSQL server and the temporary files are still cleaned up.
        signal.signal(signal.SIGTERM, _raise_exit)
        self.tmp = tempfile.mkdtemp(prefix="billing-bench-")
        self.pg = None
        self._admin_url: str | None = None
        self._count = 0

    def url(self, engine: str, name: str) -> str:
        self._count += 1
        name = f"{name}_{self._count}"
        if engine == "sqlite":
            return f"sqlite:///{os.path.join(self.tmp, name + '.db')}"
        if self.pg is None:
            from tests.pg import ThrowawayPostgres

            self.pg = ThrowawayPostgres()
            self._admin_url = self.pg.start()
            note(f"throwaway PostgreSQL on port {self.pg.port}")
        from sqlalchemy import create_engine, text

        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.pg.url(name)

    def close(self) -> None:
        try:
            if self.pg is not None:
                self.pg.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Databases":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fresh_schema(url: str):
    """(engine, session factory) on a database migrated to the latest revision."""
    from billing.db.session import create_schema, make_engine, make_session_factory

    engine = make_engine(url)
    create_schema(engine)
    return engine, make_session_factory(engine)


# --------------------------------------------------------------------------- the served process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(database_url: str, *, timeout_s: float = 60.0) -> Iterator[str]:
    """`billing serve` as a subprocess on a free loopback port; yields its base URL once /health
    answers. The process is ours: it is stopped by its own pid at the end."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _OFFLINE}
    env.update(_MAIL)
    # PYTHONPATH: the code of this checkout is served, not whatever the environment installed.
    env.update(DATABASE_URL=database_url, BILLING_ADMIN_KEY=ADMIN_KEY, PYTHONUNBUFFERED="1", PYTHONPATH=ROOT)
    log = tempfile.NamedTemporaryFile(prefix="billing-serve-", suffix=".log", delete=False)
    billing = os.path.join(os.path.dirname(sys.executable), "billing")
    cmd = [billing] if os.path.exists(billing) else [sys.executable, os.path.join(ROOT, "service.py")]
    proc = subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"billing serve exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"billing serve did not answer /health in {timeout_s}s; see {log.name}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(log.name)


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


# --------------------------------------------------------------------------- events


BASE_INSTANT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
FIRST_DAY = BASE_INSTANT.date()
PLAN = {"code": "bench", "name": "Bench", "currency": "HUF", "monthly_seat_price": "9990",
        "discount_percent": "0", "prices_include_vat": True}


def at(offset_s: float = 0.0) -> str:
    return (BASE_INSTANT + timedelta(seconds=offset_s)).isoformat()


def account_created(account_id: str, *, trial_days: int = 14, offset_s: float = 0.0) -> dict:
    return {"id": f"{account_id}-created", "type": "account.created", "account_id": account_id,
            "occurred_at": at(offset_s),
            "data": {"name": f"{account_id} Kft.", "email": f"billing@{account_id}.example", "country": "HU",
                     "currency": "HUF", "plan": PLAN["code"], "locale": "hu", "tax_number": "12345676-2-41",
                     "trial_days": trial_days,
                     "address": {"postal_code": "1111", "city": "Budapest", "street": "Fő utca 1."}}}


def seat_event(account_id: str, user: int, *, offset_s: float = 60.0, tag: str = "s") -> dict:
    return {"id": f"{account_id}-{tag}{user}", "type": "seat.activated", "account_id": account_id,
            "occurred_at": at(offset_s), "data": {"user_id": f"u{user}"}}


def plan_in():
    from schemas.api import PlanIn

    return PlanIn(**PLAN)


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
