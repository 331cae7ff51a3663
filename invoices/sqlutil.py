"""Dialect-aware SQL that SQLAlchemy Core does not say portably."""
from __future__ import annotations

from sqlalchemy.orm import Session


def insert_if_absent(session: Session, model, values: dict) -> None:
    """INSERT … ON CONFLICT DO NOTHING: creating a row that a concurrent transaction may be
    creating too never fails, and it needs no savepoint (fragile under pysqlite)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"insert_if_absent has no form for {name}")
    session.execute(insert(model).values(**values).on_conflict_do_nothing())
