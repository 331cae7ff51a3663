"""The Stripe adapter: checkout sessions and refunds through the official library, and webhook
verification. Everything Stripe-shaped is turned into our records here or in stripe_events.

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


def checkout_idempotency_key(proforma_number: str, amount: Decimal, currency: str) -> str:
    """Same proforma, same amount -> same key -> Stripe returns the first session again.

    A different remaining amount (a partial payment arrived meanwhile) is a new key, so the
    customer is never sent to a session for a stale amount. Stripe forgets keys after 24 hours;
    a retry later than that creates a fresh session, which is harmless because the old one has
    expired by then (sessions live at most 24 hours).
    """
    return f"checkout:{proforma_number}:{currency.upper()}:{to_stripe_amount(amount, currency)}"


def checkout_params(
    *, proforma_number: str, account_id: str, amount: Decimal, currency: str,
    success_url: str, cancel_url: str,
) -> dict[str, Any]:
    """The Checkout Session request; pure, so a retried call sends byte-identical params."""
    metadata = {"proforma_number": proforma_number, "account_id": account_id}
    return {
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
        "payment_intent_data": {"metadata": metadata},
    }


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
        success_url: str, cancel_url: str,
    ) -> CheckoutResult:
        client = self._require_client()
        params = checkout_params(
            proforma_number=proforma_number, account_id=account_id, amount=amount,
            currency=currency, success_url=success_url, cancel_url=cancel_url,
        )
        key = checkout_idempotency_key(proforma_number, amount, currency)
        try:
            session = client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": key}
            )
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the checkout for {proforma_number}: {exc}") from exc
        return CheckoutResult(session_id=session.id, url=session.url)

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
