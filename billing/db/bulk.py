"""Many rows into one table at once, inside the caller's transaction. Rows are dicts by column
name; a JSON column's value is JSON text already made, under '<column>__json'.

PostgreSQL takes them with COPY, several times faster than an executemany of the same rows;
SQLite with one executemany."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import JSON, Table, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from billing.db.base import JsonText

_JSON_SUFFIX = "__json"


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, rows)
    else:
        session.execute(_insert_json_text(table), rows)


def insert_with_ids(session: Session, table: Table, rows: list[dict]) -> list[int]:
    """Insert rows of a table with a serial `id` and return their ids, in the rows' order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted(session.scalars(text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
            {"n": len(rows)}))
        _copy(session, table, [{"id": row_id, **row} for row_id, row in zip(ids, rows)])
        return ids
    # SQLite cannot promise the order of RETURNING rows, so SQLAlchemy would insert row by row.
    # The transaction holds SQLite's only write lock (BEGIN IMMEDIATE) and an INTEGER PRIMARY KEY
    # takes max(id) + 1 for each new row, so the ids of one executemany are the last n, in order.
    session.execute(_insert_json_text(table), rows)
    last = session.scalar(select(func.max(table.c.id)))
    return list(range(last - len(rows) + 1, last + 1))


def _copy(session: Session, table: Table, rows: list[dict]) -> None:
    keys = list(rows[0])
    columns = [key[:-len(_JSON_SUFFIX)] if key.endswith(_JSON_SUFFIX) else key for key in keys]
    _check_complete(table, frozenset(columns))
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        # psycopg writes each Python value in COPY's text form (Decimal, date, aware datetime,
        # None as NULL); JSON text goes in as it is.
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[key] for key in keys])
    finally:
        cursor.close()


@lru_cache(maxsize=None)
def _check_complete(table: Table, columns: frozenset[str]) -> None:
    """COPY fills no default computed in Python: every such column must be given."""
    missing = [c.name for c in table.c if c.name not in columns and c.default is not None]
    if missing:
        raise ValueError(f"COPY into {table.name} without {', '.join(missing)}")


@lru_cache(maxsize=None)
def _insert_json_text(table: Table):
    return insert(table).values({column.name: bindparam(column.name + _JSON_SUFFIX, type_=JsonText)
                                 for column in table.c if isinstance(column.type, JSON)})
