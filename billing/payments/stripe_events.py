"""Pure readers of verified Stripe events: what, if anything, a webhook means for the ledger.

One card payment usually produces both `checkout.session.completed` and
`payment_intent.succeeded`; both readers give the same `external_id` (the payment intent id),
which is the dedupe key the caller enforces with a unique constraint. Only the first event to
arrive should credit the account.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from billing.payments.errors import UnattributedPayment, UnusableEvent
from billing.payments.stripe_amounts import from_stripe_amount

# Checkout reports async methods (bank debits) as completed-but-unpaid first, then sends
# async_payment_succeeded when the money is there; both forms are a payment when paid.
_SESSION_PAID_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)
_REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    stripe_event_id: str
    external_id: str  # the payment intent id: one per payment, whichever event reported it
    amount: Decimal
    currency: str  # upper case, ISO 4217
    proforma_number: str | None
    account_id: str
    occurred_at: datetime  # aware, UTC: when Stripe created the event


@dataclass(frozen=True, slots=True)
class RefundNotice:
    stripe_event_id: str
    refund_id: str
    payment_intent_id: str | None
    amount: Decimal
    currency: str
    status: str  # Stripe's: pending, requires_action, succeeded, failed, canceled
    reference: str | None  # metadata["reference"] we set when asking for the refund
    occurred_at: datetime


def _mapping(value: Any) -> Mapping[str, Any]:
    """A signed event is still outside input: a part that should be an object and is not counts
    as missing."""
    return value if isinstance(value, Mapping) else {}


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(event.get("data")).get("object"))


def _field(obj: Mapping[str, Any], name: str, event_id: str) -> Any:
    value = obj.get(name)
    if value is None:
        raise UnusableEvent(f"Stripe event {event_id}: object has no {name!r}")
    return value


def _text(obj: Mapping[str, Any], name: str, event_id: str) -> str:
    value = _field(obj, name, event_id)
    if not isinstance(value, str):
        raise UnusableEvent(f"Stripe event {event_id}: {name!r} is not a string")
    return value


def _occurred_at(event: Mapping[str, Any]) -> datetime:
    created = event.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise UnusableEvent(f"Stripe event {event.get('id', '?')}: no creation time")
    try:
        return datetime.fromtimestamp(created, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise UnusableEvent(f"Stripe event {event.get('id', '?')}: creation time out of range") from exc


def _id_of(value: Any) -> str | None:
    """An expandable field: a bare id or the expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _notice(event, external_id, amount_minor, currency, metadata) -> PaymentNotice:
    metadata = _mapping(metadata)
    account_id = metadata.get("account_id")
    if not account_id:
        raise UnattributedPayment(event["id"], external_id)
    return PaymentNotice(
        stripe_event_id=event["id"],
        external_id=external_id,
        amount=from_stripe_amount(amount_minor, currency),
        currency=currency.upper(),
        proforma_number=metadata.get("proforma_number") or None,
        account_id=account_id,
        occurred_at=_occurred_at(event),
    )


def payment_from_event(event: Mapping[str, Any]) -> PaymentNotice | None:
    """A paid checkout session or a succeeded payment intent -> PaymentNotice; else None."""
    kind = event.get("type")
    obj = _object(event)
    event_id = event.get("id", "?")
    if kind in _SESSION_PAID_EVENTS:
        if obj.get("payment_status") != "paid":
            return None  # completed but the money is not there yet (async method)
        external_id = _id_of(_field(obj, "payment_intent", event_id))
        if external_id is None:
            raise UnusableEvent(f"Stripe event {event_id}: the payment intent is not an id")
        return _notice(
            event, external_id, _field(obj, "amount_total", event_id),
            _text(obj, "currency", event_id), obj.get("metadata"),
        )
    if kind == "payment_intent.succeeded":
        amount = obj.get("amount_received") or _field(obj, "amount", event_id)
        return _notice(
            event, _text(obj, "id", event_id), amount,
            _text(obj, "currency", event_id), obj.get("metadata"),
        )
    return None


