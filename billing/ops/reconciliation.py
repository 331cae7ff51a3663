"""Reconciliation as of a day: the trial balance, money by channel against its clearing account,
money received but not booked, refunds owed, and invariant checks that say pass or fail.

Sums are taken in Python over Decimals: on SQLite the money columns are strings, and SQL SUM
would go through a float. Each check compares two records kept by different code (postings vs
journal entries, events vs postings, refund orders vs the refunds_payable account, documents vs
the number counters), so a bug in one of them shows up as a failed check, not as a silent drift.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import models as m
from billing.domain.state import AccountState
from billing.money import fmt
from billing.payments import models as pm
from billing.payments.usecases import list_refunds
from invoices.models import NumberSeries
from nav_reporting.outbox import nav_status

ZERO = Decimal(0)
CHARGE_KINDS = ("charge", "charge_correction", "clawback")
# Journal kinds that move money between ledger accounts without touching the customer's balance.
# A correction's memo entry (billing/domain/adjustments.py) has no amount and no legs.
NEUTRAL_KINDS = ("vat", "refund_paid", "correction")
NUMBER = re.compile(r"^(PRO|INV|CRN|COR)-(\d{4})-(\d{6})$")
MAX_LISTED = 20


def _check(name: str, failures: list, detail: str) -> dict:
    return {"name": name, "status": "fail" if failures else "pass", "detail": detail,
            "failures": failures[:MAX_LISTED], "failure_count": len(failures)}


def _ledger_balances(session: Session, as_of: date) -> dict[tuple[str, str], list[Decimal]]:
    """(ledger account, currency) -> [debits, credits]."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for account, currency, amount in session.execute(select(
            m.PostingRow.ledger_account, m.PostingRow.currency, m.PostingRow.amount).where(m.PostingRow.day <= as_of)):
        sums[(account, currency)][0 if amount > 0 else 1] += abs(amount)
    return sums


def trial_balance(sums: dict[tuple[str, str], list[Decimal]]) -> tuple[list[dict], dict]:
    rows, totals = [], defaultdict(lambda: [ZERO, ZERO])
    for (account, currency), (debit, credit) in sorted(sums.items()):
        rows.append({"ledger_account": account, "currency": currency, "debit": fmt(debit, currency),
                     "credit": fmt(credit, currency), "balance": fmt(debit - credit, currency)})
        totals[currency][0] += debit
        totals[currency][1] += credit
    return rows, {c: {"debit": fmt(d, c), "credit": fmt(k, c), "balanced": d == k} for c, (d, k) in totals.items()}


def _balance(sums, account: str, currency: str) -> Decimal:
    debit, credit = sums.get((account, currency), (ZERO, ZERO))
    return debit - credit


def _entries(session: Session, as_of: date) -> list[m.JournalEntry]:
    return list(session.scalars(select(m.JournalEntry).where(m.JournalEntry.day <= as_of).order_by(m.JournalEntry.id)))


