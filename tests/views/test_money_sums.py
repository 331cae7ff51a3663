"""billing.db.money_sums.money_sums on SQLite and PostgreSQL: the SQL sum of a money column is
the exact Decimal sum of what the rows hold, whatever text SQLite holds them as."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, extract, select

from billing.db import models as m
from billing.db.session import create_schema, make_engine, make_session_factory
from billing.db.money_sums import money_sums

PLAIN = ["10312", "-3867.5", "-0.01", "0.1", "0.2", "-0", "0.00", "123456789.12345678", "-99", "7.10"]
# an exponent (a payment's amount as "1E+3" passes the precision check), a tiny one, and a value
# with 16 whole digits: summed in Python, not by the SQL reading of plain digits
ODD = ["1E+3", "0E-8", "1234567890123456"]


@pytest.fixture
def factory(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    factory = make_session_factory(engine)
    factory.statements = []  # the SQL each session of it sends, in order
    event.listen(engine, "before_cursor_execute", lambda *args: factory.statements.append(args[2]))
    yield factory
    engine.dispose()


def _store(factory, account: str, amounts: list[str]) -> None:
    with factory.begin() as session:
        for i, amount in enumerate(amounts):
            session.add(m.JournalEntry(account_id=account, day=date(2026, 1 + i % 3, 1 + i), kind=("payment", "charge")[i % 2],
                                       amount=Decimal(amount), currency="HUF", details={}))


@pytest.mark.parametrize("amounts", [PLAIN, PLAIN + ODD], ids=["plain", "with odd texts"])
def test_sums_are_exact(factory, amounts):
    _store(factory, "a", amounts)
    _store(factory, "b", ["5"])
    je = m.JournalEntry
    with factory() as session:
        stored = list(session.scalars(select(je.amount).where(je.account_id == "a")))
        factory.statements.clear()
        assert money_sums(session, je.amount, (), je.account_id == "a") == {(): sum(stored, Decimal(0))}
        # one aggregate; on SQLite a second query only when a text is not plain digits
        odd = amounts != PLAIN and session.get_bind().dialect.name == "sqlite"
        assert len(factory.statements) == (2 if odd else 1), factory.statements
        assert 0.1 + 0.2 != 0.3 and money_sums(session, je.amount, (), je.account_id == "a")[()] == sum(
            (Decimal(a) for a in amounts), Decimal(0))
        grouped = money_sums(session, je.amount, (extract("month", je.day), je.kind), je.account_id == "a")
        expected: dict[tuple, Decimal] = {}
        for row in session.execute(select(je.day, je.kind, je.amount).where(je.account_id == "a")):
            key = (row.day.month, row.kind)
            expected[key] = expected.get(key, Decimal(0)) + row.amount
        assert {(int(month), kind): total for (month, kind), total in grouped.items()} == expected
        assert money_sums(session, je.amount, (), je.account_id == "nobody") == {}
        assert money_sums(session, je.amount, (je.kind,), je.account_id == "nobody") == {}
