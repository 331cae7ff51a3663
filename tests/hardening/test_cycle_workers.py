"""The cycle prepares each account's step outside the write lock and writes it only if nothing it
was computed from has changed; several worker processes give the same ledger as one."""
from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import billing.cycle.run as cycle
import billing.cycle.prepare as prepare
from billing.accounts import account_from_event
from billing.db import models as m
from billing.events import ingest
from tests.e2e.conftest import Api
from tests.hardening.conftest import ledger_invariants
from tests.hardening.test_faults import UNTIL, _post_story, assert_gapless, assert_one_charge_per_account_day


@pytest.fixture
def app_on(api):
    """The reference story's events posted (tests/e2e `api` fixture: SQLite and PostgreSQL)."""
    _post_story(api)
    return api.client.app


def _without_numbers(factory) -> dict:
    """The ledger and documents, leaving out what depends on processing order (document numbers)."""
    with factory() as session:
        entries = sorted((e.account_id or "", e.day, e.kind, e.amount)
                         for e in session.scalars(select(m.JournalEntry)))
        documents = sorted((d.kind, d.account_id, d.issue_date, d.gross, d.net, d.vat)
                           for d in session.scalars(select(m.DocumentRow)))
        states = {s.account_id: (s.through, s.status, s.state["balance"])
                  for s in session.scalars(select(m.AccountStateRow))}
    return {"entries": entries, "documents": documents, "states": states}


@pytest.mark.parametrize("threads", [1, 2], ids=["forked", "spawned"])
def test_two_worker_processes_give_the_ledger_of_one(app_on, db_url, tmp_path, monkeypatch, threads):
    from service import create_app

    serial = create_app(f"sqlite:///{tmp_path / 'serial.db'}")
    with TestClient(serial) as client:
        _post_story(Api(client))
    cycle.run_cycle(serial.state.factory, UNTIL)
    expected = _without_numbers(serial.state.factory)
    serial.state.engine.dispose()

    monkeypatch.setenv("BILLING_CYCLE_WORKERS", "2")
    monkeypatch.setenv("BILLING_CYCLE_CHUNK", "1")
    monkeypatch.setattr(cycle, "PARALLEL_MIN_CHUNKS", 1)
    monkeypatch.setattr(cycle.threading, "active_count", lambda: threads)  # fork only without threads
    factory = app_on.state.factory
    assert cycle.worker_count(factory, 3) == 2
    in_workers = []
    real_run_in_workers = cycle._run_in_workers
    monkeypatch.setattr(cycle, "_run_in_workers",
                        lambda *args: in_workers.append(args[3]) or real_run_in_workers(*args))
    assert cycle.run_cycle(factory, date(2026, 3, 31))["accounts_processed"] == 3
    assert cycle.run_cycle(factory, UNTIL)["accounts_processed"] == 3
    assert in_workers == [2, 2]
    assert _without_numbers(factory) == expected
    with factory() as session:
        assert_gapless(list(session.scalars(select(m.DocumentRow.number))))
    assert_one_charge_per_account_day(factory)
    ledger_invariants(factory)


def _charge(factory, account: str, day: date) -> m.JournalEntry:
    with factory() as session:
        return session.scalars(select(m.JournalEntry).where(
            m.JournalEntry.account_id == account, m.JournalEntry.day == day, m.JournalEntry.kind == "charge")).one()


def test_an_event_arriving_after_the_step_was_prepared_is_charged_under_the_lock(app_on, monkeypatch):
    factory = app_on.state.factory
    cycle.run_cycle(factory, date(2026, 4, 1))
    real_prepare = prepare.prepare

    def prepare_then_event_arrives(*args, **kwargs):
        steps = real_prepare(*args, **kwargs)
        assert steps["cora"][1] is not None, "cora's ordinary day is prepared"
        with factory.begin() as session:
            ingest(session, [{"id": "late-seat", "type": "seat.activated", "account_id": "cora",
                              "occurred_at": "2026-04-02T09:00:00+02:00", "data": {"user_id": "u4"}}],
                   account_from_event)
        return steps

    monkeypatch.setattr(prepare, "prepare", prepare_then_event_arrives)
    cycle.run_cycle(factory, date(2026, 4, 2))
    assert _charge(factory, "cora", date(2026, 4, 2)).details["seats"] == 4
    with factory() as session:
        late = session.scalars(select(m.Event.seq).where(m.Event.id == "late-seat")).one()
        assert session.get(m.PendingEvent, late) is None, "the late event is still queued"
    ledger_invariants(factory)


def test_a_step_another_worker_wrote_first_is_not_written_again(app_on, monkeypatch):
    factory = app_on.state.factory
    cycle.run_cycle(factory, date(2026, 4, 1))
    real_prepare = prepare.prepare
    raced = []

    def prepare_while_another_worker_finishes(factory_, ids, until, prices):
        steps = real_prepare(factory_, ids, until, prices)
        if not raced:
            raced.append(ids)
            monkeypatch.setattr(prepare, "prepare", real_prepare)
            assert cycle.process_chunk(factory_, ids, until, prices) == len(ids)  # the other worker
        return steps

    monkeypatch.setattr(prepare, "prepare", prepare_while_another_worker_finishes)
    assert cycle.run_cycle(factory, date(2026, 4, 2))["accounts_processed"] == 0
    assert raced
    assert_one_charge_per_account_day(factory)
    assert _charge(factory, "cora", date(2026, 4, 2)).details["seats"] == 3
    ledger_invariants(factory)


def test_a_proforma_prepared_outside_the_lock_is_numbered_and_hashed_as_written(app_on, monkeypatch):
    from invoices.documents import json_hash
    from invoices.taxnumbers import DOCUMENT_NUMBER

    factory = app_on.state.factory
    numbered = []
    real_store = prepare.store_prepared

    def spy(session, ctx, step):
        numbered.extend(p for p, _, _ in step.placeholders)
        return real_store(session, ctx, step)

    monkeypatch.setattr(prepare, "store_prepared", spy)
    cycle.run_cycle(factory, date(2026, 3, 16))  # acme's trial ends: its first proforma
    assert len(numbered) == 1, "the proforma was prepared outside the lock"
    with factory() as session:
        documents = session.scalars(select(m.DocumentRow)).all()
        proformas = [d for d in documents if d.kind == "proforma"]
        assert proformas
        for row in proformas:
            assert DOCUMENT_NUMBER.parse(row.number)[0] == "proforma"
            assert row.body["number"] == row.number
            assert row.content_hash == json_hash(row.body)
            assert "@@" not in repr(row.body) + repr(row.explain)
        notices = set(session.scalars(select(m.Notice.event_id)))
        assert {f"document.issued:{d.number}" for d in documents} <= notices
        states = {s.account_id: s.state for s in session.scalars(select(m.AccountStateRow))}
    in_states = {p["number"] for state in states.values() for p in state["proformas"]}
    assert in_states == {d.number for d in proformas}
    with factory() as session:
        assert_gapless(list(session.scalars(select(m.DocumentRow.number))))
