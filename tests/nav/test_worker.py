"""The outbox and worker on SQLite and PostgreSQL, driving the real client against the simulator."""
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from billing.db.base import Base, utcnow
from nav_reporting import worker
from nav_reporting.client import NavClient, NavConfig, NavConfigError
from nav_reporting.models import NavOutbox, NavTransaction
from nav_reporting.outbox import OutboxError, aborted, enqueue, nav_status
from tests.fakes.nav_simulator import NavSimulator
from tests.nav.documents import credit_note, domestic_invoice, eu_reverse_charge_invoice, non_eu_invoice

FAST = worker.WorkerPolicy(base_delay=timedelta(seconds=30), recovery_delay=timedelta(minutes=5),
                           poll_interval_s=0.01)


class Crash(BaseException):
    """A process dying mid-flight: not an Exception, so nothing in the worker catches it."""


class CrashingClient:
    """Wraps the real client; dies before or after the manageInvoice HTTP call, once."""

    def __init__(self, client, when):
        self._client, self.when = client, when

    def manage_invoice(self, operations, *, request_id=None):
        if self.when == "before":
            raise Crash()
        self._client.manage_invoice(operations, request_id=request_id)
        raise Crash()  # NAV has it; we die before recording the transaction id

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def sim():
    with NavSimulator(timeout_sleep_s=0.8) as simulator:
        yield simulator


@pytest.fixture
def client(sim):
    c = NavClient(replace(NavConfig.from_env(sim.env()), timeout_s=0.4))
    yield c
    c.close()


@pytest.fixture
def sessions(db_url):
    engine = create_engine(db_url)
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def _enqueue(sessions, *docs):
    with sessions() as s, s.begin():
        for doc in docs:
            enqueue(s, doc)


def _status(sessions, number):
    with sessions() as s:
        return nav_status(s, number)


def _row(sessions, number):
    with sessions() as s:
        return s.scalar(select(NavOutbox).where(NavOutbox.document_number == number))


def test_enqueue_is_in_the_callers_transaction(sessions):
    with sessions() as s:
        s.begin()
        enqueue(s, domestic_invoice())
        s.rollback()  # the document was not issued after all
    assert _status(sessions, "INV-2024-0001") is None
    _enqueue(sessions, domestic_invoice())
    assert _status(sessions, "INV-2024-0001") == "QUEUED"
    with pytest.raises(IntegrityError):
        _enqueue(sessions, domestic_invoice())  # document_number is unique


def test_credit_note_needs_its_base_in_the_outbox(sessions):
    with pytest.raises(OutboxError):
        _enqueue(sessions, credit_note())


def test_credit_note_line_reference_continues_the_chain(sessions):
    second = replace(credit_note("CN-2"), modification_index=2)
    _enqueue(sessions, eu_reverse_charge_invoice("INV-3L"), credit_note(base="INV-3L"),
             replace(second, references=("INV-3L",)))
    # base has 3 lines: first credit note's line is 4; the second follows the first's one line: 5.
    assert "<lineNumberReference>4<" in _row(sessions, "CN-2024-0001").invoice_xml
    assert "<lineNumberReference>5<" in _row(sessions, "CN-2").invoice_xml
    assert _row(sessions, "CN-2").operation == "MODIFY"


def test_happy_path_every_kind_done(sessions, client, sim):
    _enqueue(sessions, domestic_invoice(), eu_reverse_charge_invoice(), non_eu_invoice())
    report = worker.run_until_settled(sessions, client, 5, policy=FAST)
    assert (report.done, report.aborted, report.pending) == (3, 0, 0)
    assert sim.manage_invoice_count() == 1  # one batch
    row = _row(sessions, "INV-2024-0002")
    assert (row.status, row.op_index, row.attempts) == ("DONE", 2, 1)
    with sessions() as s:
        assert s.scalar(select(NavTransaction.state)) == "SENT"


