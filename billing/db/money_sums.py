"""Exact sums of a money column in SQL, on both engines (the ledger's opening balances and the
statements' monthly totals: billing/views)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from sqlalchemy import ColumnElement, Integer, String, and_, case, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session

_SCALE = 8  # the digits after the point a money column holds (billing/db/base.py ExactDecimal)


def money_sums(session: Session, column, group_by: tuple, *where: ColumnElement[bool]) -> dict[tuple, Decimal]:
    """SUM(column) of the rows `where` selects, per `group_by` key (one key `()` without one; no
    rows, no key), exact on both engines. PostgreSQL sums its NUMERIC. SQLite holds money as text
    and its SUM goes through binary floats, so there each value is read as two integers, its
    whole part and its signed fraction in 10^-8 units, each summed exactly in 64 bits; a value
    that is not plain digits (an exponent, more than 8 decimals, more than 15 whole digits) is
    counted, and if any is, the rows are summed here as Decimals instead."""
    if session.get_bind().dialect.name != "sqlite":
        rows = session.execute(select(*group_by, func.sum(column)).where(*where).group_by(*group_by))
        return {tuple(row[:-1]): row[-1] for row in rows if row[-1] is not None}
    whole, fraction, odd = _sqlite_parts(column)
    rows = session.execute(select(*group_by, func.sum(whole), func.sum(fraction), func.sum(odd))
                           .where(*where).group_by(*group_by)).all()
    if not any(row[-1] for row in rows):
        return {tuple(row[:-3]): Decimal(row[-3]) + Decimal(row[-2]).scaleb(-_SCALE)
                for row in rows if row[-3] is not None}
    sums: dict[tuple, Decimal] = {}
    for *key, amount in session.execute(select(*group_by, column).where(*where)):
        sums[tuple(key)] = sums.get(tuple(key), Decimal(0)) + amount
    return sums


@lru_cache(maxsize=None)  # one expression per column (building it costs more than running it)
def _sqlite_parts(column) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """Of a money text (str of a Decimal: `-?digits(.digits)?` unless odd): its whole part (CAST
    reads the leading integer, sign included, "-0.5" as 0), its fraction in 10^-_SCALE units with
    the text's sign, and 1 where that reading would not be exact. This runs over an account's
    whole history, so a text that is an integer as CAST writes it (most of them: forints) is
    settled by two CASTs, and only the others are taken apart."""
    text = type_coerce(column, String)  # the stored text itself, compared with text
    integer = cast(cast(text, Integer), String) == text
    point = func.instr(text, ".")
    whole = cast(text, Integer)
    digits = func.substr(func.substr(text, point + 1).op("||")("0" * _SCALE), 1, _SCALE)
    fraction = case((integer, 0), (point == 0, 0), else_=cast(digits, Integer) * case((text.like("-%"), -1), else_=1))
    odd = case((integer, 0),
               (or_(text.op("GLOB")("*[^0-9.-]*"), and_(point > 0, func.length(text) - point > _SCALE),
                    case((point > 0, point), else_=func.length(text) + 1) > 17), 1), else_=0)
    return whole, fraction, odd
