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
