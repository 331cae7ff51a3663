"""The Alembic migration builds exactly the schema the models describe, on both engines."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from billing.db.base import Base
from billing.db.migrate import load_all_models
from billing.db.session import create_schema, make_engine


def test_migration_matches_the_models(db_url):
    engine = make_engine(db_url)
    create_schema(engine)
    create_schema(engine)  # idempotent: already at head
    load_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_pending_flag_becomes_the_queue(db_url):
    """Revision 0004: events not yet applied (and only those) are in pending_events afterwards."""
    from datetime import date, datetime, timezone

    from alembic import command
    from sqlalchemy import text

    from billing.db.alembic_runner import config_for

    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(config_for(conn), "0003")
        insert = text("INSERT INTO events (id, type, account_id, occurred_at, day, body_hash, data, received_at, "
                      "applied) VALUES (:id, 'seat.activated', 'acme', :at, :day, 'h', '{}', :at, :applied)")
        at = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
        for event_id, day, applied in (("e1", date(2026, 3, 1), True), ("e2", date(2026, 3, 2), False),
                                       ("e3", date(2026, 3, 3), True), ("e4", date(2026, 3, 4), False)):
            conn.execute(insert, {"id": event_id, "at": at, "day": day, "applied": applied})
    create_schema(engine)
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT e.id, p.account_id, p.day FROM pending_events p "
                                   "JOIN events e ON e.seq = p.seq ORDER BY p.seq")).all()
    assert [(i, a, str(d)) for i, a, d in queued] == [("e2", "acme", "2026-03-02"), ("e4", "acme", "2026-03-04")]
    assert "applied" not in {c["name"] for c in inspect(engine).get_columns("events")}
    engine.dispose()
