"""Fixtures of the hardening suite: the e2e `api` fixture (SQLite and PostgreSQL) and helpers."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tests.e2e.conftest import ADMIN, Api, api  # noqa: F401  (re-exported fixture)


def ledger_invariants(factory) -> dict[str, Decimal]:
    """Every journal entry's postings sum to zero; each customer's balance (sum of its customer
    entries) equals the sum of its postings on `customer:{id}`. Returns the balances."""
    from billing.db import models as m
    from billing.views.accounts import CUSTOMER_KINDS

    with factory() as session:
        sums: dict[int, Decimal] = {}
        for entry_id, amount in session.execute(select(m.PostingRow.entry_id, m.PostingRow.amount)):
            sums[entry_id] = sums.get(entry_id, Decimal(0)) + amount
        entries = session.scalars(select(m.JournalEntry)).all()
        assert entries
        assert {e.id for e in entries} == set(sums), "every journal entry has postings and no posting is orphaned"
        unbalanced = {k: v for k, v in sums.items() if v != 0}
        assert not unbalanced, f"journal entries whose postings do not sum to zero: {unbalanced}"
        balances: dict[str, Decimal] = {}
        for e in entries:
            if e.account_id and e.kind in CUSTOMER_KINDS:
                balances[e.account_id] = balances.get(e.account_id, Decimal(0)) + e.amount
        for account_id, balance in balances.items():
            leg_sum = sum((p.amount for p in session.scalars(select(m.PostingRow).where(
                m.PostingRow.ledger_account == f"customer:{account_id}"))), Decimal(0))
            # customer:{id} is a liability (prepaid balance): credit (−) raises the balance.
            assert -leg_sum == balance, (account_id, balance, leg_sum)
        return balances
