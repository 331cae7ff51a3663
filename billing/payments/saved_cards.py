"""The card on file (CONTRACT §8): the account's Stripe customer, the card a Checkout payment
kept, what the portal shows of it, and its removal.

Stripe is called outside any transaction: the webhook that reports a Checkout payment only
records the card as `pending` (its payment intent id), and its details (payment method, brand,
last4, expiry) are fetched afterwards by `complete_pending_cards`, which the daily cycle and the
portal page run. This module imports nothing of the cycle, so the cycle can call it.
"""
from __future__ import annotations

import dataclasses
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.db.base import utcnow
from billing.db.session import make_read_factory
from billing.errors import Unavailable
from billing.payments.cards import CardCharge, SavedCard, StripeCustomer
from billing.payments.errors import GatewayError
from billing.payments.stripe_gateway import StripeGateway
from invoices.sqlutil import insert_if_absent

log = logging.getLogger("billing.payments.cards")


def read_only(factory: sessionmaker) -> Session:
    """A session that only reads: on SQLite it does not take the write lock (BEGIN IMMEDIATE)."""
    return make_read_factory(factory.kw["bind"])()


def ensure_customer(factory: sessionmaker, gateway: StripeGateway, account_id: str) -> str:
    """The account's Stripe customer id, created at Stripe the first time (outside any
    transaction). Two checkouts at once send the same idempotency key and get the same customer;
    the first row stored wins and both read it back."""
    with read_only(factory) as session:
        known = session.get(StripeCustomer, account_id)
        if known is not None:
            return known.customer_id
    customer_id = gateway.create_customer(account_id)
    with factory.begin() as session:
        insert_if_absent(session, StripeCustomer, {"account_id": account_id, "customer_id": customer_id,
                                                   "created_at": utcnow()})
        return session.get(StripeCustomer, account_id).customer_id


# -- the webhook's part (inside its transaction, no network) --------------------------------------

def dated_like_its_charge(session: Session, notice):
    """An off-session charge is dated by the cycle run that made it (CardCharge.occurred_at), so
    its payment has the same day whichever of Stripe's synchronous answer and this webhook books
    it. Any other payment keeps the webhook's time.

    The race: Stripe may send payment_intent.succeeded before the charge's answer is recorded
    (its payment intent id is not known here yet). While an attempt of the proforma is still
    `sending`, the webhook is refused with a 503, so Stripe delivers it again later, when the
    answer has booked it or tells its day; a claim left by a dead process is settled by the next
    run (sent again, or `unknown` after a day), so this never holds a payment back for long."""
    occurred_at = session.scalar(select(CardCharge.occurred_at).where(
        CardCharge.payment_intent_id == notice.external_id))
    if occurred_at is not None:
        return dataclasses.replace(notice, occurred_at=occurred_at)
    if notice.proforma_number and session.scalar(select(CardCharge.id).where(
            CardCharge.proforma_number == notice.proforma_number, CardCharge.status == "sending")):
        raise Unavailable(f"an off-session charge of {notice.proforma_number} is being recorded; retry")
    return notice


def remember_card(session: Session, notice) -> None:
    """A booked card payment may have saved its card: note it, once per payment intent. Not the
    off-session charges: they were made with a card already on file."""
    if session.scalar(select(CardCharge.id).where(CardCharge.payment_intent_id == notice.external_id)):
        return
    now = utcnow()
    insert_if_absent(session, SavedCard, {
        "account_id": notice.account_id, "payment_intent_id": notice.external_id, "status": "pending",
        "saved_at": notice.occurred_at, "created_at": now, "updated_at": now})


# -- outside the webhook: fetch, show, remove -------------------------------------------------------

def complete_pending_cards(factory: sessionmaker, gateway: StripeGateway, account_id: str | None = None) -> int:
    """Ask Stripe what each pending card is; the newest saved card becomes the account's card.
    A card Stripe cannot tell about now stays pending for the next call."""
    with read_only(factory) as session:
        query = select(SavedCard.id, SavedCard.payment_intent_id).where(SavedCard.status == "pending")
        if account_id is not None:
            query = query.where(SavedCard.account_id == account_id)
        pending = list(session.execute(query.order_by(SavedCard.id)))
    done = 0
    for card_id, intent_id in pending:
        try:
            details = gateway.card_of_payment(intent_id)
        except GatewayError as exc:
            log.warning("card of %s not fetched yet: %s", intent_id, exc.message)
            continue
        with factory.begin() as session:
            _settle(session, card_id, details)
        done += 1
    return done


def _settle(session: Session, card_id: int, details) -> None:
    # FOR UPDATE: a second process settling the same card waits, then finds it settled.
    card = session.scalars(select(SavedCard).where(SavedCard.id == card_id).with_for_update()).one()
    if card.status != "pending":
        return
    card.updated_at = utcnow()
    if not details.saved:
        card.status = "not_saved"
        return
    card.customer_id, card.payment_method_id = details.customer_id, details.payment_method_id
    card.brand, card.last4 = details.brand, details.last4
    card.exp_month, card.exp_year = details.exp_month, details.exp_year
    newer = session.scalar(select(SavedCard.id).where(
        SavedCard.account_id == card.account_id, SavedCard.status == "active",
        SavedCard.saved_at > card.saved_at))
    if newer is not None:  # settled late: a card saved after it is already the account's card
        card.status = "replaced"
        return
    # One card on file per account: the newest. An older one is never charged again.
    session.execute(update(SavedCard).where(
        SavedCard.account_id == card.account_id, SavedCard.status == "active",
        SavedCard.id != card.id).values(status="replaced", updated_at=card.updated_at))
    card.status = "active"


def current_card(session: Session, account_id: str) -> SavedCard | None:
    """The card that the next proforma will be charged to, if any."""
    return session.scalars(select(SavedCard).where(
        SavedCard.account_id == account_id, SavedCard.status == "active")
        .order_by(SavedCard.saved_at.desc(), SavedCard.id.desc())).first()


def remove_card(factory: sessionmaker, gateway: StripeGateway, account_id: str, card_id: int) -> bool:
    """The customer removes the card: marked removed first (from then on no charge claims it),
    then detached at Stripe outside the transaction. False if it was not this account's card on
    file. A detach that fails is retried by `detach_removed`."""
    now = utcnow()
    with factory.begin() as session:
        removed = session.execute(update(SavedCard).where(
            SavedCard.id == card_id, SavedCard.account_id == account_id, SavedCard.status == "active")
            .values(status="removed", removed_at=now, updated_at=now)).rowcount == 1
    if removed:
        detach_removed(factory, gateway, card_id)
    return removed


def detach_removed(factory: sessionmaker, gateway: StripeGateway, card_id: int | None = None) -> int:
    with read_only(factory) as session:
        query = select(SavedCard.id, SavedCard.payment_method_id).where(
            SavedCard.status == "removed", SavedCard.detached_at.is_(None))
        if card_id is not None:
            query = query.where(SavedCard.id == card_id)
        todo = list(session.execute(query))
    detached = 0
    for row_id, method_id in todo:
        try:
            gateway.detach_payment_method(method_id)
        except GatewayError as exc:
            log.warning("removed card %s not detached yet: %s", row_id, exc.message)
            continue
        with factory.begin() as session:
            session.execute(update(SavedCard).where(SavedCard.id == row_id).values(
                detached_at=utcnow(), updated_at=utcnow()))
        detached += 1
    return detached


def expiry(card: SavedCard) -> str:
    return f"{card.exp_month:02d}/{card.exp_year}" if card.exp_month and card.exp_year else ""
