"""Payment use cases: card checkouts, Stripe webhooks, bank statements, card refunds.

Money enters the ledger only as a stored `payment.received` event (billing.events.ingest); the
daily cycle then credits, allocates and invoices it. Each use case owns its transaction. Outside
identifiers (Stripe event id, payment intent id, bank entry id, Stripe refund id) are unique keys
claimed with INSERT … ON CONFLICT DO NOTHING first, so a redelivery or a concurrent twin stops at
the constraint: on PostgreSQL the second insert waits for the first transaction and then inserts
nothing; on SQLite BEGIN IMMEDIATE serialises writers the same way.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.cycle.run import load_state
from billing.cycle.write import add_posting
from billing.db import models as m
from billing.domain import records as r
from billing.errors import Conflict, InvalidInput, NotFound, Unavailable
from billing.dates import local_day
from billing.money import fmt, has_currency_precision, quantum
from billing.payments import models as pm
from billing.payments.booking import (book_payment, booking_instant, payment_event, payment_event_id,
                                      pending_payments)
from billing.payments.claims import insert_new  # noqa: F401  (used here and by the payment modules)
from billing.payments.errors import GatewayError, GatewayNotConfigured, UnattributedPayment
from billing.payments.reversals import Reversal, book_reversal, reversed_total
from billing.payments.stripe_amounts import from_stripe_amount
from billing.payments.stripe_events import MoneyBackNotice, money_back_from_event
from billing.payments.stripe_gateway import StripeGateway, payment_from_event, refund_from_event

log = logging.getLogger("billing.payments")

# Stripe Checkout sessions expire after 24 hours; a stored one is reused only well before that.
CHECKOUT_REUSE = timedelta(hours=23)
FINAL_CARD_STATES = frozenset({"succeeded", "paid_out"})


# -- shared helpers ---------------------------------------------------------------------------

# -- checkout ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckoutAnswer:
    body: dict[str, Any]
    created: bool


def open_amount(session: Session, number: str) -> tuple[m.DocumentRow, Decimal]:
    """The proforma and what it still asks for; Conflict when it cannot be paid."""
    from billing.views.accounts import get_account
    from billing.views.documents import document_statuses, get_document_row, paid_by_proforma

    row = get_document_row(session, number)
    if row.kind != "proforma":
        raise Conflict(f"{number} is a {row.kind}; only a proforma can be paid by checkout")
    paid_map = paid_by_proforma(session, [number])
    state = load_state(session, get_account(session, row.account_id))
    status = document_statuses(session, [row], state, paid_map)[number]
    if status in ("paid", "void"):
        raise Conflict(f"proforma {number} is {status}")
    paid = paid_map.get(number, Decimal(0))
    # Quantised, so the stored session's amount compares equal on SQLite (kept as text) too.
    remaining = (row.gross - paid - pending_payments(session, row)).quantize(quantum(row.currency))
    if remaining <= 0:
        raise Conflict(f"proforma {number} is paid; the payment is being processed")
    return row, remaining


def _return_urls(number: str) -> tuple[str, str]:
    base = os.environ.get("BILLING_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    return (os.environ.get("CHECKOUT_SUCCESS_URL", f"{base}/checkout/success?proforma={number}"),
            os.environ.get("CHECKOUT_CANCEL_URL", f"{base}/checkout/cancel?proforma={number}"))


def _checkout_body(row: pm.CheckoutSession) -> dict:
    return {"proforma_number": row.proforma_number, "session_id": row.session_id, "url": row.url,
            "amount": fmt(row.amount, row.currency), "currency": row.currency,
            "created_at": row.created_at.isoformat()}


def create_checkout(factory: sessionmaker, gateway: StripeGateway, number: str,
                    now: datetime | None = None) -> CheckoutAnswer:
    now = now or datetime.now(timezone.utc)
    if not gateway.configured:  # 503 before anything is read
        raise GatewayNotConfigured("STRIPE_API_KEY is not set; card checkout is unavailable")
    with factory() as session:
        proforma, remaining = open_amount(session, number)
        stored = session.scalars(select(pm.CheckoutSession).where(
            pm.CheckoutSession.proforma_number == number, pm.CheckoutSession.amount == remaining,
            pm.CheckoutSession.created_at > now - CHECKOUT_REUSE).order_by(pm.CheckoutSession.id.desc())).first()
        if stored is not None:
            return CheckoutAnswer(_checkout_body(stored), created=False)
        account_id, currency = proforma.account_id, proforma.currency
    # Stripe is called outside any transaction (no lock held over the network); its idempotency
    # key (proforma, currency, amount) makes a concurrent or retried call get the same session.
    success_url, cancel_url = _return_urls(number)
    from billing.payments.saved_cards import ensure_customer

    # The account's Stripe customer, so Checkout keeps the card for later (CONTRACT §8).
    customer_id = ensure_customer(factory, gateway, account_id)
    result = gateway.create_checkout(proforma_number=number, account_id=account_id, amount=remaining,
                                     currency=currency, success_url=success_url, cancel_url=cancel_url,
                                     customer_id=customer_id)
    with factory.begin() as session:
        created = insert_new(session, pm.CheckoutSession, {
            "session_id": result.session_id, "proforma_number": number, "account_id": account_id,
            "url": result.url, "amount": remaining, "currency": currency, "created_at": now})
        row = session.scalars(select(pm.CheckoutSession).where(
            pm.CheckoutSession.session_id == result.session_id)).one()
        return CheckoutAnswer(_checkout_body(row), created=created)


# -- Stripe webhook ---------------------------------------------------------------------------

def handle_stripe_webhook(factory: sessionmaker, gateway: StripeGateway, payload: bytes,
                          signature: str | None, now: int | None = None) -> dict:
    """Verify, then act once per Stripe event id. Raises InvalidSignature (400) before writing."""
    event = gateway.parse_webhook(payload, signature or "", now=now)
    with factory.begin() as session:
        if not insert_new(session, pm.StripeWebhookEvent, {
                "stripe_event_id": str(event["id"]), "type": str(event["type"])[:100], "outcome": "received"}):
            return {"received": True, "event_id": event["id"], "outcome": "duplicate_event"}
        outcome = _dispatch(session, event)
        session.execute(update(pm.StripeWebhookEvent).where(
            pm.StripeWebhookEvent.stripe_event_id == str(event["id"])).values(outcome=outcome["outcome"]))
        return {"received": True, "event_id": event["id"], **outcome}


def _dispatch(session: Session, event: dict) -> dict:
    try:
        notice = payment_from_event(event)
    except UnattributedPayment as exc:
        return _park_unattributed(session, event, exc)
    if notice is not None:
        return _card_payment(session, notice)
    refund = refund_from_event(event)
    outcome = _refund_update(session, refund) if refund is not None else None
    money_back = money_back_from_event(event)
    if money_back is not None:
        back = _money_back(session, money_back)
        if outcome is None or outcome["outcome"] == "ignored_refund" or back["outcome"] != "no_outside_money_back":
            return {**(outcome or {}), **back}
    return outcome or {"outcome": "ignored"}


def _money_back(session: Session, notice: MoneyBackNotice) -> dict:
    """A refund made in Stripe's dashboard or a dispute's withdrawn funds: booked like a bank
    return (billing/payments/reversals.py), once per refunded total or dispute."""
    card = session.scalars(select(pm.CardPayment).where(pm.CardPayment.external_id == notice.payment_intent_id)).first()
    if card is None or card.status != "booked" or not card.event_id:
        return {"outcome": "ignored_money_back", "payment_intent": notice.payment_intent_id}
    if notice.kind == "stripe_dispute":
        amount, key = notice.amount, f"stripe-dispute:{notice.source_id}"
    else:
        ours = [row for row in session.scalars(select(pm.CardRefund).where(
            pm.CardRefund.payment_intent_id == notice.payment_intent_id)) if row.closed_status != "failed"]
        recorded = {row.stripe_refund_id for row in ours}
        if any(reference and refund_id not in recorded for refund_id, _, reference in notice.listed_refunds):
            # One of ours (we set metadata.reference) whose transaction has not committed yet.
            raise Unavailable(f"a refund of {notice.payment_intent_id} is not recorded yet; retry")
        already = reversed_total(session, card.event_id, "stripe_refund")
        amount = notice.amount - sum((row.amount for row in ours), Decimal(0)) - already
        if amount > 0 and not notice.listed_refunds and _refund_in_flight(session, card.account_id,
                                                                          notice.payment_intent_id, amount):
            raise Unavailable(f"a refund of {notice.payment_intent_id} is being sent; retry")
        key = f"stripe-refunded:{notice.payment_intent_id}:{notice.amount}"
    left = card.amount - reversed_total(session, card.event_id)
    amount = min(amount, left)
    if amount <= 0:
        return {"outcome": "no_outside_money_back", "payment_intent": notice.payment_intent_id}
    row, created = book_reversal(session, Reversal(
        key=key, source=notice.kind, payment_event_id=card.event_id, amount=amount, at=notice.occurred_at,
        reference=notice.source_id, reason=notice.reason,
        details={"stripe_event_id": notice.stripe_event_id, "payment_intent": notice.payment_intent_id}))
    log.warning("card payment %s: %s %s %s made outside the service, booked as a reversal",
                notice.payment_intent_id, notice.kind, amount, notice.currency)
    return {"outcome": "reversal_booked" if created else "duplicate_reversal", "reversal_id": row.id,
            "payment_event_id": card.event_id, "amount": fmt(amount, card.currency)}


def _refund_in_flight(session: Session, account_id: str, payment_intent_id: str, amount: Decimal) -> bool:
    """Without the refunds list, a refunded total that is exactly a due card refund part of ours
    is most likely that part, sent a moment ago and not recorded yet."""
    refunds = list(session.scalars(select(m.RefundRow).where(m.RefundRow.account_id == account_id)))
    latest = _latest_states(session, [x.id for x in refunds])
    return any(part.get("external_id") == payment_intent_id and Decimal(part["amount"]) == amount
               and getattr(latest.get((refund.id, index)), "status", "due") == "due"
               for refund in refunds for index, part in enumerate(refund.parts))


def _card_payment(session: Session, notice) -> dict:
    from billing.payments import saved_cards

    notice = saved_cards.dated_like_its_charge(session, notice)  # an off-session charge: its run's day
    # The claim: one row per payment intent, whichever of its events (checkout.session.completed,
    # payment_intent.succeeded, a redelivery, the off-session charge's own answer) arrives first.
    claimed = insert_new(session, pm.CardPayment, {
        "external_id": notice.external_id, "stripe_event_id": notice.stripe_event_id,
        "account_id": notice.account_id, "proforma_number": notice.proforma_number,
        "amount": notice.amount, "currency": notice.currency, "occurred_at": notice.occurred_at,
        "status": "booked"})
    if not claimed:
        return {"outcome": "duplicate_payment", "external_id": notice.external_id}
    event_id = payment_event_id("stripe", notice.external_id)
    reason = book_payment(session, payment_event(
        event_id, notice.account_id, notice.occurred_at, notice.amount, notice.currency, "card",
        notice.proforma_number, notice.external_id))
    values = {"event_id": event_id} if reason is None else {"status": "parked", "reason": reason}
    session.execute(update(pm.CardPayment).where(pm.CardPayment.external_id == notice.external_id).values(**values))
    if reason is not None:
        log.warning("card payment %s parked: %s", notice.external_id, reason)
        return {"outcome": "parked", "external_id": notice.external_id, "reason": reason}
    saved_cards.remember_card(session, notice)  # its card's details are fetched outside this transaction
    return {"outcome": "booked", "external_id": notice.external_id, "payment_event_id": event_id}


def _park_unattributed(session: Session, event: dict, exc: UnattributedPayment) -> dict:
    """Money arrived without our metadata: keep it for finance rather than drop it."""
    obj = event.get("data", {}).get("object", {})
    currency = str(obj.get("currency") or "").upper()
    minor = obj.get("amount_total") or obj.get("amount_received") or obj.get("amount") or 0
    external_id = exc.external_id or f"event:{exc.stripe_event_id}"
    insert_new(session, pm.CardPayment, {
        "external_id": external_id, "stripe_event_id": exc.stripe_event_id, "account_id": None,
        "proforma_number": (obj.get("metadata") or {}).get("proforma_number"),
        "amount": from_stripe_amount(int(minor), currency) if currency else Decimal(0),
        "currency": currency or "???",
        "occurred_at": datetime.fromtimestamp(int(event.get("created", 0)), tz=timezone.utc),
        "status": "parked", "reason": exc.message})
    return {"outcome": "parked", "external_id": external_id, "reason": exc.message}


def _refund_update(session: Session, notice) -> dict:
    row = session.scalars(select(pm.CardRefund).where(pm.CardRefund.stripe_refund_id == notice.refund_id)).first()
    if row is None:
        if notice.reference:
            # Ours (we set metadata.reference), but the transaction that records it has not
            # committed yet: a non-2xx makes Stripe deliver it again later.
            raise Unavailable(f"refund {notice.refund_id} is not recorded yet; retry")
        return {"outcome": "ignored_refund", "refund_id": notice.refund_id}
    final = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(notice.status)
    if final is None:
        return {"outcome": "refund_pending", "refund_id": notice.refund_id}
    # Compare-and-set: only the webhook that moves closed_status from NULL appends the transition.
    won = session.execute(update(pm.CardRefund).where(
        pm.CardRefund.id == row.id, pm.CardRefund.closed_status.is_(None)).values(closed_status=final)).rowcount == 1
    if not won:
        return {"outcome": "refund_already_closed", "refund_id": notice.refund_id}
    session.add(m.RefundStatusRow(refund_id=row.refund_id, part_index=row.part_index, status=final,
                                  info={"stripe_refund_id": notice.refund_id, "stripe_status": notice.status,
                                        "stripe_event_id": notice.stripe_event_id}))
    if final == "succeeded":
        _post_refund_paid(session, row, notice.occurred_at)
    return {"outcome": f"refund_{final}", "refund_id": notice.refund_id}


def _post_refund_paid(session: Session, card: pm.CardRefund, at: datetime) -> None:
    """The liability booked at termination (refunds_payable) is settled out of the card clearing
    account. Customer-side amount 0: the customer's balance moved when the refund was ordered."""
    refund = session.get(m.RefundRow, card.refund_id)
    account = session.get(m.Account, refund.account_id)
    day = local_day(at, account.timezone)
    note = refund.credit_notes[0] if refund.credit_notes else None
    add_posting(session, r.Posting(refund.account_id, day, "refund_paid", Decimal(0), card.currency,
                                   (("refunds_payable", card.amount), ("clearing:card", -card.amount)),
                                   details={"refund_id": refund.id, "part_index": card.part_index,
                                            "stripe_refund_id": card.stripe_refund_id, "method": "card"},
                                   document_number=note))


