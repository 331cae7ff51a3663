"""Query pieces both engines need written differently."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, Text, any_, bindparam, cast, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`. PostgreSQL gets the values as one array parameter (= ANY): a list of
    hundreds of bound values costs milliseconds there to render, convert and plan. Integers go
    as the array's text (array_text); other values as a typed array the driver dumps: a text cast
    to VARCHAR[] made the documents page of a 36-month account half again as slow (bench/reads.py:
    p50 28.8 against 17.9 ms; which of its look-ups PostgreSQL planned worse is not pinned down)."""
    if session.get_bind().dialect.name == "postgresql":
        if values and all(type(value) is int for value in values):
            return column == any_(cast(bindparam(None, _int_array_text(values), type_=Text), ARRAY(column.type)))
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def array_text(values: list) -> str:
    """PostgreSQL's text form of an array, '{1,"a b",NULL}', for a parameter cast to the array's
    type: the driver would dump a list element by element in Python (a regular expression for
    each text), thousands of elements in a cycle chunk. Texts and NULLs, most of them, are
    written here without a call per element."""
    if all(type(value) is int for value in values):
        return _int_array_text(values)
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if value.__class__ is not str:
            if type(value) is int:
                parts.append(str(value))
                continue
            value = _element_text(value)
        parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def _int_array_text(values: list[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _element_text(value) -> str:
    """The text of an array element that is not an int or a plain str, before quoting."""
    if isinstance(value, str):
        return str(value)
    if type(value) is bool:
        return "t" if value else "f"
    if isinstance(value, date):  # a datetime is a date; an aware one keeps its offset
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"no array text for a {type(value).__name__}")


def without_parallel_plans(session: Session) -> None:
    """For the rest of this transaction on PostgreSQL, no parallel query plans. The cycle's
    queries each touch one chunk's rows: starting parallel workers costs more than it saves, and
    they take the cores the cycle's own worker processes are using."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
