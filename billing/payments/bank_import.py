"""Importing a CAMT.053 statement (CONTRACT §5a): every transaction once, credits booked as
payments, returns undoing the payment they return.

The whole file is one transaction, and each transaction's row is claimed first by its id within
the statement's account (INSERT … ON CONFLICT DO NOTHING), so importing a file twice, or two
statements that share entries, books nothing twice. Debits are kept too: a return imported before
the credit it returns (files come in any order) is found when the credit arrives.

What a transaction is:
- a credit with a proforma number in any remittance field: a payment of that proforma's account;
  without one (or with a problem: a batch the bank does not itemise, fillér on a HUF amount) it
  waits for finance (`unmatched` / `rejected`), never booked whole to one account;
- a credit with RvslInd: the bank taking back one of its own debits, `ignored`;
- a debit that points at a credit of the same account — the same bank or payer reference, the
  credit's reference in its remittance, or, for a debit that says it is a return (RvslInd,
  RtrInf, a return transaction code), the same proforma number and at most its amount — reverses
  that credit: `reversed`; any other debit is `ignored`.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import InvalidInput
from billing.money import fmt, has_currency_precision
from billing.payments import models as pm
from billing.payments.booking import book_payment, booking_instant, payment_event, payment_event_id
from billing.payments.claims import insert_new
from billing.payments.camt053 import BankStatement, BankTransaction, compact_account, parse_statements
from billing.payments.matching import find_proforma_numbers
from billing.payments.reversals import Reversal, book_reversal

log = logging.getLogger("billing.payments")

RESULTS = ("booked", "duplicate", "unmatched", "reversed", "ignored", "rejected")
BOOKED = ("matched", "assigned", "reversed")  # credits whose money is in the ledger


# -- the seller's own accounts ----------------------------------------------------------------

def _account_keys(text: str) -> set[str]:
    """The forms one account is written in: an IBAN, and for a Hungarian one its 24-digit
    account number (a 16-digit one is the 24-digit one ending in eight zeros)."""
    compact = compact_account(text)
    keys = {compact}
    if compact.startswith("HU") and len(compact) == 28:
        keys.add(compact[4:])
    if compact.isdigit() and len(compact) == 16:
        keys.add(compact + "0" * 8)
    if compact.isdigit() and len(compact) == 24 and compact.endswith("0" * 8):
        keys.add(compact[:16])
    return keys


def seller_accounts() -> set[str]:
    from billing import config

    listed = os.environ.get("SELLER_BANK_ACCOUNT") or config.seller().bank_account or ""
    return {key for part in listed.split(",") if part.strip() for key in _account_keys(part)}


def check_accounts(statements: tuple[BankStatement, ...]) -> None:
    """CONTRACT §5a: a statement of an account that is not the seller's is refused whole."""
    ours = seller_accounts()
    foreign = [s for s in statements if not _account_keys(s.account) & ours]
    if foreign:
        raise InvalidInput("a statement of an account that is not one of the seller's (SELLER_BANK_ACCOUNT); "
                           "nothing of the file was imported", {"errors": [
                               {"field": "Stmt/Acct/Id", "message": f"{s.account} (statement {s.statement_id}) is not "
                                                                    "a seller account"} for s in foreign]})


# -- the import ------------------------------------------------------------------------------

def import_bank_statement(factory: sessionmaker, data: bytes) -> dict:
    """A malformed file raises CamtError (422) and a foreign account InvalidInput (422) before
    anything is written; the whole file is then one transaction."""
    statements = parse_statements(data)
    check_accounts(statements)
    results: list[dict] = []
    with factory.begin() as session:
        for statement in statements:
            for tx in statement.transactions:
                results += _import(session, statement, tx)
    counts = {result: sum(1 for e in results if e["result"] == result) for result in RESULTS}
    return {"statements": [s.statement_id for s in statements], **counts, "entries": results}


