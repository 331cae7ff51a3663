"""The gateway through the real `stripe` library against the loopback fake Stripe."""
from decimal import Decimal

import pytest

from billing.payments.errors import GatewayError, GatewayNotConfigured, InvalidSignature
from billing.payments.stripe_gateway import (
    CheckoutResult,
    StripeConfig,
    StripeGateway,
    payment_from_event,
    refund_from_event,
)
from tests.fakes.stripe_server import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe

T = 1_774_000_000


@pytest.fixture
def fake():
    with FakeStripe() as server:
        yield server


@pytest.fixture
def gateway(fake):
    config = StripeConfig.from_env({
        "STRIPE_API_KEY": TEST_API_KEY, "STRIPE_API_BASE": fake.base_url + "/",
        "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
    })
    return StripeGateway(config)


def checkout(gateway, amount=Decimal("10312"), currency="HUF", **overrides):
    args = dict(proforma_number="PRO-2026-000123", account_id="acc-1", amount=amount,
                currency=currency, success_url="https://app.example/ok",
                cancel_url="https://app.example/cancel")
    return gateway.create_checkout(**{**args, **overrides})


def test_config_from_env():
    assert not StripeConfig.from_env({}).configured
    assert StripeConfig.from_env({}).api_base == "https://api.stripe.com"
    config = StripeConfig.from_env({"STRIPE_API_KEY": "sk_x", "STRIPE_API_BASE": "http://h:1/"})
    assert config.configured and config.api_base == "http://h:1"


def test_unconfigured_gateway_refuses_calls_but_still_verifies_webhooks():
    gateway = StripeGateway(StripeConfig.from_env({"STRIPE_WEBHOOK_SECRET": "whsec_x"}))
    with pytest.raises(GatewayNotConfigured):
        checkout(gateway)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(b"{}", "t=1,v1=00", now=1)


def test_checkout_session_request(fake, gateway):
    result = checkout(gateway)
    assert isinstance(result, CheckoutResult)
    assert result.url == f"{fake.base_url}/c/pay/{result.session_id}"
    session = fake.sessions[result.session_id]
    assert session["amount_total"] == 1031200   # 10,312 Ft * 100: HUF is two-decimal at Stripe
    assert session["currency"] == "huf" and session["mode"] == "payment"
    assert session["metadata"] == {"proforma_number": "PRO-2026-000123", "account_id": "acc-1"}
    assert session["_payment_intent_metadata"] == session["metadata"]
    method, path, params, key = fake.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert key == "checkout:PRO-2026-000123:HUF:1031200"
    assert params["line_items"][0]["quantity"] == "1"


def test_eur_checkout_amount(fake, gateway):
    result = checkout(gateway, amount=Decimal("49.99"), currency="EUR")
    assert fake.sessions[result.session_id]["amount_total"] == 4999   # 49.99 * 100


def test_retried_checkout_returns_the_same_session(fake, gateway):
    first = checkout(gateway)
    second = checkout(gateway)
    assert first == second
    assert len(fake.sessions) == 1
    # a new remaining amount (a partial payment came in) is a new session
    third = checkout(gateway, amount=Decimal("5000"))
    assert third.session_id != first.session_id and len(fake.sessions) == 2


def test_lost_response_is_retried_by_the_library_without_a_second_session(fake, gateway):
    fake.drop_responses = 1           # Stripe created it, but the answer never arrived
    result = checkout(gateway)
    assert len(fake.sessions) == 1
    assert result.session_id in fake.sessions
    assert len([r for r in fake.requests if r[1] == "/v1/checkout/sessions"]) == 2


def test_same_key_other_params_is_an_idempotency_error(fake, gateway):
    checkout(gateway)
    with pytest.raises(GatewayError, match="same parameters"):
        checkout(gateway, success_url="https://elsewhere.example/ok")
    assert len(fake.sessions) == 1


def test_bad_api_key_is_a_gateway_error(fake):
    gateway = StripeGateway(StripeConfig(api_key="sk_wrong", api_base=fake.base_url))
    with pytest.raises(GatewayError, match="Invalid API Key"):
        checkout(gateway)


def test_paid_session_webhooks_give_one_payment(fake, gateway):
    result = checkout(gateway)
    notices = []
    for event in fake.complete_session(result.session_id, created=T):
        payload, header = fake.webhook(event, timestamp=T)
        notices.append(payment_from_event(gateway.parse_webhook(payload, header, now=T + 5)))
    session_notice, intent_notice = notices
    assert session_notice.external_id == intent_notice.external_id
    assert session_notice.external_id == fake.sessions[result.session_id]["payment_intent"]
    assert session_notice.amount == intent_notice.amount == Decimal("10312")
    assert intent_notice.proforma_number == "PRO-2026-000123"
    assert intent_notice.account_id == "acc-1"


def test_webhook_signature_failures(fake, gateway):
    event = fake.event("payment_intent.succeeded", {"id": "pi_x"}, created=T)
    payload, header = fake.webhook(event, timestamp=T)
    assert gateway.parse_webhook(payload, header, now=T)["id"] == event["id"]
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(payload.replace(b"pi_x", b"pi_y"), header, now=T)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(payload, header, now=T + 301)
    forged_payload, forged_header = fake.webhook(event, timestamp=T, secret="whsec_attacker")
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(forged_payload, forged_header, now=T)
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(payload, "", now=T)


def test_refund_and_its_webhook(fake, gateway):
    result = checkout(gateway)
    fake.complete_session(result.session_id, created=T)
    intent_id = fake.sessions[result.session_id]["payment_intent"]
    fake.refund_status = "pending"
    refund = gateway.refund(payment_intent_id=intent_id, amount=Decimal("4000"), currency="HUF",
                            idempotency_key="CN-2026-000007", reference="CN-2026-000007")
    assert refund.status == "pending"
    assert fake.refunds[refund.refund_id]["amount"] == 400000   # 4,000 Ft * 100
    # retried with the same key: the same refund, not a second one
    again = gateway.refund(payment_intent_id=intent_id, amount=Decimal("4000"), currency="HUF",
                           idempotency_key="CN-2026-000007", reference="CN-2026-000007")
    assert again.refund_id == refund.refund_id and len(fake.refunds) == 1
    payload, header = fake.webhook(fake.refund_event(refund.refund_id, "succeeded", created=T),
                                   timestamp=T)
    notice = refund_from_event(gateway.parse_webhook(payload, header, now=T))
    assert (notice.refund_id, notice.status, notice.amount, notice.payment_intent_id,
            notice.reference) == (refund.refund_id, "succeeded", Decimal("4000"), intent_id,
                                  "CN-2026-000007")


def test_refund_over_the_paid_amount_is_refused(fake, gateway):
    result = checkout(gateway)
    fake.complete_session(result.session_id, created=T)
    intent_id = fake.sessions[result.session_id]["payment_intent"]
    with pytest.raises(GatewayError, match="greater than unrefunded"):
        gateway.refund(payment_intent_id=intent_id, amount=Decimal("10313"), currency="HUF",
                       idempotency_key="CN-X")


def test_webhook_checked_against_the_real_clock_by_default(fake, gateway):
    event = fake.event("payment_intent.succeeded", {"id": "pi_now"})
    payload, header = fake.webhook(event)                # signed now
    assert gateway.parse_webhook(payload, header)["id"] == event["id"]
    old_payload, old_header = fake.webhook(event, timestamp=T)   # signed in March 2026
    with pytest.raises(InvalidSignature, match="away from now"):
        gateway.parse_webhook(old_payload, old_header)
