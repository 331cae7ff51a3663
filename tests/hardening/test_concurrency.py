"""Concurrency on PostgreSQL: many writers on the same accounts, and two cycle runs at once."""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from billing.cycle.run import run_cycle
from billing.db import models as m
from tests.conftest import _fresh_postgres_database
from tests.e2e.conftest import ADMIN, Api
from tests.hardening.conftest import ledger_invariants
from tests.hardening.test_faults import assert_gapless, assert_one_charge_per_account_day

ACCOUNTS = [f"acc{i}" for i in range(6)]
THREADS = 8
EVENTS_PER_THREAD = 30


@pytest.fixture
def pg_app(postgres_server, monkeypatch):
    _, admin_url = postgres_server
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    app = create_app(_fresh_postgres_database(admin_url))
    yield app
    app.state.engine.dispose()


def _event(worker: int, n: int, rnd: random.Random) -> dict:
    account = rnd.choice(ACCOUNTS)
    day = rnd.randint(3, 28)
    at = f"2026-03-{day:02d}T{rnd.randint(8, 18):02d}:00:00+01:00"
    if rnd.random() < 0.3:
        return {"id": f"pay-{worker}-{n}", "type": "payment.received", "account_id": account, "occurred_at": at,
                "data": {"amount": str(rnd.choice([1000, 5000, 12000])), "currency": "HUF",
                         "method": "bank_transfer", "reference": None, "external_id": f"x-{worker}-{n}"}}
    kind = rnd.choice(["seat.activated", "seat.activated", "seat.deactivated"])
    return {"id": f"seat-{worker}-{n}", "type": kind, "account_id": account, "occurred_at": at,
            "data": {"user_id": f"u{rnd.randint(1, 5)}"}}


def _two_runs_at_once(factory, until: date) -> list:
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        barrier.wait()
        try:
            results.append(run_cycle(factory, until))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_many_writers_and_two_cycles_at_once(pg_app):
    app, factory = pg_app, pg_app.state.factory
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with TestClient(app) as client:
        api = Api(client)
        api.plan(price="9990")
        for account in ACCOUNTS:
            api.account(account, at="2026-03-02T08:00:00+01:00")
    accepted: list[str] = []
    bad: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS + 2)

    def writer(worker: int) -> None:
        rnd = random.Random(worker)
        local = TestClient(app, raise_server_exceptions=False)
        start.wait()
        for n in range(EVENTS_PER_THREAD):
            body = _event(worker, n, rnd)
            for attempt in range(2):  # the second post of the same id is a duplicate, never a second event
                response = local.post("/v1/events", json=body, headers=headers)
                if response.status_code not in (200, 201):
                    bad.append(f"{response.status_code} {response.text[:200]}")
                elif attempt == 0:
                    with lock:
                        accepted.append(body["id"])
                elif response.json()["status"] != "duplicate":
                    bad.append(f"second post of {body['id']}: {response.text[:200]}")

    def cycle_runner() -> None:
        start.wait()
        run_cycle(factory, date(2026, 3, 10))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    threads += [threading.Thread(target=cycle_runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not bad, bad[:5]
    assert len(accepted) == THREADS * EVENTS_PER_THREAD

    _two_runs_at_once(factory, date(2026, 3, 31))
    _two_runs_at_once(factory, date(2026, 4, 30))

    with factory() as session:
        stored = list(session.scalars(select(m.Event).where(m.Event.type != "account.created")))
        queued = set(session.scalars(select(m.PendingEvent.seq)))
        payments = [e for e in session.scalars(select(m.JournalEntry).where(m.JournalEntry.kind == "payment"))]
        rejected = {r.event_id for r in session.scalars(select(m.Rejection))}
        numbers = list(session.scalars(select(m.DocumentRow.number)))
    assert any(n.startswith("INV") for n in numbers) and any(n.startswith("PRO") for n in numbers), numbers
    ids = Counter(e.id for e in stored)
    assert set(ids) == set(accepted) and max(ids.values()) == 1, "an event lost or stored twice"
    assert not queued, "an event left unapplied after the run through its day"
    paid = Counter(e.event_id for e in payments)
    expected = {e.id for e in stored if e.type == "payment.received"} - rejected
    assert set(paid) == expected and max(paid.values()) == 1, "a payment lost or booked twice"
    assert_one_charge_per_account_day(factory)
    assert_gapless(numbers)
    ledger_invariants(factory)
