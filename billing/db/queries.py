"""Query pieces both engines need written differently."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Text, any_, bindparam, cast, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`. PostgreSQL gets the values as one array parameter (= ANY): a list of
    hundreds of bound values costs milliseconds there to render, convert and plan."""
    if session.get_bind().dialect.name == "postgresql":
        if values and all(type(value) is int for value in values):
            # Integers (event seqs, thousands a chunk) as the array's text, made in C: the
            # driver would dump a list element by element in Python.
            return column == any_(cast(bindparam(None, int_array_text(values), type_=Text), ARRAY(column.type)))
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def int_array_text(values: list[int]) -> str:
    """PostgreSQL's text form of an array of integers: '{1,2,3}'."""
    return "{" + ",".join(map(str, values)) + "}"


def without_parallel_plans(session: Session) -> None:
    """For the rest of this transaction on PostgreSQL, no parallel query plans. The cycle's
    queries each touch one chunk's rows: starting parallel workers costs more than it saves, and
    they take the cores the cycle's own worker processes are using."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