def _base(tx: BankTransaction) -> dict:
    # An amount with more decimals than its currency has (fillér) is shown as the bank wrote it.
    amount = fmt(tx.amount, tx.currency) if has_currency_precision(tx.amount, tx.currency) else str(tx.amount)
    return {"entry_id": tx.entry_id, "bank_reference": tx.bank_reference,
            "direction": "credit" if tx.credit else "debit",
            "booking_date": tx.booking_date.isoformat(), "amount": amount, "currency": tx.currency}


def _import(session: Session, statement: BankStatement, tx: BankTransaction) -> list[dict]:
    base = _base(tx)
    claimed = insert_new(session, pm.BankEntry, {
        "entry_id": tx.entry_id, "statement_id": statement.statement_id, "iban": compact_account(statement.account),
        "booking_date": tx.booking_date, "amount": tx.amount, "currency": tx.currency,
        "remittance": tx.remittance, "debtor_name": tx.debtor_name, "debtor_iban": tx.debtor_iban,
        "status": "unmatched", "direction": "credit" if tx.credit else "debit",
        "refs": "\n".join(tx.references) or None, "returned": tx.returned,
        "batch": bool(tx.problem and tx.problem.startswith("a batch")), "return_reason": tx.return_reason,
        "bank_reference": tx.bank_reference,
        "reason": tx.problem})
    row = session.scalars(select(pm.BankEntry).where(pm.BankEntry.entry_id == tx.entry_id)).one()
    if not claimed:
        return [{**base, "result": "duplicate", "status": row.status}]
    if not tx.credit:
        return [_debit(session, row, base)]
    if tx.reversal_indicator:
        _set(session, row, status="ignored", reason="the bank reversing one of its own debits: not a payment")
        return [{**base, "result": "ignored", "reason": row.reason}]
    if tx.problem:
        status = "unmatched" if row.batch else "rejected"
        _set(session, row, status=status, reason=tx.problem)
        return [{**base, "result": status, "reason": tx.problem}]
    result = _credit(session, row, base)
    # A return imported before this credit: it reverses it now.
    return [result, *_earlier_returns(session, row)]


def _credit(session: Session, row: pm.BankEntry, base: dict) -> dict:
    number, account_id, reason = _match(session, row.remittance)
    if account_id is None:
        _set(session, row, proforma_number=number, reason=reason)
        return {**base, "result": "unmatched", "proforma_number": number, "reason": reason}
    event_id = payment_event_id("bank", row.entry_id)
    reason = book_payment(session, payment_event(event_id, account_id, booking_instant(row.booking_date), row.amount,
                                                 row.currency, "bank_transfer", number, row.entry_id))
    if reason is not None:
        _set(session, row, status="rejected", proforma_number=number, account_id=account_id, reason=reason)
        return {**base, "result": "rejected", "proforma_number": number, "account_id": account_id, "reason": reason}
    _set(session, row, status="matched", proforma_number=number, account_id=account_id, event_id=event_id, reason=None)
    return {**base, "result": "booked", "proforma_number": number, "account_id": account_id,
            "payment_event_id": event_id}


def _match(session: Session, remittance: str) -> tuple[str | None, str | None, str | None]:
    """(proforma number, its account, why unmatched) from the remittance text."""
    from billing.db import models as m

    numbers = find_proforma_numbers(remittance)
    if not numbers:
        return None, None, "no proforma number in the remittance"
    rows = [row for row in (session.get(m.DocumentRow, n) for n in numbers) if row is not None
            and row.kind == "proforma"]
    if not rows:
        return numbers[0], None, f"{', '.join(numbers)}: no such proforma"
    if len({row.account_id for row in rows}) > 1:
        return rows[0].number, None, "the remittance names proformas of several accounts"
    return rows[0].number, rows[0].account_id, None


# -- returns ---------------------------------------------------------------------------------

def _refs(row: pm.BankEntry) -> set[str]:
    return set((row.refs or "").split("\n")) - {""}


