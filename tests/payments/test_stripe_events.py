from datetime import datetime, timezone
from decimal import Decimal

import pytest

from billing.payments.errors import UnattributedPayment, UnusableEvent
from billing.payments.stripe_events import (
    PaymentNotice,
    RefundNotice,
    payment_from_event,
    refund_from_event,
)

CREATED = 1_774_000_000  # 2026-03-20T09:46:40Z
META = {"proforma_number": "PRO-2026-000123", "account_id": "acc-1"}


def event(kind, obj, event_id="evt_1"):
    return {"id": event_id, "object": "event", "type": kind, "created": CREATED,
            "data": {"object": obj}}


def session(**overrides):
    obj = {"id": "cs_1", "object": "checkout.session", "payment_intent": "pi_1",
           "payment_status": "paid", "amount_total": 1031200, "currency": "huf",
           "metadata": META}
    return {**obj, **overrides}


def test_paid_checkout_session_is_a_payment():
    notice = payment_from_event(event("checkout.session.completed", session()))
    assert notice == PaymentNotice(
        stripe_event_id="evt_1", external_id="pi_1",
        amount=Decimal("10312"),                      # 1031200 / 100 (HUF is two-decimal at Stripe)
        currency="HUF", proforma_number="PRO-2026-000123", account_id="acc-1",
        occurred_at=datetime(2026, 3, 20, 9, 46, 40, tzinfo=timezone.utc),
    )


def test_session_and_intent_events_of_one_payment_share_the_external_id():
    from_session = payment_from_event(event("checkout.session.completed", session(), "evt_a"))
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 1031200,
              "amount_received": 1031200, "currency": "huf", "metadata": META}
    from_intent = payment_from_event(event("payment_intent.succeeded", intent, "evt_b"))
    assert from_session.external_id == from_intent.external_id == "pi_1"
    assert from_session.amount == from_intent.amount == Decimal("10312")
    assert (from_session.stripe_event_id, from_intent.stripe_event_id) == ("evt_a", "evt_b")


def test_unpaid_completion_then_async_success():
    assert payment_from_event(event("checkout.session.completed",
                                    session(payment_status="unpaid"))) is None
    notice = payment_from_event(event("checkout.session.async_payment_succeeded", session()))
    assert notice.amount == Decimal("10312")


def test_expanded_payment_intent_and_eur():
    obj = session(payment_intent={"id": "pi_9"}, amount_total=4999, currency="eur")
    notice = payment_from_event(event("checkout.session.completed", obj))
    assert (notice.external_id, notice.amount, notice.currency) == ("pi_9", Decimal("49.99"), "EUR")


@pytest.mark.parametrize("kind", ["customer.created", "payment_intent.created",
                                  "checkout.session.expired", "charge.succeeded"])
def test_other_events_are_not_payments(kind):
    assert payment_from_event(event(kind, session())) is None


def test_payment_without_our_metadata_is_raised_not_dropped():
    with pytest.raises(UnattributedPayment) as info:
        payment_from_event(event("checkout.session.completed", session(metadata={})))
    assert info.value.external_id == "pi_1"


def test_paid_session_without_payment_intent_is_unusable():
    with pytest.raises(UnusableEvent, match="payment_intent"):
        payment_from_event(event("checkout.session.completed", session(payment_intent=None)))


REFUND = {"id": "re_1", "object": "refund", "amount": 500000, "currency": "huf",
          "payment_intent": "pi_1", "status": "succeeded", "metadata": {"reference": "CN-1"},
          "created": CREATED}


@pytest.mark.parametrize("kind", ["refund.created", "refund.updated", "refund.failed"])
def test_refund_events(kind):
    notice = refund_from_event(event(kind, REFUND))
    assert notice == RefundNotice(
        stripe_event_id="evt_1", refund_id="re_1", payment_intent_id="pi_1",
        amount=Decimal("5000"),   # 500000 / 100
        currency="HUF", status="succeeded", reference="CN-1",
        occurred_at=datetime(2026, 3, 20, 9, 46, 40, tzinfo=timezone.utc),
    )


def test_charge_refunded_takes_the_newest_listed_refund():
    older = {**REFUND, "id": "re_0", "created": CREATED - 100, "payment_intent": None}
    newer = {**REFUND, "status": "pending", "payment_intent": None}
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1",
              "refunds": {"object": "list", "data": [newer, older]}}
    notice = refund_from_event(event("charge.refunded", charge))
    assert (notice.refund_id, notice.status, notice.payment_intent_id) == ("re_1", "pending", "pi_1")


def test_charge_refunded_without_refund_list_is_left_to_refund_updated():
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount_refunded": 500000}
    assert refund_from_event(event("charge.refunded", charge)) is None
    assert refund_from_event(event("payment_intent.succeeded", {"id": "pi_1"})) is None
