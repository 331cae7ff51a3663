"""Opaque cursors of the paginated lists: the last key a page showed, named by its list (a cursor of
one list is refused by another), as urlsafe base64 of a small JSON array; and the keyset condition
a (day, tie-breaker) key stands for."""
from __future__ import annotations

import base64
import json
import re
from datetime import date

from sqlalchemy import ColumnElement, and_, or_

from billing.errors import InvalidInput, invalid_field

MAX_CURSOR_CHARS = 400
_REFUSED = "not a cursor this list gave (pass next_cursor back unchanged)"


def encode_cursor(list_name: str, *key: str) -> str:
    text = json.dumps([list_name, *key], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def refused(field: str = "cursor") -> InvalidInput:
    return invalid_field(field, _REFUSED)


def decode_cursor(cursor: str, list_name: str, parts: int, field: str = "cursor") -> list[str]:
    """The key a cursor of `list_name` holds, or a 422 naming `field`."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
            raise ValueError("not urlsafe base64")
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if (not isinstance(decoded, list) or len(decoded) != parts + 1 or decoded[0] != list_name
                or not all(isinstance(part, str) and part for part in decoded[1:])):
            raise ValueError("not a cursor of this list")
        return decoded[1:]
    except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error and JSONDecodeError are ValueErrors
        raise refused(field) from exc


def encode_day_key(list_name: str, day: date, tie: str | int) -> str:
    return encode_cursor(list_name, day.isoformat(), str(tie))


def decode_day_key(cursor: str, list_name: str, field: str = "cursor", *,
                   integer: bool = False) -> tuple[date, str | int]:
    """(day, tie-breaker) of a cursor encode_day_key made; `integer`: the tie-breaker is a row id."""
    day_text, tie = decode_cursor(cursor, list_name, 2, field)
    try:
        day = date.fromisoformat(day_text)
    except ValueError as exc:
        raise refused(field) from exc
    if not integer:
        return day, tie
    if not re.fullmatch(r"[0-9]{1,18}", tie):  # a BIGINT both engines bind
        raise refused(field)
    return day, int(tie)


def after_key(day_column, tie_column, key: tuple, descending: bool = False) -> ColumnElement[bool]:
    """(day, tie) strictly after `key` in the list's order (before it, in a descending list). The
    bare day bound is redundant but lets the engine range-scan an index that starts with the day."""
    day, tie = key
    if descending:
        return and_(day_column <= day, or_(day_column < day, and_(day_column == day, tie_column < tie)))
    return and_(day_column >= day, or_(day_column > day, and_(day_column == day, tie_column > tie)))
