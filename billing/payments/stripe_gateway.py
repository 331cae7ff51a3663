"""The Stripe adapter: checkout sessions, the card on file (customers, saved cards, off-session
charges) and refunds through the official library, and webhook verification. Everything Stripe-shaped is turned into our records here or in stripe_events.

The client is built with `base_addresses={"api": STRIPE_API_BASE}` so tests (and a local
stripe-mock) can stand in for api.stripe.com.
"""
from __future__ import annotations

import json
import re
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

import stripe

from billing.payments.errors import GatewayError, GatewayNotConfigured, InvalidSignature
from billing.payments.stripe_amounts import to_stripe_amount
from billing.payments.stripe_events import (  # noqa: F401  (re-exported for callers)
    PaymentNotice,
    RefundNotice,
    payment_from_event,
    refund_from_event,
)
from billing.payments.stripe_signature import verify_signature

DEFAULT_API_BASE = "https://api.stripe.com"


@dataclass(frozen=True, slots=True)
class StripeConfig:
    api_key: str | None
    api_base: str = DEFAULT_API_BASE
    webhook_secret: str | None = None
    # The library retries timeouts and 5xx itself; safe because every POST has an idempotency key.
    max_network_retries: int = 2

    @property
    def configured(self) -> bool:
        """Can we create checkouts and refunds? (Webhooks need only webhook_secret.)"""
        return bool(self.api_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StripeConfig":
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get("STRIPE_API_KEY") or None,
            api_base=(env.get("STRIPE_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
        )


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    status: str  # Stripe's refund status: pending, succeeded, failed, canceled, requires_action


def checkout_idempotency_key(proforma_number: str, amount: Decimal, currency: str,
                             customer_id: str | None = None) -> str:
    """Same proforma, same amount -> same key -> Stripe returns the first session again.

    A different remaining amount (a partial payment arrived meanwhile) is a new key, so the
    customer is never sent to a session for a stale amount. Stripe forgets keys after 24 hours;
    a retry later than that creates a fresh session, which is harmless because the old one has
    expired by then (sessions live at most 24 hours).
    """
    key = f"checkout:{proforma_number}:{currency.upper()}:{to_stripe_amount(amount, currency)}"
    # The customer is part of the request, so part of the key: the same key with other params
    # is an idempotency_error at Stripe.
    return f"{key}:{customer_id}" if customer_id else key


def checkout_params(
    *, proforma_number: str, account_id: str, amount: Decimal, currency: str,
    success_url: str, cancel_url: str, customer_id: str | None = None,
) -> dict[str, Any]:
    """The Checkout Session request; pure, so a retried call sends byte-identical params.

    With the account's Stripe customer, the card is kept for later (CONTRACT §8):
    setup_future_usage=off_session makes Stripe attach the payment method to the customer, so
    later proformas can be charged without the customer (billing.payments.card_charges)."""
    metadata = {"proforma_number": proforma_number, "account_id": account_id}
    intent: dict[str, Any] = {"metadata": metadata}
    if customer_id:
        intent["setup_future_usage"] = "off_session"
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": proforma_number,
        "line_items": [{
            "quantity": 1,
            "price_data": {
                "currency": currency.lower(),
                "unit_amount": to_stripe_amount(amount, currency),
                "product_data": {"name": f"Díjbekérő {proforma_number}"},
            },
        }],
        "metadata": metadata,
        # The payment intent carries the same metadata so payment_intent.succeeded alone
        # is enough to credit the right account.
        "payment_intent_data": intent,
    }
    if customer_id:
        params["customer"] = customer_id
    return params


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What Stripe kept of a Checkout payment's card. `saved`: attached to the customer for
    off-session use; otherwise there is nothing to charge later."""
    saved: bool
    customer_id: str | None = None
    payment_method_id: str | None = None
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """Stripe's final word on an off-session charge. status: succeeded, processing (the webhook
    will tell), declined (a card_error: card_declined, authentication_required, ...), refused
    (Stripe refused the request itself, e.g. a detached card). No charge was made unless
    succeeded or processing."""
    status: str
    payment_intent_id: str | None
    code: str | None = None
    message: str | None = None


def off_session_params(*, proforma_number: str, account_id: str, amount: Decimal, currency: str,
                       customer_id: str, payment_method_id: str) -> dict[str, Any]:
    """The PaymentIntent of a saved card; pure, so a retry with its key sends the same params.
    The metadata is the Checkout one: the webhook books the payment the same way."""
    return {
        "amount": to_stripe_amount(amount, currency),
        "currency": currency.lower(),
        "customer": customer_id,
        "payment_method": payment_method_id,
        "off_session": True,
        "confirm": True,
        "description": f"Díjbekérő {proforma_number}",
        "metadata": {"proforma_number": proforma_number, "account_id": account_id},
    }


def _id(value: Any) -> str | None:
    """An expandable field: a bare id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


