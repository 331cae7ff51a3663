"""Shared fixtures. `db_url` runs a test on SQLite and on PostgreSQL, each time on an empty database."""
from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy import create_engine, text

from tests.pg import ThrowawayPostgres

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield None, url
        return
    server = ThrowawayPostgres()
    admin_url = server.start()
    try:
        yield server, admin_url
    finally:
        server.stop()


def _fresh_postgres_database(admin_url: str) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty database URL; the test creates its schema (billing.db.session.create_schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'billing.db'}"
    _, admin_url = request.getfixturevalue("postgres_server")
    return _fresh_postgres_database(admin_url)
