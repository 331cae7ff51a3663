"""Every figure explains itself: the derivation stored with each entry and document, shown, and a
preview of what the cycle would do, computed by the same engine without writing anything."""
from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.cycle.run import dry_run
from billing.db import models as m
from billing.money import approximate, fmt
from billing.views.accounts import get_account
from billing.views.documents import get_document_row
from billing.views.statements import parse_month


def _fraction_text(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    exact = Fraction(value)
    return {"fraction": str(exact), "decimal": str(approximate(exact))}


def explain_entry(entry: m.JournalEntry) -> dict[str, Any]:
    d = entry.details or {}
    explanation: dict[str, Any] = {"id": entry.id, "date": entry.day.isoformat(), "kind": entry.kind,
                                   "amount": fmt(entry.amount, entry.currency), "currency": entry.currency,
                                   "event_id": entry.event_id}
    if entry.kind == "charge":
        explanation.update({
            "seats": d.get("seats"), "seat_days_by_user": {u: [entry.day.isoformat()] for u in d.get("users", [])},
            "plan": d.get("plan"), "list_price": d.get("list_price"), "discount_percent": d.get("discount_percent"),
            "prices_include_vat": d.get("prices_include_vat"), "vat_treatment": d.get("vat_kind"),
            "monthly_price_exact": _fraction_text(d.get("monthly_price_exact")),
            "day_exact": _fraction_text(d.get("day_exact")),
            "month_to_date_exact": _fraction_text(d.get("month_to_date_exact")),
            "month_to_date_rounded": d.get("month_to_date_rounded"),
            "rounding": "entry = R(month-to-date exact) − month-to-date posted before; R = half-up to "
                        f"{entry.currency} precision",
            "events": d.get("events", []),
        })
    else:
        explanation["derivation"] = d
    return explanation


def explain_day(session: Session, account_id: str, day: date) -> dict[str, Any]:
    get_account(session, account_id)
    entries = session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account_id, m.JournalEntry.day == day, m.JournalEntry.kind != "vat"
    ).order_by(m.JournalEntry.id))
    return {"account_id": account_id, "date": day.isoformat(), "entries": [explain_entry(e) for e in entries]}


def explain_month(session: Session, account_id: str, month: str) -> list[dict[str, Any]]:
    first, last = parse_month(month)
    entries = session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account_id, m.JournalEntry.day >= first, m.JournalEntry.day <= last,
        m.JournalEntry.kind != "vat").order_by(m.JournalEntry.day, m.JournalEntry.id))
    return [explain_entry(e) for e in entries]


def explain_document(session: Session, number: str) -> dict[str, Any]:
    row = get_document_row(session, number)
    body = row.body
    allocations = [{"payment_event_id": a.payment_event_id, "amount": fmt(a.amount, row.currency),
                    "day": a.day.isoformat()}
                   for a in session.scalars(select(m.AllocationRow).where(m.AllocationRow.proforma_number == number))]
    lines = []
    for line, derivation in zip(body["lines"], (row.explain or {}).get("lines", [])):
        lines.append({"description": line["description"], "quantity": line["quantity"], "net": line["net"],
                      "vat": line["vat"], "gross": line["gross"], "derivation": derivation,
                      "exact": _fraction_text(derivation.get("exact")) if derivation else None})
    result = {"number": number, "kind": row.kind, "gross": fmt(row.gross, row.currency), "currency": row.currency,
              "derivation": (row.explain or {}).get("details", {}), "lines": lines,
              "vat": {"treatment": body["vat_treatment"]["kind"], "rate": body["vat_treatment"]["rate"],
                      "rule": "net = R(gross / (1 + rate)), VAT = gross − net, once per rate"},
              "payments_allocated": allocations}
    if row.kind == "proforma":
        result["formula"] = "amount = max(0, projected − balance − open); projected = R(Σ exact day charges)"
    return result


def preview(session: Session, account_id: str, until: date) -> dict[str, Any]:
    """What a cycle run through `until` would post and issue, without writing anything."""
    account = get_account(session, account_id)
    new, outcome = dry_run(session, account, until)
    c = account.currency
    return {
        "account_id": account_id, "until": until.isoformat(), "state": new.status,
        "balance": fmt(new.balance, c),
        "postings": [{"date": p.day.isoformat(), "kind": p.kind, "amount": fmt(p.amount, c),
                      "seats": p.details.get("seats")} for p in outcome.postings],
        "documents": [{"number": d.number, "kind": d.kind, "issue_date": d.issue_date.isoformat(),
                       "due_date": d.due_date.isoformat(), "gross": fmt(d.gross, c),
                       "references": list(d.references)} for d in outcome.documents],
        "state_changes": [{"date": s.day.isoformat(), "from": s.old, "to": s.new} for s in outcome.state_changes],
        "refunds": [{"date": r.day.isoformat(), "amount": fmt(r.amount, c), "due_date": r.due_date.isoformat()}
                    for r in outcome.refunds],
    }
