import threading

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.orm import Session

from billing.db.base import Base
from invoices.models import NumberSeries
from invoices.numbering import allocate_number

# A stand-in for the documents table: a committed number is one written in the same transaction.
_test_metadata = MetaData()
issued = Table("issued_numbers", _test_metadata, Column("number", String(20), primary_key=True), Column("value", Integer))


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    Base.metadata.create_all(engine, tables=[NumberSeries.__table__])
    _test_metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_series_and_years_are_independent(engine):
    with Session(engine) as session, session.begin():
        assert allocate_number(session, "proforma", 2026) == "PRO-2026-000001"
        assert allocate_number(session, "proforma", 2026) == "PRO-2026-000002"
        assert allocate_number(session, "invoice", 2026) == "INV-2026-000001"
        assert allocate_number(session, "credit_note", 2026) == "CRN-2026-000001"
        assert allocate_number(session, "invoice", 2027) == "INV-2027-000001"
    with Session(engine) as session, session.begin():
        assert allocate_number(session, "invoice", 2026) == "INV-2026-000002"


def test_a_rolled_back_document_gives_its_number_back(engine):
    with Session(engine) as session, session.begin():
        assert allocate_number(session, "invoice", 2026) == "INV-2026-000001"
    with Session(engine) as session:
        with session.begin():
            assert allocate_number(session, "invoice", 2026) == "INV-2026-000002"
            session.rollback()  # the document failed to issue
    with Session(engine) as session, session.begin():
        assert allocate_number(session, "invoice", 2026) == "INV-2026-000002"


def test_never_commits_on_its_own(engine):
    session = Session(engine)
    allocate_number(session, "invoice", 2026)
    session.close()  # no commit: as if the process died
    with Session(engine) as session, session.begin():
        assert allocate_number(session, "invoice", 2026) == "INV-2026-000001"


def test_unknown_kind(engine):
    with Session(engine) as session, pytest.raises(ValueError):
        allocate_number(session, "receipt", 2026)


def test_concurrent_issuers_leave_no_gap_and_no_duplicate(engine, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks and real concurrency: PostgreSQL")
    threads_count, per_thread = 8, 12
    start = threading.Barrier(threads_count)  # every thread races to create the 2026 counter
    errors = []

    def issuer(worker: int):
        try:
            start.wait()
            for i in range(per_thread):
                with Session(engine) as session:
                    session.begin()
                    number = allocate_number(session, "invoice", 2026)
                    session.execute(insert(issued).values(number=number, value=int(number[-6:])))
                    if (worker + i) % 3 == 0:
                        session.rollback()  # a third of the documents fail after taking a number
                    else:
                        session.commit()
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=issuer, args=(w,)) for w in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    committed = sum(1 for w in range(threads_count) for i in range(per_thread) if (w + i) % 3 != 0)
    assert committed == 64  # 96 attempts; (w + i) % 3 == 0 for 32 of them
    with Session(engine) as session:
        values = sorted(session.execute(select(issued.c.value)).scalars())
        last = session.execute(select(NumberSeries.last_value).where(NumberSeries.year == 2026)).scalar_one()
    assert values == list(range(1, committed + 1))  # no gap, no duplicate (primary key)
    assert last == committed
