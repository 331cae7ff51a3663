"""The finance export of bank payout instructions: refunds of bank-transfer payments, one row per
part to pay out, and the ones paid (POST /v1/refunds/{id}/paid) with their day and reference;
card parts go back through Stripe and are not listed."""
from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy.orm import Session


COLUMNS = ("refund_id", "account_id", "terminated_on", "due_date", "overdue", "beneficiary", "iban",
           "amount", "currency", "remittance", "note", "state", "paid_on", "paid_reference")


def payout_rows(session: Session, today: date) -> list[dict]:
    from billing.payments.usecases import list_refunds

    rows = []
    for refund in list_refunds(session, "all", today)["refunds"]:
        for part in refund["parts"]:
            payout = part.get("payout")
            if payout is None or part["state"] not in ("due", "payout_instructed", "paid_out"):
                continue
            paid = part["info"] if part["state"] == "paid_out" else {}
            rows.append({"refund_id": refund["id"], "account_id": refund["account_id"],
                         "terminated_on": refund["terminated_on"], "due_date": refund["due_date"],
                         "overdue": refund["overdue"], "beneficiary": payout["beneficiary"] or "",
                         "iban": payout["iban"] or "", "amount": payout["amount"], "currency": payout["currency"],
                         "remittance": payout["remittance"], "note": payout["note"] or "",
                         "state": part["state"], "paid_on": paid.get("paid_on", ""),
                         "paid_reference": paid.get("reference", "")})
    return rows


def render_payouts_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly
