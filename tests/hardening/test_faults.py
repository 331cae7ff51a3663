"""Faults: the daily cycle stopped at each step, and a PostgreSQL restart while the app serves."""
from __future__ import annotations

import re
import threading
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

import billing.cycle.run as cycle
import billing.cycle.context as cycle_context
import billing.cycle.prepare as cycle_prepare
import billing.cycle.write as cycle_writes
from billing.db import models as m
from tests.e2e.conftest import ADMIN, Api
from tests.hardening.conftest import ledger_invariants

UNTIL = date(2026, 4, 30)


def _post_story(api: Api) -> None:
    """Three accounts, every event posted up front; one cycle run then does it all."""
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.pay("acme", "2026-03-18T09:00:00+01:00", "40000")
    api.event("account.terminated", "acme", "2026-04-16T12:00:00+02:00", by="customer")
    api.account("bolt", at="2026-03-05T10:00:00+01:00")
    api.seats("bolt", "2026-03-05T10:05:00+01:00", "u1")
    api.pay("bolt", "2026-03-20T09:00:00+01:00", "10000")
    api.account("cora", at="2026-03-10T10:00:00+01:00")
    api.seats("cora", "2026-03-10T10:05:00+01:00", "u1", "u2", "u3")


def _figures(factory) -> dict:
    with factory() as session:
        entries = [(e.account_id, e.day, e.kind, e.amount, e.document_number)
                   for e in session.scalars(select(m.JournalEntry).order_by(m.JournalEntry.id))]
        documents = [(d.number, d.kind, d.account_id, d.issue_date, d.gross, d.content_hash)
                     for d in session.scalars(select(m.DocumentRow).order_by(m.DocumentRow.number))]
    return {"entries": sorted(entries, key=lambda e: (e[0] or "", e[1], e[2], e[3])), "documents": documents}


def assert_gapless(numbers: list[str]) -> None:
    series: dict[tuple[str, str], list[int]] = {}
    assert numbers
    for number in numbers:
        prefix, year, value = re.fullmatch(r"([A-Z]+)-(\d{4})-(\d+)", number).groups()
        series.setdefault((prefix, year), []).append(int(value))
    for key, values in series.items():
        assert sorted(values) == list(range(1, len(values) + 1)), (key, sorted(values))


