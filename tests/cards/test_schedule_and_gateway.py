"""The attempt schedule (pure) and the card-on-file calls of the gateway through the real `stripe`
library against the loopback Stripe."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.payments.card_schedule import attempt_day, attempts_due, earliest_issue_charged
from billing.payments.stripe_gateway import StripeConfig, StripeGateway, checkout_params
from tests.fakes.stripe_server import TEST_API_KEY, FakeStripe

ISSUE = date(2026, 4, 20)


@pytest.mark.parametrize("today, made, due", [
    (date(2026, 4, 19), {}, []),
    (ISSUE, {}, [1]),
    (ISSUE, {1: "declined"}, []),
    (date(2026, 4, 22), {1: "declined"}, []),
    (date(2026, 4, 23), {1: "declined"}, [2]),
    (date(2026, 4, 27), {1: "declined"}, [2, 3]),       # a catch-up: each due day once
    (date(2026, 4, 27), {1: "declined", 2: "refused"}, [3]),
    (date(2026, 4, 27), {1: "declined", 2: "declined", 3: "declined"}, []),
    (date(2026, 4, 28), {}, []),                         # after issue + 7: only the messages ask
    (date(2026, 4, 27), {1: "succeeded"}, []),
    (date(2026, 4, 27), {1: "sending"}, []),             # its answer is not known: no second charge
    (date(2026, 4, 27), {1: "unknown"}, []),
])
def test_attempts_due(today, made, due):
    assert attempts_due(ISSUE, today, made) == due


def test_the_calendars_ends():
    assert attempts_due(date.max, date.max, {}) == [1, 2, 3]
    assert earliest_issue_charged(date(1, 1, 3)) == date.min


def test_attempt_days_are_calendar_days_across_a_month_end():
    assert [attempt_day(date(2026, 3, 28), n) for n in (1, 2, 3)] == [
        date(2026, 3, 28), date(2026, 3, 31), date(2026, 4, 4)]


def test_checkout_keeps_the_card_only_for_a_customer():
    urls = {"success_url": "https://x.example/ok", "cancel_url": "https://x.example/no"}
    plain = checkout_params(proforma_number="P", account_id="a", amount=Decimal("10"), currency="HUF", **urls)
    assert "customer" not in plain and "setup_future_usage" not in plain["payment_intent_data"]
    saving = checkout_params(proforma_number="P", account_id="a", amount=Decimal("10"), currency="HUF",
                             customer_id="cus_1", **urls)
    assert saving["customer"] == "cus_1"
    assert saving["payment_intent_data"] == {"metadata": {"proforma_number": "P", "account_id": "a"},
                                             "setup_future_usage": "off_session"}


@pytest.fixture
def fake():
    with FakeStripe() as server:
        yield server


@pytest.fixture
def gateway(fake):
    return StripeGateway(StripeConfig.from_env({"STRIPE_API_KEY": TEST_API_KEY, "STRIPE_API_BASE": fake.base_url}))


def saved_card(fake, gateway):
    customer = gateway.create_customer("acc-1")
    session = gateway.create_checkout(proforma_number="PRO-1", account_id="acc-1", amount=Decimal("100"),
                                      currency="EUR", success_url="https://x/ok", cancel_url="https://x/no",
                                      customer_id=customer)
    fake.complete_session(session.session_id)
    intent = fake.sessions[session.session_id]["payment_intent"]
    return customer, intent, gateway.card_of_payment(intent)


def test_customer_once_per_account(fake, gateway):
    assert gateway.create_customer("acc-1") == gateway.create_customer("acc-1")
    assert gateway.create_customer("acc-2") != gateway.create_customer("acc-1")
    assert len(fake.customers) == 2


def test_the_card_of_a_checkout_payment(fake, gateway):
    customer, _, card = saved_card(fake, gateway)
    assert card.saved and card.customer_id == customer
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 12, 2030)
    # a checkout without a customer keeps nothing
    session = gateway.create_checkout(proforma_number="PRO-2", account_id="acc-1", amount=Decimal("1"),
                                      currency="EUR", success_url="https://x/ok", cancel_url="https://x/no")
    fake.complete_session(session.session_id)
    assert not gateway.card_of_payment(fake.sessions[session.session_id]["payment_intent"]).saved


def charge(gateway, card, key="offsession:PRO-3:1", amount="49.99"):
    return gateway.charge_off_session(idempotency_key=key, proforma_number="PRO-3", account_id="acc-1",
                                      amount=Decimal(amount), currency="EUR", customer_id=card.customer_id,
                                      payment_method_id=card.payment_method_id)


def test_off_session_charge_succeeds_declines_and_replays(fake, gateway):
    _, _, card = saved_card(fake, gateway)
    paid = charge(gateway, card)
    assert paid.status == "succeeded" and fake.payment_intents[paid.payment_intent_id]["amount"] == 4999
    assert charge(gateway, card) == paid  # the same key: Stripe's first answer, no second charge
    fake.decline(card.payment_method_id, "authentication_required")
    declined = charge(gateway, card, key="offsession:PRO-3:2")
    assert (declined.status, declined.code) == ("declined", "authentication_required")
    assert fake.payment_intents[declined.payment_intent_id]["status"] == "requires_payment_method"
    fake.decline(card.payment_method_id, "card_declined")
    declined = charge(gateway, card, key="offsession:PRO-3:3")
    assert declined.code == "card_declined" and "insufficient_funds" in declined.message
    assert len(fake.off_session_intents()) == 3


def test_a_detached_card_is_refused_and_detaching_twice_is_fine(fake, gateway):
    _, _, card = saved_card(fake, gateway)
    gateway.detach_payment_method(card.payment_method_id)
    gateway.detach_payment_method(card.payment_method_id)
    refused = charge(gateway, card)
    assert refused.status == "refused" and refused.payment_intent_id is None
    assert fake.off_session_intents() == []
