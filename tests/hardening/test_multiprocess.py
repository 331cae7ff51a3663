"""Several `billing serve` processes against one PostgreSQL behave as one service (issue 9)."""
from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _fresh_postgres_database

ADMIN = "multi-process-admin"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def servers(postgres_server, tmp_path):
    _, admin_url = postgres_server
    url = _fresh_postgres_database(admin_url)
    env = {**os.environ, "DATABASE_URL": url, "BILLING_ADMIN_KEY": ADMIN, "BILLING_WORKERS": "0"}
    procs, bases = [], []
    for _ in range(3):
        port = _port()
        procs.append(subprocess.Popen([sys.executable, "-c", "import service; service.main()", "serve",
                                       "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                      stderr=open(tmp_path / f"serve-{port}.log", "w")))
        bases.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    for base in bases:
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "a billing serve process did not start"
            time.sleep(0.2)
    yield bases, url
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_three_processes_one_ledger(servers):
    bases, url = servers
    post = lambda base, path, body: httpx.post(f"{base}{path}", json=body, headers=AUTH, timeout=60)
    assert post(bases[0], "/v1/plans", {"code": "std", "name": "Std", "currency": "HUF",
                                        "monthly_seat_price": "3100"}).status_code == 201
    accounts = [f"acct-{n}" for n in range(6)]
    for n, account in enumerate(accounts):
        created = {"id": f"c-{account}", "type": "account.created", "account_id": account,
                   "occurred_at": "2026-03-01T08:00:00+01:00",
                   "data": {"name": f"{account} Kft.", "country": "HU", "currency": "HUF", "plan": "std",
                            "tax_number": "12345676-2-41", "trial_days": 0}}
        assert post(bases[n % 3], "/v1/events", created).status_code == 201
    events = [{"id": f"s-{a}-{u}", "type": "seat.activated", "account_id": a,
               "occurred_at": "2026-03-01T09:00:00+01:00", "data": {"user_id": f"u{u}"}}
              for a in accounts for u in range(3)]
    events += [{"id": f"p-{a}", "type": "payment.received", "account_id": a, "occurred_at": "2026-03-03T09:00:00+01:00",
                "data": {"amount": "9300", "currency": "HUF", "method": "bank_transfer"}} for a in accounts]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        # every event is sent twice, to different processes: stored once, the rest are duplicates
        codes = list(pool.map(lambda i: post(bases[i % 3], "/v1/events", events[i // 2]).status_code,
                              range(2 * len(events))))
        assert set(codes) <= {200, 201}
        runs = list(pool.map(lambda base: post(base, "/v1/clock/run", {"until": "2026-03-31"}), bases))
    assert all(r.status_code == 200 for r in runs), [r.text for r in runs]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == len(accounts) + len(events)
        days = Counter(conn.execute(text("SELECT account_id, day FROM journal_entries WHERE kind = 'charge'")).all())
        assert set(days.values()) == {1} and len(days) == len(accounts) * 31
        # 3 seats × 3,100 for the whole of March, per account
        totals = conn.execute(text("SELECT account_id, sum(amount) FROM journal_entries WHERE kind = 'charge' "
                                   "GROUP BY account_id")).all()
        assert {int(total) for _, total in totals} == {-9300}
        for series in ("PRO", "INV"):
            numbers = sorted(int(n.rsplit("-", 1)[1]) for (n,) in conn.execute(
                text("SELECT number FROM documents WHERE number LIKE :p"), {"p": f"{series}-%"}))
            assert numbers == list(range(1, len(numbers) + 1))
        unbalanced = conn.execute(text("SELECT entry_id FROM postings GROUP BY entry_id HAVING sum(amount) <> 0")).all()
        assert unbalanced == []
    engine.dispose()