def test_credit_note_waits_for_base_done(sessions, client, sim):
    sim.polls_until_final = 1  # the first status query answers PROCESSING
    _enqueue(sessions, domestic_invoice(), credit_note())
    now = utcnow()
    assert worker.submit_pending(sessions, client, now, policy=FAST) == 1
    assert sim.numbers_sent() == ["INV-2024-0001"]
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == "PROCESSING"
    assert worker.submit_pending(sessions, client, now, policy=FAST) == 0  # base not DONE yet
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == "DONE"
    assert worker.submit_pending(sessions, client, now, policy=FAST) == 1
    worker.poll(sessions, client)
    worker.poll(sessions, client)
    assert sim.numbers_sent() == ["INV-2024-0001", "CN-2024-0001"]
    assert _status(sessions, "CN-2024-0001") == "DONE"


def test_aborted_is_recorded_with_reasons_and_blocks_its_credit_note(sessions, client, sim):
    _enqueue(sessions, domestic_invoice(), credit_note())
    sim.fail_next("manageInvoice", "abort")
    report = worker.run_until_settled(sessions, client, 2, policy=FAST)
    assert (report.done, report.aborted, report.blocked, report.pending) == (0, 1, 1, 0)
    with sessions() as s:
        (rejected,) = aborted(s)
    assert rejected.document_number == "INV-2024-0001"
    assert rejected.messages[0]["code"] == "SCHEMA_VIOLATION"
    assert "SCHEMA_VIOLATION" in rejected.last_error
    assert _status(sessions, "CN-2024-0001") == "QUEUED"


def test_500_is_retried_with_exponential_backoff(sessions, client, sim):
    _enqueue(sessions, domestic_invoice())
    sim.fail_next("manageInvoice", "500", count=2)
    t0 = utcnow()
    worker.submit_pending(sessions, client, t0, policy=FAST)
    row = _row(sessions, "INV-2024-0001")
    assert (row.status, row.attempts, row.next_attempt_at) == ("QUEUED", 1, t0 + timedelta(seconds=30))
    assert "OPERATION_FAILED" in row.last_error
    assert worker.submit_pending(sessions, client, t0 + timedelta(seconds=29), policy=FAST) == 0  # not due
    worker.submit_pending(sessions, client, t0 + timedelta(seconds=30), policy=FAST)
    row = _row(sessions, "INV-2024-0001")
    # second failure: 30 s × 2^(2-1) = 60 s after the attempt at t0 + 30 s
    assert (row.attempts, row.next_attempt_at) == (2, t0 + timedelta(seconds=90))
    assert worker.submit_pending(sessions, client, t0 + timedelta(seconds=90), policy=FAST) == 1
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == "DONE"
    assert sim.numbers_sent() == ["INV-2024-0001"]
    with sessions() as s:
        assert sorted(s.scalars(select(NavTransaction.state))) == ["FAILED", "FAILED", "SENT"]


def test_signature_error_stops_without_retry(sessions, client, sim):
    _enqueue(sessions, domestic_invoice())
    sim.fail_next("manageInvoice", "signature")
    with pytest.raises(NavConfigError):
        worker.run_until_settled(sessions, client, 5, policy=FAST)
    row = _row(sessions, "INV-2024-0001")
    assert (row.status, row.attempts) == ("QUEUED", 1)
    assert "INVALID_REQUEST_SIGNATURE" in row.last_error
    assert sim.manage_invoice_count() == 0


