"""Query pieces both engines need written differently."""
from __future__ import annotations

from sqlalchemy import ColumnElement, any_, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`. PostgreSQL gets the values as one array parameter (= ANY): a list of
    hundreds of bound values costs milliseconds there to render, convert and plan."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def without_parallel_plans(session: Session) -> None:
    """For the rest of this transaction on PostgreSQL, no parallel query plans. The cycle's
    queries each touch one chunk's rows: starting parallel workers costs more than it saves, and
    they take the cores the cycle's own worker processes are using."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
