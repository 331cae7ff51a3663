"""The payments package's errors, inside the service's one hierarchy (billing.errors), so the
single HTTP handler maps them: each class says its status and code.
"""
from __future__ import annotations

from billing.errors import BillingError, InvalidInput, Unavailable


class PaymentsError(BillingError):
    """Base of every error raised by billing.payments."""


class InvalidSignature(PaymentsError):
    """A webhook whose Stripe-Signature does not prove it came from Stripe, recently."""

    status = 400
    code = "invalid_signature"


class UnusableEvent(PaymentsError):
    """A signed Stripe event we use, but whose object lacks a field we need."""

    status = 422
    code = "unusable_event"


class UnattributedPayment(UnusableEvent):
    """A paid Stripe event without our account metadata: money arrived that we cannot place.

    Raised rather than ignored so the caller records it for a human instead of dropping money;
    the webhook endpoint may still answer 2xx so Stripe stops redelivering it.
    """

    code = "unattributed_payment"

    def __init__(self, stripe_event_id: str, external_id: str | None) -> None:
        super().__init__(
            f"Stripe event {stripe_event_id} (payment {external_id}) has no account_id metadata",
            {"stripe_event_id": stripe_event_id, "external_id": external_id},
        )
        self.stripe_event_id = stripe_event_id
        self.external_id = external_id


class StripeAmountError(PaymentsError, InvalidInput, ValueError):
    """An amount that cannot be expressed exactly in Stripe's or our currency units."""

    code = "invalid_amount"


class GatewayError(PaymentsError, Unavailable):
    """Stripe refused a request or could not be reached (after the library's own retries)."""

    status = 502
    code = "payment_provider_error"


class GatewayNotConfigured(GatewayError):
    """STRIPE_API_KEY is not set; card payments are unavailable."""

    status = 503
    code = "payments_not_configured"


class CamtError(PaymentsError, InvalidInput, ValueError):
    """A bank statement file that is rejected whole; the message names the element path."""

    code = "invalid_bank_statement"
