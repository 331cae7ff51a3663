"""Opaque cursors of the paginated lists: the last key a page showed, named by its list (a cursor of
one list is refused by another), as urlsafe base64 of a small JSON array."""
from __future__ import annotations

import base64
import json
import re

from billing.errors import invalid_field

MAX_CURSOR_CHARS = 400


def encode_cursor(list_name: str, *key: str) -> str:
    text = json.dumps([list_name, *key], separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, list_name: str, parts: int) -> list[str]:
    """The key a cursor of `list_name` holds, or a 422 naming `cursor`."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
            raise ValueError("not urlsafe base64")
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if (not isinstance(decoded, list) or len(decoded) != parts + 1 or decoded[0] != list_name
                or not all(isinstance(part, str) and part for part in decoded[1:])):
            raise ValueError("not a cursor of this list")
        return decoded[1:]
    except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error and JSONDecodeError are ValueErrors
        raise invalid_field("cursor", "not a cursor this list gave (pass next_cursor back unchanged)") from exc
