"""Engine and sessions. DATABASE_URL picks the engine; the default is a SQLite file."""
from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from billing.db import jsoncodec

DEFAULT_URL = "sqlite:///billing.db"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    # Accept the usual libpq spelling and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str | None = None) -> Engine:
    from billing.db import audit

    engine = _engine(url or database_url())
    audit.install(engine)
    return engine


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60},
                               json_serializer=jsoncodec.dumps, json_deserializer=jsoncodec.loads)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let pysqlite leave BEGIN to us, so a write transaction takes the lock up front
            # (BEGIN IMMEDIATE) instead of failing on upgrade when two writers meet.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Reads (see read_only) start deferred: in WAL mode they never block the writer.
            if conn.get_execution_options().get("billing_read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         json_serializer=jsoncodec.dumps, json_deserializer=jsoncodec.loads)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read: on SQLite they do not take the write lock."""
    return sessionmaker(engine.execution_options(billing_read_only=True), expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Bring the database to the latest Alembic revision."""
    from billing.db.migrate import upgrade

    upgrade(engine)