@pytest.mark.parametrize("mode", ["lost_response", "timeout"])
def test_lost_response_is_recovered_without_a_duplicate(sessions, client, sim, mode):
    _enqueue(sessions, domestic_invoice(), eu_reverse_charge_invoice())
    sim.fail_next("manageInvoice", mode)
    t0 = utcnow()
    assert worker.submit_pending(sessions, client, t0, policy=FAST) == 0
    assert _status(sessions, "INV-2024-0001") == "SENDING"
    # Within the 5-minute wait nothing is resent and nothing is looked up.
    worker.submit_pending(sessions, client, t0 + timedelta(minutes=4), policy=FAST)
    assert sim.manage_invoice_count() == 1
    assert not any(op == "queryTransactionList" for op, _ in sim.requests)
    worker.submit_pending(sessions, client, t0 + timedelta(minutes=5), policy=FAST)
    assert any(op == "queryTransactionList" for op, _ in sim.requests)
    (nav_tid,) = sim.transactions
    row = _row(sessions, "INV-2024-0002")
    assert (row.status, row.transaction_id, row.op_index) == ("SENT", nav_tid, 2)
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == _status(sessions, "INV-2024-0002") == "DONE"
    assert sim.numbers_sent() == ["INV-2024-0001", "INV-2024-0002"]  # never twice


def test_request_that_never_arrived_is_resent_after_lookup(sessions, client, sim):
    _enqueue(sessions, domestic_invoice())
    sim.fail_next("manageInvoice", "drop")  # connection closed before NAV processed anything
    t0 = utcnow()
    worker.submit_pending(sessions, client, t0, policy=FAST)
    assert sim.manage_invoice_count() == 0 and _status(sessions, "INV-2024-0001") == "SENDING"
    worker.submit_pending(sessions, client, t0 + timedelta(minutes=5), policy=FAST)
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == "DONE"
    assert sim.numbers_sent() == ["INV-2024-0001"]
    with sessions() as s:
        assert sorted(s.scalars(select(NavTransaction.state))) == ["NOT_FOUND", "SENT"]


@pytest.mark.parametrize("when,nav_copies", [("before", 0), ("after", 1)])
def test_crash_around_the_http_call_recovers_exactly_once(sessions, client, sim, when, nav_copies):
    _enqueue(sessions, domestic_invoice())
    t0 = utcnow()
    with pytest.raises(Crash):
        worker.submit_pending(sessions, CrashingClient(client, when), t0, policy=FAST)
    assert sim.manage_invoice_count() == nav_copies
    row = _row(sessions, "INV-2024-0001")
    assert row.status == "SENDING" and row.request_id  # committed before the call
    # A restarted worker, after the recovery wait:
    worker.submit_pending(sessions, client, t0 + timedelta(minutes=5), policy=FAST)
    worker.poll(sessions, client)
    assert _status(sessions, "INV-2024-0001") == "DONE"
    assert sim.numbers_sent() == ["INV-2024-0001"]


def test_recovery_pages_through_other_transactions(sessions, client, sim):
    # Three earlier transactions we know about fill pages 1-2 (the simulator pages by 2).
    for n in ("A-1", "A-2", "A-3"):
        _enqueue(sessions, domestic_invoice(n))
        worker.submit_pending(sessions, client, utcnow(), policy=FAST)
    _enqueue(sessions, domestic_invoice("B-1"))
    sim.fail_next("manageInvoice", "lost_response")
    t0 = utcnow()
    worker.submit_pending(sessions, client, t0, policy=FAST)
    worker.submit_pending(sessions, client, t0 + timedelta(minutes=5), policy=FAST)
    assert _row(sessions, "B-1").status == "SENT"
    assert sim.numbers_sent().count("B-1") == 1


def test_request_annulment_of_a_done_report(sessions, client, sim):
    _enqueue(sessions, domestic_invoice())
    with pytest.raises(OutboxError):
        worker.request_annulment(sessions, client, "INV-2024-0001", "ERRATIC_DATA", "wrong address")
    worker.run_until_settled(sessions, client, 5, policy=FAST)
    tid = worker.request_annulment(sessions, client, "INV-2024-0001", "ERRATIC_DATA", "wrong address")
    assert sim.transactions[tid].kind == "annulment"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(NavTransaction).where(
            NavTransaction.kind == "ANNULMENT", NavTransaction.transaction_id == tid)) == 1
