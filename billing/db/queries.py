"""Query pieces both engines need written differently."""
from __future__ import annotations

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def among(session: Session, column, values: list) -> ColumnElement[bool]:
    """`column IN values`. PostgreSQL gets the values as one array parameter (= ANY): a list of
    hundreds of bound values costs milliseconds there to render, convert and plan."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
