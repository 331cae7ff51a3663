"""Issued documents for the renderer benchmarks: the hand-built NAV test documents (domestic, EU
reverse charge, non-EU, credit note), renumbered so every rendering gets its own document."""
from __future__ import annotations

from dataclasses import replace

import common  # noqa: F401  (puts the project root on sys.path)
from tests.nav.documents import credit_note, domestic_invoice, eu_reverse_charge_invoice, non_eu_invoice

LOCALES = ("hu", "en", "de", "ro")
_MAKERS = (domestic_invoice, eu_reverse_charge_invoice, non_eu_invoice)


def documents(n: int) -> list:
    """n documents cycling through the four kinds, each with its own number."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 3:
            out.append(credit_note(f"CN-2024-{i:06d}"))
        else:
            out.append(replace(_MAKERS[kind](f"INV-2024-{i:06d}")))
    return out