class StripeGateway:
    def __init__(self, config: StripeConfig, *, http_client: Any = None) -> None:
        self._config = config
        self._client = None
        if config.configured:
            self._client = stripe.StripeClient(
                config.api_key,
                base_addresses={"api": config.api_base},
                max_network_retries=config.max_network_retries,
                http_client=http_client,
            )

    @property
    def configured(self) -> bool:
        return self._config.configured

    def _require_client(self) -> stripe.StripeClient:
        if self._client is None:
            raise GatewayNotConfigured("STRIPE_API_KEY is not set")
        return self._client

    def create_checkout(
        self, *, proforma_number: str, account_id: str, amount: Decimal, currency: str,
        success_url: str, cancel_url: str, customer_id: str | None = None,
    ) -> CheckoutResult:
        client = self._require_client()
        params = checkout_params(
            proforma_number=proforma_number, account_id=account_id, amount=amount,
            currency=currency, success_url=success_url, cancel_url=cancel_url, customer_id=customer_id,
        )
        key = checkout_idempotency_key(proforma_number, amount, currency, customer_id)
        try:
            session = client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the checkout for {proforma_number}: {exc}") from exc
        return CheckoutResult(session_id=session.id, url=session.url)

    def create_customer(self, account_id: str) -> str:
        """The account's Stripe customer. One key per account: a retry, or two checkouts at once,
        get the same customer. Only the account id goes to Stripe (Checkout asks the rest)."""
        client = self._require_client()
        try:
            customer = client.v1.customers.create(
                params={"metadata": {"account_id": account_id}},
                options={"idempotency_key": f"customer:{account_id}"})
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused a customer for {account_id}: {exc}") from exc
        return customer.id

    def card_of_payment(self, payment_intent_id: str) -> CardDetails:
        """The card a Checkout payment used, and whether Stripe kept it for later."""
        client = self._require_client()
        try:
            intent = client.v1.payment_intents.retrieve(
                payment_intent_id, params={"expand": ["payment_method"]})
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe did not give payment {payment_intent_id}: {exc}") from exc
        method = intent.get("payment_method")
        customer = _id(intent.get("customer"))
        if not isinstance(method, dict) or customer is None or _id(method.get("customer")) != customer \
                or intent.get("setup_future_usage") != "off_session":
            return CardDetails(saved=False)
        card = method.get("card") or {}
        return CardDetails(saved=True, customer_id=customer, payment_method_id=method["id"],
                           brand=card.get("brand"), last4=card.get("last4"),
                           exp_month=card.get("exp_month"), exp_year=card.get("exp_year"))

    def charge_off_session(self, *, idempotency_key: str, **request: Any) -> ChargeResult:
        """Charge a saved card (`request`: off_session_params' arguments). Raises GatewayError
        when the outcome is unknown (no answer, Stripe's 5xx, rate limit, bad key): the caller
        sends the same request with the same key again, which cannot charge twice."""
        client = self._require_client()
        try:
            intent = client.v1.payment_intents.create(
                params=off_session_params(**request), options={"idempotency_key": idempotency_key})
        except stripe.CardError as exc:
            declined = getattr(exc.error, "payment_intent", None)
            detail = getattr(exc.error, "decline_code", None)
            return ChargeResult("declined", _id(declined), exc.code or "card_declined",
                                f"{detail}: {exc.user_message}" if detail else exc.user_message)
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
            return ChargeResult("refused", None, getattr(exc, "code", None), exc.user_message)
        except stripe.StripeError as exc:
            raise GatewayError(f"no answer from Stripe for {idempotency_key}: {exc}") from exc
        if intent.status in ("succeeded", "processing"):
            return ChargeResult(intent.status, intent.id)
        # requires_action / requires_payment_method: off_session normally raises a card_error
        # instead; either way the customer has to act, which is a decline for the schedule.
        return ChargeResult("declined", intent.id, intent.status)

    def detach_payment_method(self, payment_method_id: str) -> None:
        """The customer removed the card: Stripe forgets it. A card Stripe no longer has attached
        (a 4xx) is done too; no answer raises GatewayError and the caller tries again later."""
        client = self._require_client()
        try:
            client.v1.payment_methods.detach(payment_method_id)
        except stripe.InvalidRequestError:
            return
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe did not detach {payment_method_id}: {exc}") from exc

    def refund(
        self, *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str,
        reference: str | None = None,
    ) -> RefundResult:
        """Refund part or all of a card payment. `idempotency_key` should name our refund
        (e.g. the credit note number) so a retry never refunds twice; `reference` is echoed
        back in refund webhooks as RefundNotice.reference."""
        client = self._require_client()
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": to_stripe_amount(amount, currency),
        }
        if reference:
            params["metadata"] = {"reference": reference}
        try:
            refund = client.v1.refunds.create(
                params=params, options={"idempotency_key": f"refund:{idempotency_key}"}
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the refund of {payment_intent_id}: {exc}") from exc
        return RefundResult(refund_id=refund.id, status=refund.status)

    def parse_webhook(
        self, payload: bytes, signature_header: str, now: int | None = None
    ) -> dict[str, Any]:
        """Verify the signature on the raw body, then decode it. Raises InvalidSignature."""
        verify_signature(
            payload, signature_header or "", self._config.webhook_secret or "",
            now=int(time.time()) if now is None else now,
        )
        try:
            event = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidSignature("signed payload is not JSON") from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                or not isinstance(event.get("id"), str) or not _EVENT_ID.fullmatch(event["id"]):
            raise InvalidSignature("signed payload is not a Stripe event")
        return event


# Stripe's ids are letters, digits and underscores; anything else (a NUL, which PostgreSQL refuses
# in text) is not one of its events.
_EVENT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


def gateway_from_env() -> StripeGateway:
    """Read at call time, so configuration changes (and tests) need no restart."""
    return StripeGateway(StripeConfig.from_env())
