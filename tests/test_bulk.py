"""Bulk inserts (COPY on PostgreSQL, executemany on SQLite) store exactly what an ORM insert would."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from billing.db import bulk, jsoncodec
from billing.db import models as m
from billing.db.queries import among, array_text
from billing.db.session import create_schema, make_engine, make_session_factory


@pytest.fixture
def factory(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_rows_and_ids_come_back_exactly(factory):
    budapest = timezone(timedelta(hours=1))
    entries = [{"account_id": f"a{i}", "day": date(2026, 3, i + 1), "kind": "charge",
                "amount": Decimal("-1234.5678") * i, "currency": "EUR", "event_id": None,
                "document_number": "PRO-2026-000001" if i else None,
                "details__json": jsoncodec.dumps({"users": ["u1", "ű2"], "n": i, "note": 'quote " and \\ tab\t'}),
                "created_at": datetime(2026, 3, 1, 23, 30, tzinfo=budapest)} for i in range(5)]
    with factory.begin() as session:
        ids = bulk.insert_with_ids(session, m.JournalEntry.__table__, entries)
        bulk.insert_rows(session, m.PostingRow.__table__, [
            {"entry_id": entry_id, "ledger_account": "revenue", "amount": Decimal("0.00000001"), "currency": "EUR",
             "day": date(2026, 3, 1)} for entry_id in ids])
        more = bulk.insert_with_ids(session, m.JournalEntry.__table__, entries[:2])
    assert ids == sorted(ids) and len(set(ids + more)) == 7 and min(more) > max(ids)
    with factory() as session:
        stored = session.scalars(select(m.JournalEntry).order_by(m.JournalEntry.id)).all()[:5]
        legs = session.scalars(select(m.PostingRow).order_by(m.PostingRow.id)).all()
    assert len(stored) == len(entries) == 5
    for row, entry in zip(stored, entries):
        assert (row.account_id, row.day, row.amount, row.document_number) == (
            entry["account_id"], entry["day"], entry["amount"], entry["document_number"])
        assert row.details == jsoncodec.loads(entry["details__json"])
        assert row.created_at == datetime(2026, 3, 1, 22, 30, tzinfo=timezone.utc)
    assert [leg.entry_id for leg in legs] == ids and legs[0].amount == Decimal("0.00000001")


def test_a_row_without_a_column_that_has_a_python_default_is_refused(factory):
    with factory.begin() as session, pytest.raises(ValueError, match="created_at"):
        bulk.insert_rows(session, m.Notice.__table__, [
            {"event_id": "x", "topic": "t", "account_id": "a", "day": date(2026, 3, 1), "payload__json": "{}"}])


def test_rows_are_updated_by_key_with_the_counter_raised(factory):
    now = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=1)))
    table = m.AccountStateRow.__table__
    with factory.begin() as session:
        bulk.insert_rows(session, table, [
            {"account_id": a, "through": date(2026, 3, 1), "status": "active", "state__json": jsoncodec.dumps({"n": 0}),
             "updated_at": now, "version": 1} for a in ("a", "b", "c")])
    with factory.begin() as session:
        bulk.update_rows(session, table, "account_id", [
            {"account_id": a, "through": date(2026, 3, 2), "status": "past_due", "state__json": jsoncodec.dumps({"n": a}),
             "updated_at": now + timedelta(days=1)} for a in ("a", "c")], increment="version")
    with factory() as session:
        stored = {row.account_id: row for row in session.scalars(select(m.AccountStateRow))}
    assert [(a, stored[a].through, stored[a].status, stored[a].state, stored[a].version) for a in "abc"] == [
        ("a", date(2026, 3, 2), "past_due", {"n": "a"}, 2),
        ("b", date(2026, 3, 1), "active", {"n": 0}, 1),
        ("c", date(2026, 3, 2), "past_due", {"n": "c"}, 2)]
    assert stored["a"].updated_at == datetime(2026, 3, 3, 7, tzinfo=timezone.utc)


def test_new_rows_only_a_stored_key_and_a_repeated_one_are_skipped(factory):
    budapest = timezone(timedelta(hours=1))
    now = datetime(2026, 3, 2, 0, 30, tzinfo=budapest)
    table = m.MailMessage.__table__

    def row(account: str, key: str, params: str, to: str | None = "a@example.com") -> dict:
        return {"account_id": account, "key": key, "kind": "proforma_issued", "day": date(2026, 3, 2),
                "document_number": None, "to_address": to, "locale": "hu", "params": params, "status": "pending",
                "attempts": 0, "next_attempt_at": now, "claimed_until": None, "message_id": None, "sent_at": None,
                "last_error": None, "created_at": now}

    with factory.begin() as session:
        bulk.insert_new_rows(session, table, [row("a", "k1", "first")], ("account_id", "key"))
    with factory.begin() as session:
        bulk.insert_new_rows(session, table, [
            row("a", "k1", "again"), row("a", "k2", 'ű "quoted"', to=None), row("b", "k1", "{}"),
            row("a", "k2", "repeated")], ("account_id", "key"))
    with factory() as session:
        stored = session.scalars(select(m.MailMessage).order_by(m.MailMessage.id)).all()
    assert [(s.account_id, s.key, s.params, s.to_address) for s in stored] == [
        ("a", "k1", "first", "a@example.com"), ("a", "k2", 'ű "quoted"', None), ("b", "k1", "{}", "a@example.com")]
    assert all(s.next_attempt_at == s.created_at == datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)
               and s.day == date(2026, 3, 2) and s.attempts == 0 and s.claimed_until is None for s in stored)


AWKWARD = ["a,b", "{x}", "NULL", "", "back\\slash", 'quote"', " spaced ", "ű", "@@PRO:1@@"]


def test_awkward_texts_go_in_and_are_found_by_among(factory):
    now = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    table = m.MailMessage.__table__
    rows = [{"account_id": "a", "key": key, "kind": "k", "day": date(2026, 3, 2), "document_number": None,
             "to_address": None, "locale": "hu", "params": key, "status": "pending", "attempts": 0,
             "next_attempt_at": now, "claimed_until": None, "message_id": None, "sent_at": None,
             "last_error": None, "created_at": now} for key in AWKWARD]
    with factory.begin() as session:
        bulk.insert_new_rows(session, table, rows, ("account_id", "key"))
    wanted = AWKWARD[::2]
    with factory() as session:
        found = session.execute(select(table.c.key, table.c.params).where(among(session, table.c.key, wanted))).all()
    assert sorted(found) == sorted((key, key) for key in wanted)


def test_array_text_is_read_back_by_postgresql_as_the_values(factory):
    with factory() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("PostgreSQL's array text")
        assert session.scalar(text("SELECT CAST(:a AS TEXT[])"), {"a": array_text([*AWKWARD, None])}) == [*AWKWARD, None]
        assert session.scalar(text("SELECT CAST(:a AS BIGINT[])"), {"a": array_text([3, -1, 2**40])}) == [3, -1, 2**40]
        instant = datetime(2026, 3, 2, 0, 30, 0, 250, tzinfo=timezone(timedelta(hours=1)))
        assert session.scalar(text("SELECT CAST(:a AS TIMESTAMPTZ[])"), {"a": array_text([instant, None])}) == [instant, None]
        assert session.scalar(text("SELECT CAST(:a AS DATE[])"), {"a": array_text([date(2029, 2, 28)])}) == [date(2029, 2, 28)]
        assert session.scalar(text("SELECT CAST(:a AS NUMERIC[])"),
                              {"a": array_text([Decimal("-1234.5678"), Decimal("1E+3")])}) == [Decimal("-1234.5678"), Decimal("1E+3")]
        assert session.scalar(text("SELECT CAST(:a AS BOOLEAN[])"), {"a": array_text([True, False])}) == [True, False]