def _bank_entry_json(row: pm.BankEntry) -> dict:
    return {"entry_id": row.entry_id, "bank_reference": row.bank_reference, "statement_id": row.statement_id,
            "iban": row.iban,
            "booking_date": row.booking_date.isoformat(), "amount": fmt(row.amount, row.currency),
            "currency": row.currency, "remittance": row.remittance, "debtor_name": row.debtor_name,
            "debtor_iban": row.debtor_iban, "proforma_number": row.proforma_number,
            "account_id": row.account_id, "status": row.status, "reason": row.reason,
            "payment_event_id": row.event_id, "direction": row.direction, "batch": row.batch,
            "reversed_amount": fmt(row.reversed_amount, row.currency)}


def _card_payment_json(row: pm.CardPayment) -> dict:
    return {"external_id": row.external_id, "stripe_event_id": row.stripe_event_id,
            "account_id": row.account_id, "proforma_number": row.proforma_number,
            "amount": fmt(row.amount, row.currency) if row.currency != "???" else str(row.amount),
            "currency": row.currency, "occurred_at": row.occurred_at.isoformat(), "status": row.status,
            "reason": row.reason, "payment_event_id": row.event_id}


def unmatched(session: Session) -> dict:
    """Money received that is not in the ledger: bank credits without (or with an unusable)
    proforma, and parked card payments."""
    bank = session.scalars(select(pm.BankEntry).where(pm.BankEntry.status.in_(("unmatched", "rejected")))
                           .order_by(pm.BankEntry.booking_date, pm.BankEntry.id))
    cards = session.scalars(select(pm.CardPayment).where(pm.CardPayment.status == "parked")
                            .order_by(pm.CardPayment.id))
    return {"entries": [_bank_entry_json(row) for row in bank],
            "card_payments": [_card_payment_json(row) for row in cards]}


