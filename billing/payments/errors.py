"""The payments package's error family.

`PaymentsError` is deliberately not tied to the service's HTTP errors: the use case decides
whether a bad webhook is a 400 (InvalidSignature) or a logged 200 (UnattributedPayment).
"""
from __future__ import annotations


class PaymentsError(Exception):
    """Base of every error raised by billing.payments."""


class InvalidSignature(PaymentsError):
    """A webhook whose Stripe-Signature does not prove it came from Stripe, recently."""


class UnusableEvent(PaymentsError):
    """A signed Stripe event we use, but whose object lacks a field we need."""


class UnattributedPayment(UnusableEvent):
    """A paid Stripe event without our account metadata: money arrived that we cannot place.

    Raised rather than ignored so the caller records it for a human instead of dropping money.
    """

    def __init__(self, stripe_event_id: str, external_id: str | None) -> None:
        super().__init__(
            f"Stripe event {stripe_event_id} (payment {external_id}) has no account_id metadata"
        )
        self.stripe_event_id = stripe_event_id
        self.external_id = external_id


class StripeAmountError(PaymentsError, ValueError):
    """An amount that cannot be expressed exactly in Stripe's or our currency units."""


class GatewayError(PaymentsError):
    """Stripe refused a request or could not be reached (after the library's own retries)."""


class GatewayNotConfigured(GatewayError):
    """STRIPE_API_KEY is not set; card payments are unavailable."""


class CamtError(PaymentsError, ValueError):
    """A bank statement file that is rejected whole; the message names the element path."""
