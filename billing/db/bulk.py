"""Many rows into one table at once, inside the caller's transaction. Rows are dicts by column
name; a JSON column's value is JSON text already made, under '<column>__json'.

PostgreSQL takes them with COPY, several times faster than an executemany of the same rows;
SQLite with one executemany of the driver, each value put through its column type's own bind
processing (what SQLAlchemy does per row, without building a parameter set for every row)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Date, DateTime, Table, bindparam, func, select, text
from sqlalchemy.orm import Session

from billing.db.base import AwareDateTime, ExactDecimal, JsonText
from billing.db.queries import array_text

_JSON_SUFFIX = "__json"


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, rows)
    else:
        _executemany(session, table, rows)


def insert_new_rows(session: Session, table: Table, rows: list[dict], unique: tuple[str, ...]) -> None:
    """Insert the rows whose `unique` columns match no stored row (nor an earlier row of the same
    call): INSERT … ON CONFLICT DO NOTHING as one statement. PostgreSQL takes the rows as one
    array per column (unnest), each as the array's text (queries.array_text), where an
    executemany would send and plan a statement per row; a second transaction inserting the same
    key waits for the first and then inserts nothing. SQLite takes the driver's executemany; its
    writer is alone (BEGIN IMMEDIATE)."""
    if not rows:
        return
    conflict = f"ON CONFLICT ({', '.join(unique)}) DO NOTHING"
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        keys = tuple(rows[0])
        columns = _columns(keys)
        _check_complete(table, frozenset(columns))
        arrays = ", ".join(f"%s::{_array_type(table, column, dialect)}" for column in columns)
        statement = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {conflict}"
        arrays_text = tuple(array_text([row[key] for row in rows]) for key in keys)
        session.connection().exec_driver_sql(statement, arrays_text)
        return
    _executemany(session, table, rows, conflict)


@lru_cache(maxsize=None)
def _array_type(table: Table, column: str, dialect) -> str:
    """The SQL type of an array of the column's values, as unnest's parameter is cast to."""
    return f"{table.c[column].type.compile(dialect=dialect)}[]"


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
    _executemany(session, table, rows)
    last = session.scalar(select(func.max(table.c.id)))
    return list(range(last - len(rows) + 1, last + 1))


def update_rows(session: Session, table: Table, key: str, rows: list[dict], increment: str | None = None) -> None:
    """UPDATE the rows found by `key` with the other values given, and raise the integer column
    `increment` by one: one executemany (of the driver, on SQLite)."""
    if not rows:
        return
    keys = tuple(rows[0])
    values = [k for k in keys if k != key]
    if session.get_bind().dialect.name == "postgresql":
        update = table.update().where(table.c[key] == bindparam("b_" + key)).values(
            {column: bindparam("b_" + k, type_=JsonText if k.endswith(_JSON_SUFFIX) else table.c[column].type)
             for k, column in zip(values, _columns(values))})
        if increment:
            update = update.values({increment: table.c[increment] + 1})
        session.execute(update, [{"b_" + k: row[k] for k in keys} for row in rows])
        return
    assignments = [f"{column} = ?" for column in _columns(values)] + ([f"{increment} = {increment} + 1"] if increment else [])
    statement = f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {key} = ?"
    bound = (*values, key)  # in the statement's order of placeholders
    processors = _bind_processors(table, bound, session.get_bind().dialect)
    session.connection().exec_driver_sql(statement, _bound_rows(rows, bound, processors))


def _executemany(session: Session, table: Table, rows: list[dict], suffix: str = "") -> None:
    """SQLite: the driver's executemany of one INSERT (`suffix` after its VALUES)."""
    keys = tuple(rows[0])
    columns = _columns(keys)
    _check_complete(table, frozenset(columns))
    processors = _bind_processors(table, keys, session.get_bind().dialect)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(keys))}) {suffix}"
    session.connection().exec_driver_sql(statement, _bound_rows(rows, keys, processors))


def _bound_rows(rows: list[dict], keys: tuple[str, ...], processors) -> list[tuple]:
    """The rows' values as the driver takes them, in `keys` order: each through its column
    type's bind processing, a column at a time. A day or an instant recurs through a chunk's
    rows (its day, its `now`), so each distinct one is converted once."""
    columns = []
    for key, (process, repeats) in zip(keys, processors):
        values = [row[key] for row in rows]
        if process is not None:
            if repeats:
                seen: dict = {}
                values = [seen[v] if v in seen else seen.setdefault(v, process(v)) for v in values]
            else:
                values = [process(v) for v in values]
        columns.append(values)
    return list(zip(*columns))


@lru_cache(maxsize=None)
def _bind_processors(table: Table, keys: tuple[str, ...], dialect) -> tuple:
    """(processor, whether equal values give the same bound value) per key. JSON text (key
    '<column>__json') is bound as it is; anything else as its column type binds it. Equal dates
    and datetimes bind alike (an aware instant is written in UTC), so their conversions can be
    shared; equal Decimals cannot (0 and 0.00 are written apart)."""
    out = []
    for key in keys:
        if key.endswith(_JSON_SUFFIX):
            out.append((None, False))
            continue
        column_type = table.c[key].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column_type, ExactDecimal) and process is not None:
            process = _decimal_text(process)
        out.append((process, isinstance(column_type, (Date, DateTime, AwareDateTime))))
    return tuple(out)


def _decimal_text(process):
    """ExactDecimal's binding on SQLite (its canonical text) without the type machinery around it
    for a Decimal, which is what the cycle's money always is."""
    def bind(value):
        return str(value) if type(value) is Decimal else process(value)
    return bind


def _columns(keys) -> list[str]:
    return [key[:-len(_JSON_SUFFIX)] if key.endswith(_JSON_SUFFIX) else key for key in keys]


def _copy(session: Session, table: Table, rows: list[dict]) -> None:
    keys = list(rows[0])
    columns = _columns(keys)
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
    """Neither COPY nor the driver's executemany fills a default computed in Python: every such
    column must be given."""
    missing = [c.name for c in table.c if c.name not in columns and c.default is not None]
    if missing:
        raise ValueError(f"a bulk insert into {table.name} without {', '.join(missing)}")
