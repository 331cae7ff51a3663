"""JSON text of the JSON columns. orjson, because the cycle reads and writes a state and a journal
entry per account and day; the standard library for what orjson refuses (a lone surrogate that
the standard library let in), so anything stored before can still be read and written."""
from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # int keys become strings, as the standard library does


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)  # raises the same TypeError for a type neither can write


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