def assign_bank_entry(factory: sessionmaker, entry_id: str, account_id: Any) -> dict:
    """Finance books an unmatched (or rejected) credit to an account. Anything invalid raises and
    the transaction rolls back: the entry stays as it was."""
    if not isinstance(account_id, str) or not account_id:
        raise InvalidInput("account_id is required", {"errors": [{"field": "account_id",
                                                                  "message": "a non-empty string"}]})
    with factory.begin() as session:
        # FOR UPDATE: two finance clicks at once would both see "unmatched" and book twice;
        # the second waits here and then finds it assigned.
        row = session.scalars(select(pm.BankEntry).where(pm.BankEntry.entry_id == entry_id)
                              .with_for_update()).first()
        if row is None:
            raise NotFound(f"no bank entry {entry_id}")
        if row.status not in ("unmatched", "rejected") or row.direction != "credit":
            raise Conflict(f"bank entry {entry_id} is already {row.status}")
        if row.batch:  # CONTRACT §5a: a batch holds several payers' money, never one account's
            raise Conflict(f"bank entry {entry_id} is a batch the statement does not itemise; "
                           "book its transactions one by one")
        if not has_currency_precision(row.amount, row.currency):
            raise Conflict(f"bank entry {entry_id}: {row.amount} has more decimals than {row.currency} has")
        if session.get(m.Account, account_id) is None:
            raise NotFound(f"no account {account_id}")
        event_id = payment_event_id("bank", entry_id)
        reference = row.proforma_number or (row.remittance[:300] or None)
        reason = book_payment(session, payment_event(event_id, account_id, booking_instant(row.booking_date),
                                               row.amount, row.currency, "bank_transfer", reference, entry_id))
        if reason is not None:
            raise InvalidInput(f"cannot book bank entry {entry_id} to {account_id}: {reason}",
                               {"errors": [{"field": "account_id", "message": reason}]})
        row.status, row.account_id, row.event_id, row.reason = "assigned", account_id, event_id, None
        row.updated_at = datetime.now(timezone.utc)
        session.flush()
        return _bank_entry_json(row)


