"""Verifying a Stripe webhook's `Stripe-Signature` header; pure, the clock is a parameter.

Stripe signs `f"{t}.{raw body}"` with HMAC-SHA256 under the endpoint secret and sends
`t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`. Several v1 values appear while a secret is
being rolled, so any one matching is enough. The timestamp is part of the signed text, so
checking its age (300 s, Stripe's default) stops replays of an old captured request.

We verify ourselves instead of stripe.Webhook.construct_event because that reads time.time()
directly and we want the clock injectable in tests.
"""
from __future__ import annotations

import hashlib
import hmac

from billing.payments.errors import InvalidSignature

TOLERANCE_SECONDS = 300


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not value.isdigit():
                raise InvalidSignature("Stripe-Signature timestamp is not a number")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise InvalidSignature("Stripe-Signature has no timestamp")
    if not signatures:
        raise InvalidSignature("Stripe-Signature has no v1 signature")
    return timestamp, signatures


def verify_signature(
    payload: bytes, header: str, secret: str, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """Raise InvalidSignature unless one v1 signature matches and the timestamp is fresh."""
    if not secret:
        raise InvalidSignature("no webhook secret configured")
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    timestamp, signatures = _parse_header(header)
    signed = str(timestamp).encode("ascii") + b"." + payload
    expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    # compare_digest on every candidate: no early exit that would leak timing.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("no Stripe-Signature v1 value matches the payload")
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"Stripe-Signature timestamp is {now - timestamp} s away from now")