def check_entries_balance(session: Session, entries: list[m.JournalEntry]) -> dict:
    legs: dict[int, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[int, int] = defaultdict(int)
    ids = {e.id for e in entries}
    for entry_id, amount in session.execute(select(m.PostingRow.entry_id, m.PostingRow.amount)):
        if entry_id in ids:
            legs[entry_id] += amount
            counts[entry_id] += 1
    failures = [{"entry_id": e.id, "kind": e.kind, "sum_of_legs": str(legs[e.id]), "legs": counts[e.id]}
                for e in entries if legs[e.id] != 0 or (counts[e.id] == 0 and e.amount != 0)]
    return _check("journal_entries_balance", failures, "every journal entry's legs sum to zero")


def _customer_sums(entries: list[m.JournalEntry]) -> dict[str, dict[str, Decimal]]:
    per: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for e in entries:
        if e.account_id is None or e.kind in NEUTRAL_KINDS:
            continue
        per[e.account_id]["ledger"] += e.amount
        bucket = ("payments" if e.kind == "payment" else "charges" if e.kind in CHARGE_KINDS
                  else "reversals" if e.kind == "charge_reversal" else "refunds" if e.kind == "refund"
                  else "credits" if e.kind == "credit" else "returned" if e.kind == "payment_reversal"
                  else "other")
        per[e.account_id][bucket] += -e.amount if bucket in ("charges", "refunds", "returned") else e.amount
    return per


def check_account_balances(session: Session, entries: list[m.JournalEntry], sums, as_of: date) -> dict:
    """ledger = payments − charges − refunds + reversals + credits, where refunds come from the
    refund orders, the customer ledger account's postings agree, and the cycle's projection agrees."""
    per = _customer_sums(entries)
    ordered: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for refund in session.scalars(select(m.RefundRow).where(m.RefundRow.day <= as_of)):
        ordered[refund.account_id] += refund.amount
    failures = []
    for account in session.scalars(select(m.Account).order_by(m.Account.id)):
        s = per.get(account.id, defaultdict(lambda: ZERO))
        expected = (s["payments"] - s["returned"] - s["charges"] - ordered[account.id] + s["reversals"]
                    + s["credits"])
        postings = -_balance(sums, f"customer:{account.id}", account.currency)
        state_row = session.get(m.AccountStateRow, account.id)
        projection = None
        if state_row is not None and state_row.through is not None and state_row.through <= as_of:
            projection = AccountState.from_json(state_row.state).balance
        problems = []
        if s["ledger"] != expected:
            problems.append("ledger != payments - returned - charges - refunds + reversals + credits")
        if s["other"] != 0:
            problems.append("entries of an unknown kind")
        if postings != s["ledger"]:
            problems.append("customer postings disagree with journal entries")
        if projection is not None and projection != s["ledger"]:
            problems.append("account state balance disagrees with the ledger")
        if problems:
            c = account.currency
            failures.append({"account_id": account.id, "problems": problems, "ledger": fmt(s["ledger"], c),
                             "payments": fmt(s["payments"], c), "charges": fmt(s["charges"], c),
                             "refunds": fmt(ordered[account.id], c), "reversals": fmt(s["reversals"], c),
                             "credits": fmt(s["credits"], c), "returned": fmt(s["returned"], c),
                             "postings": fmt(postings, c),
                             "projection": fmt(projection, c) if projection is not None else None})
    return _check("account_balances", failures,
                  "each account: ledger balance = payments − returned payments − charges − refunds "
                  "(+ reversals, + credits)")


def check_payment_events(session: Session) -> dict:
    """Every applied payment.received event that the engine did not reject is posted exactly
    once, for its amount (whole history: a payment is never lost or doubled)."""
    rejected = set(session.scalars(select(m.Rejection.event_id)))
    posted: dict[str, list[Decimal]] = defaultdict(list)
    for event_id, amount in session.execute(select(m.JournalEntry.event_id, m.JournalEntry.amount)
                                            .where(m.JournalEntry.kind == "payment")):
        posted[event_id].append(amount)
    failures = []
    for event in session.scalars(select(m.Event).where(m.Event.type == "payment.received", m.event_applied())):
        if event.id in rejected:
            continue
        amounts = posted.get(event.id, [])
        if amounts != [Decimal(event.data["amount"])]:
            failures.append({"event_id": event.id, "amount": event.data["amount"], "posted": [str(a) for a in amounts]})
    return _check("payments_posted_once", failures, "each applied payment event is posted exactly once")


def check_payments_invoiced(session: Session) -> dict:
    """Every credited payment has its invoice: issued exactly once, or waiting for its MNB rate
    (billing/cycle/waiting.py), never both and never neither, so a waiting invoice cannot be lost
    (whole history, like payments_posted_once)."""
    rejected = set(session.scalars(select(m.Rejection.event_id)))
    invoices: dict[str, list[str]] = defaultdict(list)
    for event_id, number in session.execute(select(m.DocumentRow.event_id, m.DocumentRow.number)
                                            .where(m.DocumentRow.kind == "invoice")):
        invoices[event_id].append(number)
    waiting = set(session.scalars(select(m.WaitingInvoice.event_id)))
    failures = []
    for event_id in session.scalars(select(m.Event.id).where(m.Event.type == "payment.received", m.event_applied())
                                    .order_by(m.Event.seq)):
        if event_id in rejected:
            continue
        issued = invoices.get(event_id, [])
        if len(issued) + (event_id in waiting) != 1:
            failures.append({"event_id": event_id, "invoices": issued, "waiting_for_rate": event_id in waiting})
    return _check("payments_invoiced", failures,
                  "each credited payment has exactly one invoice, issued or waiting for its MNB rate")


def check_nav_status(session: Session, as_of: date) -> dict:
    failures = [{"number": row.number} for row in session.scalars(select(m.DocumentRow).where(
        m.DocumentRow.kind.in_(("invoice", "credit_note", "correction")), m.DocumentRow.issue_date <= as_of)
        .order_by(m.DocumentRow.number)) if nav_status(session, row.number) is None]
    return _check("nav_status", failures, "every invoice, credit note and correction has a NAV reporting status")


def check_number_series(session: Session) -> dict:
    """Numbers are checked over the whole series (not only up to as_of): accounts are processed
    one after the other, so a later number may carry an earlier date without any gap."""
    series: dict[tuple[str, int], list[int]] = defaultdict(list)
    failures: list[dict] = []
    for number in session.scalars(select(m.DocumentRow.number)):
        match = NUMBER.match(number)
        if match is None:
            failures.append({"number": number, "problem": "not PRO/INV/CRN/COR-YYYY-NNNNNN"})
            continue
        series[(match.group(1), int(match.group(2)))].append(int(match.group(3)))
    counters = {(row.series, row.year): row.last_value for row in session.scalars(select(NumberSeries))}
    for key in sorted(set(series) | set(counters)):
        values = sorted(series.get(key, []))
        missing = sorted(set(range(1, (values[-1] if values else 0) + 1)) - set(values))
        repeated = len(values) != len(set(values))
        tail = counters.get(key)
        if missing or repeated or (tail is not None and tail != (values[-1] if values else 0)):
            failures.append({"series": key[0], "year": key[1], "missing": missing[:MAX_LISTED],
                             "repeated": repeated, "issued": len(values), "counter": tail})
    return _check("number_series_gapless", failures, "PRO, INV, CRN and COR numbers run 1..n per year, no gap")


def payments_by_channel(session: Session, entries: list[m.JournalEntry], sums,
                        refund_paid: dict[int, Decimal]) -> tuple[list[dict], dict]:
    """Per channel and currency: payments posted, card refunds paid, and the clearing account,
    which must hold exactly payments − refunds paid out through it."""
    flows: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for e in entries:
        method = (e.details or {}).get("method")
        if e.kind == "payment":
            flows[(method or "unknown", e.currency)]["payments"] += e.amount
        elif e.kind == "refund_paid":
            flows[(method or "unknown", e.currency)]["refunds_paid"] += refund_paid.get(e.id, ZERO)
        elif e.kind == "payment_reversal":
            flows[(method or "unknown", e.currency)]["returned"] -= e.amount
    for (account, currency) in sums:
        if account.startswith("clearing:"):
            flows[(account.split(":", 1)[1], currency)]  # a clearing account with no flows still shows
    rows, failures = [], []
    for (method, currency), f in sorted(flows.items()):
        clearing = _balance(sums, f"clearing:{method}", currency)
        expected = f["payments"] - f["refunds_paid"] - f["returned"]
        row = {"channel": method, "currency": currency, "payments": fmt(f["payments"], currency),
               "refunds_paid": fmt(f["refunds_paid"], currency), "returned": fmt(f["returned"], currency),
               "clearing_balance": fmt(clearing, currency),
               "expected_clearing": fmt(expected, currency), "ok": clearing == expected}
        rows.append(row)
        if not row["ok"]:
            failures.append(row)
    rows.extend(_received(session))
    return rows, _check("clearing_accounts", failures,
                        "clearing:{channel} = payments − refunds paid out − payments returned")


def _received(session: Session) -> list[dict]:
    """What the providers told us, for comparison: booked and still waiting for the cycle."""
    rows = []
    applied = dict(session.execute(select(m.Event.id, m.event_applied()).where(m.Event.type == "payment.received")).all())
    totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for card in session.scalars(select(pm.CardPayment).where(pm.CardPayment.status == "booked")):
        key = ("received:stripe", card.currency)
        totals[key]["received"] += card.amount
        totals[key]["awaiting_cycle"] += card.amount if not applied.get(card.event_id, False) else ZERO
    for entry in session.scalars(select(pm.BankEntry).where(pm.BankEntry.status.in_(("matched", "assigned", "reversed")),
                                                            pm.BankEntry.direction == "credit")):
        key = ("received:bank_statement", entry.currency)
        totals[key]["received"] += entry.amount
        totals[key]["awaiting_cycle"] += entry.amount if not applied.get(entry.event_id, False) else ZERO
    for (source, currency), t in sorted(totals.items()):
        rows.append({"channel": source, "currency": currency, "received": fmt(t["received"], currency),
                     "awaiting_cycle": fmt(t["awaiting_cycle"], currency)})
    return rows


def check_reversals(session: Session) -> dict:
    """A payment whose money went back must have had every effect (CONTRACT §5a): each bank debit
    that returned a booked credit has its reversal; each reversal the cycle has applied is posted
    once, for its amount, and its credit note reduced the payment's invoice, unless that invoice
    held nothing more by then; a reversal the cycle has gone past and not applied is a failure."""
    failures = []
    keys = set(session.scalars(select(pm.PaymentReversal.key)))
    for debit in session.scalars(select(pm.BankEntry).where(pm.BankEntry.status == "reversal")):
        credit = session.scalars(select(pm.BankEntry).where(pm.BankEntry.entry_id == debit.reverses)).first()
        if credit is not None and credit.event_id and f"bank:{debit.entry_id}" not in keys:
            failures.append({"bank_entry": debit.entry_id, "problem": "a return of a booked credit with no reversal"})
    rejected = set(session.scalars(select(m.Rejection.event_id)))
    pending = set(session.scalars(select(m.Event.id).join(m.PendingEvent, m.PendingEvent.seq == m.Event.seq)
                                  .where(m.Event.type == "payment.reversed")))
    for row in session.scalars(select(pm.PaymentReversal).order_by(pm.PaymentReversal.id)):
        if row.event_id in rejected:
            failures.append({"reversal": row.id, "problem": "the engine refused it: the money left, the ledger "
                                                           "did not follow", "event_id": row.event_id})
            continue
        if row.event_id in pending:
            through = session.scalar(select(m.AccountStateRow.through).where(
                m.AccountStateRow.account_id == row.account_id))
            if through is not None and through >= row.day:
                failures.append({"reversal": row.id, "problem": "its day was processed but it was not applied"})
            continue
        posted = list(session.scalars(select(m.JournalEntry.amount).where(
            m.JournalEntry.event_id == row.event_id, m.JournalEntry.kind == "payment_reversal")))
        if len(posted) != 1:
            failures.append({"reversal": row.id, "problem": f"posted {len(posted)} times"})
            continue
        notes = list(session.scalars(select(m.DocumentRow).where(m.DocumentRow.event_id == row.event_id,
                                                                 m.DocumentRow.kind == "credit_note")))
        if not notes and _invoice_holds(session, row.payment_event_id, row.day):
            failures.append({"reversal": row.id, "problem": "no credit note for the invoice of the returned payment"})
    return _check("reversals_applied", failures,
                  "each returned payment is undone: reversal booked, posted once, its invoice credited")


def _invoice_holds(session: Session, payment_event_id: str, day: date) -> bool:
    invoice = session.scalars(select(m.DocumentRow).where(m.DocumentRow.event_id == payment_event_id,
                                                          m.DocumentRow.kind == "invoice")).first()
    if invoice is None:
        return False
    credited = sum((-note.gross for note in session.scalars(select(m.DocumentRow).where(
        m.DocumentRow.kind == "credit_note", m.DocumentRow.account_id == invoice.account_id,
        m.DocumentRow.issue_date <= day)) if invoice.number in note.body.get("references", [])), Decimal(0))
    return credited < invoice.gross


def unmatched_credits(session: Session, as_of: date) -> dict:
    bank = list(session.scalars(select(pm.BankEntry).where(
        pm.BankEntry.status.in_(("unmatched", "rejected")), pm.BankEntry.direction == "credit",
        pm.BankEntry.booking_date <= as_of)))
    cards = list(session.scalars(select(pm.CardPayment).where(pm.CardPayment.status == "parked")))
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in (*bank, *cards):
        totals[row.currency] += row.amount
    return {"count": len(bank) + len(cards),
            "totals": {c: fmt(v, c) if len(c) == 3 and c.isalpha() else str(v) for c, v in totals.items()},
            "bank_entries": [{"entry_id": b.entry_id, "amount": fmt(b.amount, b.currency), "currency": b.currency,
                              "booking_date": b.booking_date.isoformat(), "status": b.status, "reason": b.reason}
                             for b in bank],
            "card_payments": [{"external_id": c.external_id, "amount": str(c.amount), "currency": c.currency,
                               "account_id": c.account_id, "reason": c.reason} for c in cards]}


def check_refunds_payable(session: Session, entries: list[m.JournalEntry], sums, as_of: date,
                          refund_paid: dict[int, Decimal]) -> dict:
    """refunds_payable holds what was ordered and not yet paid out by card."""
    ordered: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for refund in session.scalars(select(m.RefundRow).where(m.RefundRow.day <= as_of)):
        ordered[refund.currency] += refund.amount
    paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        if e.kind == "refund_paid":
            paid[e.currency] += refund_paid.get(e.id, ZERO)
    failures = []
    for currency in sorted(set(ordered) | {c for a, c in sums if a == "refunds_payable"}):
        balance = -_balance(sums, "refunds_payable", currency)
        expected = ordered[currency] - paid[currency]
        if balance != expected:
            failures.append({"currency": currency, "refunds_payable": fmt(balance, currency),
                             "ordered_minus_paid": fmt(expected, currency)})
    return _check("refunds_payable", failures, "refunds_payable = refunds ordered − refunds paid out")


def _refund_paid_amounts(session: Session, entries: list[m.JournalEntry]) -> dict[int, Decimal]:
    """The amount of a refund_paid entry is its refunds_payable leg (its customer side is 0)."""
    ids = [e.id for e in entries if e.kind == "refund_paid"]
    if not ids:
        return {}
    return dict(session.execute(select(m.PostingRow.entry_id, m.PostingRow.amount).where(
        m.PostingRow.entry_id.in_(ids), m.PostingRow.ledger_account == "refunds_payable")).all())


def reconcile(session: Session, as_of: date) -> dict[str, Any]:
    entries = _entries(session, as_of)
    refund_paid = _refund_paid_amounts(session, entries)
    sums = _ledger_balances(session, as_of)
    rows, totals = trial_balance(sums)
    channels, clearing_check = payments_by_channel(session, entries, sums, refund_paid)
    refunds_due = list_refunds(session, "due", as_of)["refunds"]
    checks = [
        check_entries_balance(session, entries),
        _check("trial_balance_balanced", [{"currency": c, **t} for c, t in totals.items() if not t["balanced"]],
               "debits equal credits in every currency"),
        check_account_balances(session, entries, sums, as_of),
        check_payment_events(session),
        check_payments_invoiced(session),
        check_reversals(session),
        clearing_check,
        check_refunds_payable(session, entries, sums, as_of, refund_paid),
        check_nav_status(session, as_of),
        check_number_series(session),
    ]
    return {"as_of": as_of.isoformat(), "trial_balance": rows, "totals": totals,
            "payments_by_channel": channels, "unmatched": unmatched_credits(session, as_of),
            "refunds": {"due": [r for r in refunds_due if r["terminated_on"] <= as_of.isoformat()],
                        "overdue": [r for r in refunds_due if r["overdue"]
                                    and r["terminated_on"] <= as_of.isoformat()]},
            "checks": checks, "ok": all(c["status"] != "fail" for c in checks)}