# -- refunds ----------------------------------------------------------------------------------

def _latest_states(session: Session, refund_ids: Iterable[int]) -> dict[tuple[int, int], m.RefundStatusRow]:
    latest: dict[tuple[int, int], m.RefundStatusRow] = {}
    for row in session.scalars(select(m.RefundStatusRow).where(m.RefundStatusRow.refund_id.in_(list(refund_ids)))
                               .order_by(m.RefundStatusRow.id)):
        latest[(row.refund_id, row.part_index)] = row
    return latest


def refund_key(refund: m.RefundRow, index: int) -> str:
    """Names our refund part at Stripe: the credit note that documents it, and the part."""
    note = refund.credit_notes[0] if refund.credit_notes else f"refund-{refund.id}"
    return f"{note}:{index}"


def execute_due_refunds(factory: sessionmaker, gateway: StripeGateway) -> dict:
    """Send every due card refund part to Stripe and append `submitted`. Stripe is called outside
    any transaction; its idempotency key makes a crash-and-rerun ask for the same refund, and the
    unique (refund, part) row records it once."""
    with factory() as session:
        refunds = list(session.scalars(select(m.RefundRow).order_by(m.RefundRow.id)))
        latest = _latest_states(session, [x.id for x in refunds])
    todo = [(refund, index, part) for refund in refunds for index, part in enumerate(refund.parts)
            if part.get("method") == "card" and getattr(latest.get((refund.id, index)), "status", None) == "due"]
    if todo and not gateway.configured:
        raise GatewayNotConfigured("STRIPE_API_KEY is not set; card refunds cannot be sent")
    submitted, errors = [], []
    for refund, index, part in todo:
        key = refund_key(refund, index)
        if not part.get("external_id"):
            errors.append({"refund_id": refund.id, "part_index": index, "error": "no payment intent id"})
            continue
        try:
            result = gateway.refund(payment_intent_id=part["external_id"], amount=Decimal(part["amount"]),
                                    currency=refund.currency, idempotency_key=key, reference=key)
        except GatewayError as exc:  # stays due; the next run asks again with the same key
            errors.append({"refund_id": refund.id, "part_index": index, "error": exc.message})
            continue
        with factory.begin() as session:
            if insert_new(session, pm.CardRefund, {
                    "refund_id": refund.id, "part_index": index, "stripe_refund_id": result.refund_id,
                    "payment_intent_id": part["external_id"], "amount": Decimal(part["amount"]),
                    "currency": refund.currency, "idempotency_key": key}):
                session.add(m.RefundStatusRow(refund_id=refund.id, part_index=index, status="submitted",
                                              info={"stripe_refund_id": result.refund_id,
                                                    "stripe_status": result.status, "idempotency_key": key}))
        submitted.append({"refund_id": refund.id, "part_index": index, "stripe_refund_id": result.refund_id,
                          "amount": fmt(Decimal(part["amount"]), refund.currency), "currency": refund.currency})
    return {"submitted": submitted, "errors": errors}