def assert_one_charge_per_account_day(factory) -> None:
    with factory() as session:
        rows = session.execute(select(m.JournalEntry.account_id, m.JournalEntry.day).where(
            m.JournalEntry.kind == "charge")).all()
    assert len(rows) == len(set(rows)), "a day charged twice"


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    from service import create_app

    apps = []

    def make(url=None):
        app = create_app(url or f"sqlite:///{tmp_path / f'f{len(apps)}.db'}")
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    import os

    os.environ.setdefault("BILLING_ADMIN_KEY", ADMIN)
    from service import create_app

    app = create_app(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")
    with TestClient(app) as client:
        api = Api(client)
        api.headers = {"Authorization": f"Bearer {os.environ['BILLING_ADMIN_KEY']}"}
        _post_story(api)
    cycle.run_cycle(app.state.factory, UNTIL)
    figures = _figures(app.state.factory)
    app.state.engine.dispose()
    return figures


class Once:
    """Wraps a function so that its n-th call raises, once."""

    def __init__(self, real, nth: int) -> None:
        self.real, self.nth, self.calls, self.fired = real, nth, 0, False

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.nth and not self.fired:
            self.fired = True
            raise RuntimeError(f"injected fault in {self.real.__name__} (call {self.nth})")
        return self.real(*args, **kwargs)


STEPS = [("persist_outcome", 1), ("persist_outcome", 2), ("add_posting", 1), ("add_posting", 7),
         ("issue_document", 1), ("issue_document", 3), ("allocate_number", 1), ("allocate_number", 2),
         ("flush_postings", 1),
         ("add_refund", 1), ("add_state_notice", 2), ("_queue_for_nav", 1), ("flush_rows", 1),
         ("save_states", 1), ("prepare", 1), ("store_prepared", 1), ("_process_locked", 1), ("posting_rows", 5)]


# Where each step is looked up when called (the rest are in billing.cycle.write).
HOMES = {"allocate_number": cycle_context, "prepare": cycle_prepare, "store_prepared": cycle_prepare,
         "_process_locked": cycle}


@pytest.mark.parametrize("target, nth", STEPS, ids=[f"{t}-{n}" for t, n in STEPS])
def test_a_cycle_stopped_at_any_step_reruns_exactly_once(make_app, reference, monkeypatch, target, nth):
    app = make_app()
    with TestClient(app) as client:
        _post_story(Api(client))
    factory = app.state.factory
    # allocate_number is called through DbContext.allocate_number (once per series and chunk: the
    # rest are counted under the series row lock), which looks the name up in billing.cycle.context;
    # the others are module functions, looked up in their module at each call.
    module = HOMES.get(target, cycle_writes)
    fault = Once(getattr(module, target), nth)
    monkeypatch.setattr(module, target, fault)
    with pytest.raises(RuntimeError, match="injected fault"):
        cycle.run_cycle(factory, UNTIL)
    assert fault.fired
    cycle.run_cycle(factory, UNTIL)  # the rerun (the fault does not fire again)
    cycle.run_cycle(factory, UNTIL)  # and a rerun after success finds nothing to do
    figures = _figures(factory)
    assert figures == reference
    assert_gapless([number for number, *_ in figures["documents"]])
    assert_one_charge_per_account_day(factory)
    ledger_invariants(factory)


def test_the_reference_story_issues_every_kind(reference):
    kinds = {kind for _, kind, *_ in reference["documents"]}
    assert {"proforma", "invoice", "credit_note"} <= kinds, kinds
    assert_gapless([number for number, *_ in reference["documents"]])


# ---------------------------------------------------------------------------------------------
# PostgreSQL restart while the app serves.

def _dedicated_database(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def test_a_postgres_restart_costs_clean_503s_never_a_500(postgres_server, make_app):
    server, admin_url = postgres_server
    if server is None:
        pytest.skip("TEST_POSTGRES_URL points at a server this test may not restart")
    app = make_app(_dedicated_database(admin_url, f"restart_{int(time.time())}"))
    statuses: list[int] = []
    bad: list[str] = []
    stop = threading.Event()
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client)
        _post_story(api)
        api.run("2026-03-20")

        def hammer(worker: int) -> None:
            local = TestClient(app, raise_server_exceptions=False)
            n = 0
            while not stop.is_set():
                n += 1
                if n % 3 == 0:
                    body = {"id": f"r-{worker}-{n}", "type": "seat.activated", "account_id": "bolt",
                            "occurred_at": "2026-03-25T10:00:00+01:00", "data": {"user_id": f"w{worker}-{n}"}}
                    response = local.post("/v1/events", json=body, headers=api.headers)
                else:
                    response = local.get("/v1/accounts/acme/ledger", headers=api.headers)
                statuses.append(response.status_code)
                if response.status_code not in (200, 201, 503):
                    bad.append(f"{response.status_code} {response.text[:300]}")
                elif response.status_code == 503 and response.json().get("error") != "unavailable":
                    bad.append(f"503 without the error code: {response.text[:300]}")
                time.sleep(0.005)

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        server.restart()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(30)
        assert not bad, bad[:5]
        assert statuses.count(200) + statuses.count(201) > 0, statuses
        # After the restart the app serves again without being restarted itself.
        for _ in range(3):
            assert api.get("/v1/accounts/acme").status_code == 200
        api.run("2026-04-30")
        ledger_invariants(app.state.factory)
        assert_one_charge_per_account_day(app.state.factory)
        with app.state.factory() as session:
            numbers = list(session.scalars(select(m.DocumentRow.number)))
        assert_gapless(numbers)
