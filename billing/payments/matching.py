"""Finding our proforma number in a bank transfer's free-text remittance; pure.

Canonical form: `PRO-YYYY-NNNNNN` (six digits, zero-padded). What customers and banks write:

* `PRO` in any case, then up to three separators (space - _ / . : # or a typographic dash)
  or none, then a four-digit year 20YY;
* the sequence number either after a separator, 1 to 6 digits, zero-padded to six
  (`pro 2026 123`, `Pro-2026-000123` -> `PRO-2026-000123`), or written straight after the year
  without separator, then exactly six digits (`PRO2026000123`). Run together, fewer digits are
  refused: the boundary between year and number would be a guess;
* the number must not run on into more digits (`PRO-2026-1234567` is no proforma of ours:
  truncating it could credit a stranger's proforma), and `PRO` must not be the tail of a word
  (`APRO-2026-1`);
* sequence number 0 does not exist.

The number only names the proforma; which account it belongs to, and whether it is still open,
is the caller's lookup.
"""
from __future__ import annotations

import re

_SEP = r"[\s\-_/.:#\u2010-\u2015]"
_PATTERN = re.compile(
    rf"(?<![^\W\d_])(?<!\d)PRO{_SEP}{{0,3}}(20\d\d)"
    rf"(?:{_SEP}{{1,3}}(\d{{1,6}})|(\d{{6}}))(?!\d)",
    re.IGNORECASE,
)


def find_proforma_numbers(remittance: str) -> tuple[str, ...]:
    """Every distinct proforma number in the text, in order of appearance."""
    found: list[str] = []
    for match in _PATTERN.finditer(remittance or ""):
        year, separated, joined = match.groups()
        sequence = int(separated or joined)
        if sequence == 0:
            continue
        number = f"PRO-{year}-{sequence:06d}"
        if number not in found:
            found.append(number)
    return tuple(found)


def find_proforma_number(remittance: str) -> str | None:
    """The first proforma number in the text, or None.

    A transfer naming several proformas pays them oldest first anyway (allocation), so the first
    one identifies the account; use find_proforma_numbers to check they share one account.
    """
    numbers = find_proforma_numbers(remittance)
    return numbers[0] if numbers else None
