"""A progress bar for long command-line work on a terminal; silent when output is not a terminal
(CI, logs, pipes)."""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], description: str, unit: str = "it") -> Iterable[T]:
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, unit=unit)