def _payout(session: Session, refund: m.RefundRow, part: dict, account: m.Account | None) -> dict:
    entry = None
    if part.get("external_id"):
        entry = session.scalars(select(pm.BankEntry).where(pm.BankEntry.entry_id == part["external_id"])).first()
    iban = entry.debtor_iban if entry is not None else None
    return {"beneficiary": (entry.debtor_name if entry is not None and entry.debtor_name else
                            (account.name if account else None)),
            "iban": iban, "iban_known": iban is not None,
            "note": None if iban else "IBAN unknown: ask the customer for the account to pay the refund to",
            "amount": fmt(Decimal(part["amount"]), refund.currency), "currency": refund.currency,
            "remittance": ", ".join(refund.credit_notes) or f"refund {refund.id}"}


def mark_refund_paid(factory: sessionmaker, refund_id: int, paid_on: date, reference: str,
                     today: date) -> tuple[dict, bool]:
    """The bank payout of a refund's bank-transfer parts is done (CONTRACT §5a): each part gets
    `paid_out` and its ledger posting, refunds payable → the bank (Dr refunds_payable, Cr
    clearing:bank_transfer). A retry with the same day and reference answers the same; another
    one is a 409. (the view, whether this call marked it)"""
    with factory.begin() as session:
        # FOR UPDATE: two finance clicks at once would both see the parts open and post twice.
        refund = session.scalars(select(m.RefundRow).where(m.RefundRow.id == refund_id).with_for_update()).first()
        if refund is None:
            raise NotFound(f"no refund {refund_id}")
        if paid_on > today:
            raise InvalidInput("a payout cannot be paid in the future", {"errors": [
                {"field": "paid_on", "message": f"on or before {today.isoformat()}"}]})
        if paid_on < refund.day:
            raise InvalidInput("paid before the termination it refunds", {"errors": [
                {"field": "paid_on", "message": f"on or after {refund.day.isoformat()}"}]})
        latest = _latest_states(session, [refund.id])
        bank = [(index, part) for index, part in enumerate(refund.parts) if part.get("method") == "bank_transfer"]
        if not bank:
            raise Conflict(f"refund {refund_id} goes back by card through Stripe; there is no bank payout")
        open_parts = [(index, part) for index, part in bank
                      if getattr(latest.get((refund.id, index)), "status", "due") != "paid_out"]
        if not open_parts:
            done = {(row.info.get("paid_on"), row.info.get("reference")) for index, _ in bank
                    if (row := latest[(refund.id, index)]) is not None}
            if done == {(paid_on.isoformat(), reference)}:
                return refund_view(session, refund, latest, today), False
            raise Conflict(f"refund {refund_id} was already marked paid "
                           f"({', '.join(f'{d} {ref}' for d, ref in sorted(done))})")
        account = session.get(m.Account, refund.account_id)
        note = refund.credit_notes[0] if refund.credit_notes else None
        for index, part in open_parts:
            amount = Decimal(part["amount"])
            session.add(m.RefundStatusRow(refund_id=refund.id, part_index=index, status="paid_out",
                                          info={"paid_on": paid_on.isoformat(), "reference": reference}))
            add_posting(session, r.Posting(account.id, paid_on, "refund_paid", Decimal(0), refund.currency,
                                           (("refunds_payable", amount), ("clearing:bank_transfer", -amount)),
                                           details={"refund_id": refund.id, "part_index": index,
                                                    "method": "bank_transfer", "reference": reference},
                                           document_number=note))
        session.flush()
        return refund_view(session, refund, _latest_states(session, [refund.id]), today), True


