"""Off-session charges of the card on file (CONTRACT §8), run at the end of every cycle run.

For each open proforma of an account with a saved card, issued on or after the day the card was
saved, the attempts that are due (billing.payments.card_schedule) are made one after another:

1. claim: one transaction re-reads what the proforma still asks and inserts the attempt's unique
   row (proforma, attempt) with INSERT … ON CONFLICT DO NOTHING; only the process whose insert
   went in goes on, so two processes or a rerun never make one attempt twice (the row's token
   lets a later run take over a claim whose process died: `_stale`);
2. send: the PaymentIntent is created outside any transaction (no lock is held while Stripe
   answers), with the idempotency key `offsession:<proforma>:<attempt>` and the claimed amount, so
   sending it again after a lost answer replays Stripe's first answer instead of charging again;
3. record: one transaction writes the answer and, when Stripe says succeeded, books the payment
   through the claim the webhook uses (a CardPayment row per payment intent): whichever of the
   answer and payment_intent.succeeded comes first books it, the other finds it booked.

The accounts whose payment was booked are processed once more through the same day (`process`),
so the payment is credited and invoiced on the day it was charged, not at the next run.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.db.base import utcnow
from billing.db import models as m
from billing.dates import local_day
from billing.money import quantum
from billing.payments import models as pm
from billing.payments.card_schedule import RETRYABLE, attempt_day, attempts_due, earliest_issue_charged
from billing.payments.cards import CardCharge, SavedCard
from billing.payments.booking import book_payment, payment_event, payment_event_id, pending_payments
from billing.payments.claims import insert_new
from billing.payments.errors import GatewayError
from billing.payments.saved_cards import complete_pending_cards, detach_removed, read_only
from billing.payments.stripe_gateway import ChargeResult, StripeGateway, gateway_from_env

log = logging.getLogger("billing.payments.cards")

# A claim still `sending` this long after its last touch belongs to a process that died (or lost
# Stripe's answer): it is sent again with the same key. Stripe keeps keys 24 hours; past that a
# second send could charge twice, so the attempt becomes `unknown` for finance instead.
STALE_SENDING = timedelta(minutes=5)
KEY_LIFETIME = timedelta(hours=23)
CLOSED = ("terminated", "expired")


@dataclass(frozen=True, slots=True)
class Attempt:
    """A claimed attempt, as the claim transaction read it."""
    id: int
    claim: str
    account_id: str
    proforma_number: str
    attempt: int
    amount: Decimal
    currency: str
    key: str
    customer_id: str
    payment_method_id: str
    occurred_at: datetime


def charge_saved_cards(factory: sessionmaker, until: date, process: Callable[[list[str]], object] | None = None,
                       *, gateway: StripeGateway | None = None, now: datetime | None = None) -> dict:
    gateway = gateway or gateway_from_env()
    if not gateway.configured:
        return {"attempts": []}
    now = now or utcnow()
    complete_pending_cards(factory, gateway)  # a card saved since the last run is charged today
    detach_removed(factory, gateway)  # removals whose detach at Stripe failed earlier
    done = [_send(factory, gateway, attempt) for attempt in _stale(factory, now)]
    for number in _candidates(factory, until):
        while (attempt := _claim(factory, number, until, now)) is not None:
            done.append(_send(factory, gateway, attempt))
            if done[-1]["status"] not in RETRYABLE:
                break
    booked = sorted({item["account_id"] for item in done if item["booked"]})
    if booked and process is not None:
        process(booked)
    return {"attempts": done, "booked_accounts": booked}


def charge_instant(day: date, timezone: str, now: datetime) -> datetime:
    """When a charge made by the run through `day` is dated: now, when now is that business day
    (the daily scheduler); otherwise noon of that day in the account's zone (a driven or
    catch-up clock: the run stands for that day, and noon never crosses a DST edge)."""
    if local_day(now, timezone) == day:
        return now
    return datetime.combine(day, time(12, 0), tzinfo=ZoneInfo(timezone))


def still_asked(session: Session, proforma: m.DocumentRow) -> Decimal:
    """What the proforma still asks: its amount less the payments allocated to it and the ones
    stored for it that the cycle has not allocated yet (usecases.open_amount's rule; that
    function reads through the cycle, which this module must not import: the cycle calls it)."""
    allocated = session.scalars(select(m.AllocationRow.amount).where(
        m.AllocationRow.proforma_number == proforma.number))
    return (proforma.gross - sum(allocated, Decimal(0))
            - pending_payments(session, proforma)).quantize(quantum(proforma.currency))


def _candidates(factory: sessionmaker, until: date) -> list[str]:
    """Proformas of accounts with a card on file that may have an attempt due through `until`."""
    with read_only(factory) as session:
        rows = session.execute(
            select(m.DocumentRow.number).join(SavedCard, SavedCard.account_id == m.DocumentRow.account_id)
            .where(m.DocumentRow.kind == "proforma", SavedCard.status == "active",
                   m.DocumentRow.issue_date >= earliest_issue_charged(until), m.DocumentRow.issue_date <= until)
            .order_by(m.DocumentRow.issue_date, m.DocumentRow.number))
        return list(dict.fromkeys(number for (number,) in rows))


def _claim(factory: sessionmaker, number: str, until: date, now: datetime) -> Attempt | None:
    with factory.begin() as session:
        proforma = session.get(m.DocumentRow, number)
        account = session.get(m.Account, proforma.account_id)
        status = session.scalar(select(m.AccountStateRow.status).where(
            m.AccountStateRow.account_id == account.id))
        # FOR UPDATE on the card: a removal in the portal waits for this claim, and a claim after
        # the removal finds no card. (SQLite: BEGIN IMMEDIATE serialises the same way.)
        card = session.scalars(select(SavedCard).where(SavedCard.account_id == account.id, SavedCard.status == "active")
                               .order_by(SavedCard.saved_at.desc(), SavedCard.id.desc()).with_for_update()).first()
        if status in CLOSED or card is None or proforma.issue_date < local_day(card.saved_at, account.timezone):
            return None  # a void proforma, no card, or one issued before the card was saved
        made = dict(session.execute(select(CardCharge.attempt, CardCharge.status).where(
            CardCharge.proforma_number == number)).all())
        due = attempts_due(proforma.issue_date, until, made)
        amount = still_asked(session, proforma)
        if not due or amount <= 0:
            return None
        values = {"proforma_number": number, "attempt": due[0], "account_id": account.id, "card_id": card.id,
                  "scheduled_on": attempt_day(proforma.issue_date, due[0]), "charged_on": until,
                  "occurred_at": charge_instant(until, account.timezone, now), "amount": amount,
                  "currency": proforma.currency, "idempotency_key": f"offsession:{number}:{due[0]}",
                  "claim": uuid.uuid4().hex, "status": "sending", "created_at": now, "updated_at": now}
        # The claim: a concurrent twin's insert waits for this transaction and then inserts nothing.
        if not insert_new(session, CardCharge, values):
            return None
        row = session.scalars(select(CardCharge).where(CardCharge.proforma_number == number,
                                                       CardCharge.attempt == due[0])).one()
        return _attempt(row, card)


def _attempt(row: CardCharge, card: SavedCard) -> Attempt:
    return Attempt(row.id, row.claim, row.account_id, row.proforma_number, row.attempt, row.amount, row.currency,
                   row.idempotency_key, card.customer_id, card.payment_method_id, row.occurred_at)


def _stale(factory: sessionmaker, now: datetime) -> Iterable[Attempt]:
    """Claims whose answer was never recorded: taken over (compare-and-set on the token) and sent
    again with their key while Stripe still knows it; older ones are given up as unknown."""
    with factory.begin() as session:
        session.execute(update(CardCharge).where(
            CardCharge.status == "sending", CardCharge.created_at < now - KEY_LIFETIME)
            .values(status="unknown", updated_at=now, message="no answer from Stripe within a day"))
        stale = list(session.scalars(select(CardCharge).where(
            CardCharge.status == "sending", CardCharge.updated_at < now - STALE_SENDING)))
        taken = []
        for row in stale:
            card = session.get(SavedCard, row.card_id)
            if card.status != "active":
                # Removed since: never sent again. If the lost send did charge, Stripe's webhook
                # still books that payment (and the 503 of saved_cards stops once this is final).
                row.status, row.updated_at, row.message = "refused", now, "the card was removed before an answer"
                continue
            token = uuid.uuid4().hex
            if session.execute(update(CardCharge).where(CardCharge.id == row.id, CardCharge.claim == row.claim)
                               .values(claim=token, updated_at=now)).rowcount == 1:
                taken.append(Attempt(row.id, token, row.account_id, row.proforma_number, row.attempt, row.amount,
                                     row.currency, row.idempotency_key, card.customer_id, card.payment_method_id,
                                     row.occurred_at))
    return taken


def _send(factory: sessionmaker, gateway: StripeGateway, attempt: Attempt) -> dict:
    summary = {"proforma_number": attempt.proforma_number, "attempt": attempt.attempt,
               "account_id": attempt.account_id, "booked": False}
    try:
        result = gateway.charge_off_session(
            idempotency_key=attempt.key, proforma_number=attempt.proforma_number, account_id=attempt.account_id,
            amount=attempt.amount, currency=attempt.currency, customer_id=attempt.customer_id,
            payment_method_id=attempt.payment_method_id)
    except GatewayError as exc:  # stays `sending`: a later run sends it again with the same key
        log.warning("off-session charge %s: %s", attempt.key, exc.message)
        return {**summary, "status": "sending"}
    with factory.begin() as session:
        recorded = session.execute(update(CardCharge).where(
            CardCharge.id == attempt.id, CardCharge.claim == attempt.claim, CardCharge.status == "sending")
            .values(status=result.status, payment_intent_id=result.payment_intent_id, code=result.code,
                    message=result.message, updated_at=utcnow())).rowcount == 1
        booked = recorded and result.status == "succeeded" and _book(session, attempt, result)
    return {**summary, "status": result.status, "code": result.code, "payment_intent_id": result.payment_intent_id,
            "booked": booked}


def _book(session: Session, attempt: Attempt, result: ChargeResult) -> bool:
    """The webhook's claim (CardPayment, unique by payment intent) and its payment.received
    event: the same event id and body usecases._card_payment stores for this payment intent."""
    intent = result.payment_intent_id
    if not insert_new(session, pm.CardPayment, {
            "external_id": intent, "stripe_event_id": f"charge:{attempt.key}",  # no Stripe event: the attempt
            "account_id": attempt.account_id, "proforma_number": attempt.proforma_number,
            "amount": attempt.amount, "currency": attempt.currency, "occurred_at": attempt.occurred_at,
            "status": "booked", "created_at": utcnow()}):
        return False  # the webhook came first and booked it
    row = session.scalars(select(pm.CardPayment).where(pm.CardPayment.external_id == intent)).one()
    event_id = payment_event_id("stripe", intent)  # the webhook's (usecases._card_payment) for this intent
    reason = book_payment(session, payment_event(event_id, attempt.account_id, attempt.occurred_at, attempt.amount,
                                                 attempt.currency, "card", attempt.proforma_number, intent))
    if reason is not None:  # e.g. terminated meanwhile: parked for finance, as the webhook does
        row.status, row.reason = "parked", reason
        log.warning("off-session payment %s parked: %s", intent, reason)
        return False
    row.event_id = event_id
    return True
