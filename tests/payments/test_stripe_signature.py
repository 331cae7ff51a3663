import hashlib
import hmac

import pytest
import stripe

from billing.payments.errors import InvalidSignature
from billing.payments.stripe_signature import verify_signature
from tests.fakes.stripe_server import sign_payload

SECRET = "whsec_unit"
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
T = 1_780_000_000


def test_fake_signs_like_the_official_library_expects():
    header = sign_payload(BODY, SECRET, T)
    # the official verifier accepts it (tolerance None: it would read the real clock)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)


def test_valid_signature_within_tolerance():
    header = sign_payload(BODY, SECRET, T)
    verify_signature(BODY, header, SECRET, now=T)
    verify_signature(BODY, header, SECRET, now=T + 300)   # exactly at the 300 s edge
    verify_signature(BODY, header, SECRET, now=T - 300)


def test_too_old_or_future_timestamp_refused():
    header = sign_payload(BODY, SECRET, T)
    with pytest.raises(InvalidSignature, match="301 s"):
        verify_signature(BODY, header, SECRET, now=T + 301)
    with pytest.raises(InvalidSignature):
        verify_signature(BODY, header, SECRET, now=T - 301)


def test_one_of_several_v1_values_is_enough():
    good = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    header = f"t={T},v1={'0' * 64},v1={good},v0=deadbeef"
    verify_signature(BODY, header, SECRET, now=T)


@pytest.mark.parametrize("header", [
    "",
    f"t={T}",                                   # no v1
    "v1=" + "0" * 64,                           # no t
    f"t=abc,v1={'0' * 64}",
    f"t={T},v0=" + "0" * 64,                    # only the old scheme
])
def test_malformed_headers_refused(header):
    with pytest.raises(InvalidSignature):
        verify_signature(BODY, header, SECRET, now=T)


def test_tampered_body_wrong_secret_or_shifted_timestamp_refused():
    header = sign_payload(BODY, SECRET, T)
    with pytest.raises(InvalidSignature):
        verify_signature(BODY + b" ", header, SECRET, now=T)
    with pytest.raises(InvalidSignature):
        verify_signature(BODY, header, "whsec_other", now=T)
    signature = header.split("v1=")[1]
    with pytest.raises(InvalidSignature):   # t is signed: moving it breaks the signature
        verify_signature(BODY, f"t={T + 10},v1={signature}", SECRET, now=T + 10)
    with pytest.raises(InvalidSignature):
        verify_signature(BODY, header, "", now=T)
