"""A waiting invoice keeps the engine's draft as JSON (billing/cycle/waiting.py): it must come back
exactly, every field of every record, whatever the records hold (Decimal, Fraction, dates, tuples,
nested details), and its provisional number is never a document number."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.cycle.waiting import (
    draft_from_json,
    draft_to_json,
    is_provisional,
    provisional_number,
)
from billing.domain.records import DocumentDraft, DraftLine
from invoices.taxnumbers import DOCUMENT_NUMBER


def test_a_draft_comes_back_exactly_through_json_text():
    line = DraftLine("Seat licences", Decimal(7), "seat-day", Decimal("122.90"), date(2026, 3, 2),
                     date(2026, 3, 8), details={"proforma": "PRO-2026-000001", "days": [1, 2], "x": {"y": "1.0"}},
                     unit_gross=Fraction(127, 31), advance=True)
    draft = DocumentDraft(number=provisional_number(), kind="invoice", account_id="alfa",
                          issue_date=date(2026, 3, 8), due_date=date(2026, 3, 8), fulfilment_date=date(2026, 3, 8),
                          currency="EUR", gross=Decimal("122.90"), lines=(line, line), payment_method="card",
                          period_start=date(2026, 3, 2), references=("INV-2026-000001",), event_id="ev-1",
                          details={"reference": None, "external_id": "x-1"})
    back = draft_from_json(json.loads(json.dumps(draft_to_json(draft))))
    assert back == draft  # the compared fields
    assert back.details == draft.details and [l.details for l in back.lines] == [l.details for l in draft.lines]
    assert type(back.lines) is tuple and back.lines[0].unit_gross == Fraction(127, 31)
    assert back.gross == Decimal("122.90") and str(back.gross) == "122.90"  # the digits as written


def test_a_provisional_number_is_no_document_number():
    number = provisional_number()
    assert is_provisional(number) and number != provisional_number()
    assert not is_provisional("INV-2026-000001") and not is_provisional(None)
    assert not DOCUMENT_NUMBER.is_valid(number)