def _points_at(debit: pm.BankEntry, credit: pm.BankEntry) -> bool:
    """Whether the debit returns the credit (both of the same statement account)."""
    if credit.direction != "credit" or credit.reversed_amount >= credit.amount or debit.currency != credit.currency:
        return False
    if debit.booking_date < credit.booking_date and not debit.returned:
        return False
    credit_refs, debit_refs = _refs(credit), _refs(debit)
    if credit_refs & debit_refs:
        return True
    words = set(debit.remittance.split())
    if credit_refs & words:
        return True
    if not credit.proforma_number or debit.amount > credit.amount - credit.reversed_amount:
        return False
    names_it = credit.proforma_number in find_proforma_numbers(debit.remittance)
    # A debit that only names the proforma must say it is a return, or give back exactly the credit.
    return names_it and (debit.returned or debit.amount == credit.amount)


def _debit(session: Session, row: pm.BankEntry, base: dict) -> dict:
    candidates = session.scalars(select(pm.BankEntry).where(
        pm.BankEntry.iban == row.iban, pm.BankEntry.direction == "credit",
        pm.BankEntry.status.in_((*BOOKED, "unmatched", "rejected")))
        .order_by(pm.BankEntry.booking_date.desc(), pm.BankEntry.id.desc()))
    credit = next((c for c in candidates if _points_at(row, c)), None)
    if credit is None:
        _set(session, row, status="ignored", reason="a debit that returns no credit of ours")
        return {**base, "result": "ignored", "reason": row.reason}
    return _reverse(session, credit, row, base)


def _earlier_returns(session: Session, credit: pm.BankEntry) -> list[dict]:
    debits = session.scalars(select(pm.BankEntry).where(
        pm.BankEntry.iban == credit.iban, pm.BankEntry.direction == "debit", pm.BankEntry.status == "ignored")
        .order_by(pm.BankEntry.booking_date, pm.BankEntry.id))
    results = []
    for debit in debits:
        if credit.reversed_amount < credit.amount and _points_at(debit, credit):
            results.append(_reverse(session, credit, debit, {**_entry_base(debit), "note": "imported before the credit"}))
    return results


def _entry_base(row: pm.BankEntry) -> dict:
    return {"entry_id": row.entry_id, "bank_reference": row.bank_reference, "direction": row.direction,
            "booking_date": row.booking_date.isoformat(),
            "amount": fmt(row.amount, row.currency), "currency": row.currency}


def _reverse(session: Session, credit: pm.BankEntry, debit: pm.BankEntry, base: dict) -> dict:
    amount = min(debit.amount, credit.amount - credit.reversed_amount)
    fully = credit.reversed_amount + amount >= credit.amount
    result = {**base, "result": "reversed", "reverses": credit.entry_id, "reversed_amount": str(amount),
              "account_id": credit.account_id}
    if credit.status in BOOKED and credit.event_id:
        reversal, _ = book_reversal(session, Reversal(
            key=f"bank:{debit.entry_id}", source="bank_return", payment_event_id=credit.event_id, amount=amount,
            at=booking_instant(debit.booking_date), reference=credit.entry_id, reason=debit.return_reason,
            details={"debit_entry_id": debit.entry_id, "credit_entry_id": credit.entry_id}))
        result["payment_event_id"] = credit.event_id
        result["reversal_event_id"] = reversal.event_id
        status = "reversed" if fully else credit.status
    else:  # never booked: the money went back before anyone placed it; finance has nothing to do
        status = "returned" if fully else credit.status
    _set(session, credit, status=status, reversed_amount=credit.reversed_amount + amount)
    _set(session, debit, status="reversal", reverses=credit.entry_id, account_id=credit.account_id, reason=None)
    log.info("bank return %s reverses %s (%s %s)", debit.entry_id, credit.entry_id, amount, credit.currency)
    return result


def _set(session: Session, row: pm.BankEntry, **values) -> None:
    for name, value in {**values, "updated_at": datetime.now(timezone.utc)}.items():
        setattr(row, name, value)