def _refund_notice(event: Mapping[str, Any], refund: Mapping[str, Any]) -> RefundNotice:
    event_id = event.get("id", "?")
    currency = _text(refund, "currency", event_id)
    return RefundNotice(
        stripe_event_id=event["id"],
        refund_id=_text(refund, "id", event_id),
        payment_intent_id=_id_of(refund.get("payment_intent")),
        amount=from_stripe_amount(_field(refund, "amount", event_id), currency),
        currency=currency.upper(),
        status=_text(refund, "status", event_id),
        reference=_mapping(refund.get("metadata")).get("reference") or None,
        occurred_at=_occurred_at(event),
    )


def refund_from_event(event: Mapping[str, Any]) -> RefundNotice | None:
    """A refund's state change -> RefundNotice; None for other events.

    refund.* events carry the refund itself. charge.refunded carries the charge, whose
    `refunds` list Stripe no longer includes by default (API 2022-11-15+): then it is None and
    the accompanying refund.updated event is the one that counts. When the list is present, the
    newest refund is reported.
    """
    kind = event.get("type")
    obj = _object(event)
    if kind in _REFUND_EVENTS:
        return _refund_notice(event, obj)
    if kind == "charge.refunded":
        listed = _mapping(obj.get("refunds")).get("data")
        refunds = [refund for refund in listed if isinstance(refund, Mapping)] if isinstance(listed, list) else []
        if not refunds:
            return None
        newest = max(refunds, key=lambda refund: refund.get("created", 0))
        if newest.get("payment_intent") is None and obj.get("payment_intent"):
            newest = {**newest, "payment_intent": obj["payment_intent"]}
        return _refund_notice(event, newest)
    return None


@dataclass(frozen=True, slots=True)
class MoneyBackNotice:
    """Card money that went back to the payer (CONTRACT §5a): a charge's refunded total (a
    `charge.refunded`, which counts every refund of the charge, ours and the dashboard's) or a
    dispute's withdrawn funds."""
    stripe_event_id: str
    kind: str  # "stripe_refund" | "stripe_dispute"
    payment_intent_id: str
    amount: Decimal  # for a refund: the charge's amount_refunded so far; for a dispute: its amount
    currency: str
    occurred_at: datetime
    source_id: str  # the charge id, or the dispute id
    reason: str | None
    listed_refunds: tuple[tuple[str, Decimal, str | None], ...] = ()  # (id, amount, our metadata.reference)


def money_back_from_event(event: Mapping[str, Any]) -> MoneyBackNotice | None:
    kind = event.get("type")
    if kind not in ("charge.refunded", "charge.dispute.funds_withdrawn"):
        return None
    obj = _object(event)
    event_id = event.get("id", "?")
    currency = _text(obj, "currency", event_id)
    payment_intent = _id_of(obj.get("payment_intent"))
    if payment_intent is None:
        raise UnusableEvent(f"Stripe event {event_id}: no payment intent")
    if kind == "charge.dispute.funds_withdrawn":
        return MoneyBackNotice(event["id"], "stripe_dispute", payment_intent,
                               from_stripe_amount(_field(obj, "amount", event_id), currency), currency.upper(),
                               _occurred_at(event), _text(obj, "id", event_id), obj.get("reason") or None)
    listed = _mapping(obj.get("refunds")).get("data")
    refunds = tuple(
        (str(r.get("id")), from_stripe_amount(r["amount"] if type(r.get("amount")) is int else 0, currency),
         _mapping(r.get("metadata")).get("reference") or None)
        for r in (listed if isinstance(listed, list) else []) if isinstance(r, Mapping)
        and r.get("status") not in ("failed", "canceled"))
    return MoneyBackNotice(event["id"], "stripe_refund", payment_intent,
                           from_stripe_amount(_field(obj, "amount_refunded", event_id), currency), currency.upper(),
                           _occurred_at(event), _text(obj, "id", event_id), None, refunds)
