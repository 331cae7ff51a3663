"""Query pieces both engines need written differently."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, Text, any_, bindparam, cast, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`. PostgreSQL gets the values as one array parameter (= ANY): a list of
    hundreds of bound values costs milliseconds there to render, convert and plan."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(cast(bindparam(None, array_text(values), type_=Text), ARRAY(column.type)))
    return column.in_(values)


def array_text(values: list) -> str:
    """PostgreSQL's text form of an array, '{1,"a b",NULL}', for a parameter cast to the array's
    type: the driver would dump a list element by element in Python (a regular expression for
    each text), thousands of elements in a cycle chunk."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join([_element_text(value) for value in values]) + "}"


def _element_text(value) -> str:
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        text_ = value
    elif type(value) is bool:
        text_ = "t" if value else "f"
    elif isinstance(value, (date, Decimal)):  # a datetime is a date; an aware one keeps its offset
        text_ = value.isoformat() if isinstance(value, date) else str(value)
    else:
        raise TypeError(f"no array text for a {type(value).__name__}")
    return '"' + text_.replace("\\", "\\\\").replace('"', '\\"') + '"'


def without_parallel_plans(session: Session) -> None:
    """For the rest of this transaction on PostgreSQL, no parallel query plans. The cycle's
    queries each touch one chunk's rows: starting parallel workers costs more than it saves, and
    they take the cores the cycle's own worker processes are using."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