def refund_view(session: Session, refund: m.RefundRow, latest: dict, today: date) -> dict:
    account = session.get(m.Account, refund.account_id)
    parts, states = [], []
    for index, part in enumerate(refund.parts):
        status_row = latest.get((refund.id, index))
        state = status_row.status if status_row else "due"
        states.append(state)
        item = {"index": index, "method": part.get("method"), "amount": fmt(Decimal(part["amount"]), refund.currency),
                "external_id": part.get("external_id"), "state": state,
                "info": status_row.info if status_row else {}}
        if part.get("method") == "bank_transfer":
            item["payout"] = _payout(session, refund, part, account)
        parts.append(item)
    state = ("completed" if all(s in FINAL_CARD_STATES for s in states)
             else "failed" if any(s == "failed" for s in states) else "open")
    return {"id": refund.id, "account_id": refund.account_id, "terminated_on": refund.day.isoformat(),
            "due_date": refund.due_date.isoformat(), "amount": fmt(refund.amount, refund.currency),
            "currency": refund.currency, "credit_notes": list(refund.credit_notes), "state": state,
            "overdue": state != "completed" and refund.due_date < today, "parts": parts}


def list_refunds(session: Session, status: str, today: date) -> dict:
    refunds = list(session.scalars(select(m.RefundRow).order_by(m.RefundRow.due_date, m.RefundRow.id)))
    latest = _latest_states(session, [x.id for x in refunds])
    views = [refund_view(session, x, latest, today) for x in refunds]
    if status == "due":
        views = [v for v in views if v["state"] != "completed"]
    elif status == "overdue":
        views = [v for v in views if v["overdue"]]
    return {"as_of": today.isoformat(), "status": status, "refunds": views}
