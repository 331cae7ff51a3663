"""The card on file over HTTP (CONTRACT §8): Checkout keeps the card; the next proforma is paid on its
issue day with no click; a declining card is tried on issue, +3 and +7 and never again."""
from __future__ import annotations

from billing.db import models as m
from billing.payments.cards import CardCharge
from tests.cards.conftest import SECOND, attempts, cards, epoch, pay_first_by_card


def payments(api) -> list[dict]:
    return [e.data for e in api.table(m.Event) if e.type == "payment.received"]


def test_checkout_keeps_the_card_for_the_accounts_customer(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    [session] = fake_stripe.sessions.values()
    [customer] = fake_stripe.customers.values()
    assert session["customer"] == customer["id"] and customer["metadata"] == {"account_id": "acme"}
    assert session["_setup_future_usage"] == "off_session"
    assert session["_payment_intent_metadata"] == {"proforma_number": "PRO-2026-000001", "account_id": "acme"}
    creates = [key for verb, path, _, key in fake_stripe.requests if (verb, path) == ("POST", "/v1/customers")]
    assert creates == ["customer:acme"]
    assert method["customer"] == customer["id"]  # attached: usable off-session
    [card] = cards(api)
    assert (card.status, card.customer_id, card.payment_method_id) == ("active", customer["id"], method["id"])
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 12, 2030)
    # a second checkout of the account (its card declined on the 20th) reuses its customer
    fake_stripe.decline(method["id"])
    api.run("2026-03-20")
    api.post(f"/v1/documents/{SECOND}/checkout", expect=201)
    assert len(fake_stripe.customers) == 1
    assert [s["customer"] for s in fake_stripe.sessions.values()] == [customer["id"]] * 2


def test_the_second_proforma_is_paid_without_a_click(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    api.run("2026-03-20")
    proforma = api.document(SECOND)
    # April: 2 × 9,990 = 19,980; the March days from the 20th are covered by the balance:
    # projected R(2 × 9,990 × 12/31 + 19,980) = 27,714, balance 10,312 − R(2 × 9,990 × 4/31) = 7,734
    assert (proforma["gross"], proforma["issue_date"], proforma["status"]) == ("19980", "2026-03-20", "paid")
    [intent] = fake_stripe.off_session_intents()
    assert intent["amount"] == 1998000 and intent["currency"] == "huf"  # 19,980 Ft in Stripe's hundredths
    assert intent["metadata"] == {"proforma_number": SECOND, "account_id": "acme"}
    assert (intent["customer"], intent["payment_method"]) == (method["customer"], method["id"])
    [key] = [k for verb, path, _, k in fake_stripe.requests if (verb, path) == ("POST", "/v1/payment_intents")]
    assert key == f"offsession:{SECOND}:1"
    invoices = api.documents("acme", "invoice")
    assert [(i["gross"], i["issue_date"]) for i in invoices] == [("10312", "2026-03-18"), ("19980", "2026-03-20")]
    assert api.state("acme")["state"] == "active"
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "succeeded")]
    # Stripe's webhook for the same charge comes after the synchronous answer booked it
    assert api.webhook(fake_stripe, fake_stripe.intent_event(intent["id"])).json()["outcome"] == "duplicate_payment"
    card_payments = [p for p in payments(api) if p["external_id"] == intent["id"]]
    assert card_payments == [{"amount": "19980", "currency": "HUF", "method": "card", "reference": SECOND,
                              "external_id": intent["id"]}]
    for day in ("2026-03-20", "2026-03-23", "2026-03-27", "2026-04-05"):
        api.run(day)
    assert len(fake_stripe.off_session_intents()) == 1 and len(api.documents("acme", "invoice")) == 2
    assert api.state("acme")["state"] == "active"


def test_a_webhook_before_the_answer_is_recorded_waits_for_it(api, fake_stripe, monkeypatch):
    """Stripe may send payment_intent.succeeded before the charge's answer is recorded: it is
    refused (503, Stripe delivers it again), and the redelivery finds the payment booked on the
    day of the charge. One payment, one invoice."""
    from billing.payments.stripe_gateway import StripeGateway

    pay_first_by_card(api, fake_stripe)
    early = []
    real_charge = StripeGateway.charge_off_session

    def webhook_first(self, **request):
        result = real_charge(self, **request)
        event = fake_stripe.intent_event(result.payment_intent_id)
        early.append((event, api.webhook(fake_stripe, event)))
        return result

    monkeypatch.setattr(StripeGateway, "charge_off_session", webhook_first)
    api.run("2026-03-20")
    [(event, answer)] = early
    assert answer.status_code == 503 and "being recorded" in answer.json()["message"], answer.text
    assert api.webhook(fake_stripe, event).json()["outcome"] == "duplicate_payment"
    [intent] = fake_stripe.off_session_intents()
    assert len([p for p in payments(api) if p["external_id"] == intent["id"]]) == 1
    [_, invoice] = api.documents("acme", "invoice")
    assert (invoice["gross"], invoice["issue_date"]) == ("19980", "2026-03-20")


def test_a_declining_card_is_tried_on_issue_plus_3_and_plus_7_then_never(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"], "card_declined")
    for day, made in (("2026-03-20", 1), ("2026-03-20", 1), ("2026-03-21", 1), ("2026-03-22", 1),
                      ("2026-03-23", 2), ("2026-03-23", 2), ("2026-03-26", 2), ("2026-03-27", 3),
                      ("2026-03-27", 3), ("2026-03-28", 3), ("2026-03-29", 3), ("2026-04-19", 3)):
        api.run(day)
        assert len(fake_stripe.off_session_intents()) == made, day
    expected = [(SECOND, 1, "2026-03-20", "declined"), (SECOND, 2, "2026-03-23", "declined"),
                (SECOND, 3, "2026-03-27", "declined")]
    assert attempts(api) == expected
    keys = [k for verb, path, _, k in fake_stripe.requests if (verb, path) == ("POST", "/v1/payment_intents")]
    assert keys == [f"offsession:{SECOND}:{n}" for n in (1, 2, 3)]
    assert api.document(SECOND)["status"] == "overdue"  # due 28 March: only the messages ask now
    assert api.state("acme")["state"] == "past_due"
    assert {c.code for c in api.table(CardCharge)} == {"card_declined"}
    api.run("2026-04-20")  # the May proforma has a schedule of its own
    assert attempts(api)[-1] == ("PRO-2026-000003", 1, "2026-04-20", "declined")


def test_authentication_required_is_a_decline_and_a_good_card_later_pays(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"], "authentication_required")
    api.run("2026-03-20")
    fake_stripe.decline(method["id"], None)  # the customer's bank lets it through now
    api.run("2026-03-23")
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "declined"), (SECOND, 2, "2026-03-23", "succeeded")]
    assert api.document(SECOND)["status"] == "paid"
    [_, invoice] = api.documents("acme", "invoice")
    assert (invoice["gross"], invoice["issue_date"]) == ("19980", "2026-03-23")


def test_a_catch_up_run_makes_the_attempts_due_once_each(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"])
    api.run("2026-03-20")
    api.run("2026-03-27")  # one run over 21–27: the attempts of the 23rd and the 27th, once each
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "declined"), (SECOND, 2, "2026-03-27", "declined"),
                             (SECOND, 3, "2026-03-27", "declined")]
    api.run("2026-03-27")
    api.run("2026-04-10")
    assert len(fake_stripe.off_session_intents()) == 3


def test_a_run_after_the_last_attempt_day_charges_nothing(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    api.run("2026-03-28")  # the proforma was issued on the 20th, the last attempt day was the 27th
    assert fake_stripe.off_session_intents() == [] and attempts(api) == []
    assert api.document(SECOND)["status"] == "open"


def test_a_proforma_paid_by_bank_transfer_meanwhile_is_not_charged(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"])
    api.run("2026-03-20")
    api.pay("acme", "2026-03-22T09:00:00+01:00", "19980", reference=SECOND)
    api.run("2026-03-27")
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "declined")]
    assert api.document(SECOND)["status"] == "paid"
    assert len(fake_stripe.off_session_intents()) == 1


def test_a_transfer_stored_but_not_yet_credited_is_not_charged_again(api, fake_stripe):
    """A bank payment for the proforma dated after the run's day waits for a later run, but it is
    money received: what the proforma still asks is what the charge takes."""
    pay_first_by_card(api, fake_stripe)
    api.pay("acme", "2026-03-21T09:00:00+01:00", "19980", reference=SECOND)  # credited on the 21st
    api.run("2026-03-20")
    assert fake_stripe.off_session_intents() == [] and attempts(api) == []
    assert api.document(SECOND)["status"] == "open"  # not allocated yet
    api.run("2026-03-21")
    assert api.document(SECOND)["status"] == "paid" and fake_stripe.off_session_intents() == []


def test_partly_paid_proforma_is_charged_what_it_still_asks(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    api.run("2026-03-19")
    api.pay("acme", "2026-03-20T08:00:00+01:00", "5000", reference=SECOND)
    api.run("2026-03-20")
    [intent] = fake_stripe.off_session_intents()
    # the payment of the 20th is allocated to the proforma issued that day: 19,980 − 5,000
    assert intent["amount"] == 1498000
    assert api.document(SECOND)["status"] == "paid"


def test_only_proformas_issued_after_the_card_was_saved_are_charged(api, fake_stripe):
    """The card is kept for later proformas: one already open when the card was saved is not
    charged behind the customer's back (CONTRACT §8, "a later proforma")."""
    api.setup({"acme": 2})
    api.run("2026-03-20")  # PRO-1 (16 March, 10,312) unpaid, PRO-2 (20 March, 19,980) issued
    checkout = api.post(f"/v1/documents/{SECOND}/checkout", expect=201).json()
    completed, _ = fake_stripe.complete_session(checkout["session_id"],
                                                created=epoch("2026-03-21T10:00:00+01:00"))
    assert api.webhook(fake_stripe, completed).json()["outcome"] == "booked"
    api.run("2026-03-23")
    # oldest first: 19,980 pays PRO-1's 10,312 and 9,668 of PRO-2, which still asks 10,312
    assert api.document("PRO-2026-000001")["status"] == "paid"
    assert api.document(SECOND)["status"] == "open"
    assert [c.status for c in cards(api)] == ["active"]
    assert fake_stripe.off_session_intents() == [] and attempts(api) == []


def test_a_charge_stripe_settles_later_is_booked_by_its_webhook_on_the_charge_day(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"], "processing")
    api.run("2026-03-20")
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "processing")]
    assert api.document(SECOND)["status"] == "open"
    [intent] = fake_stripe.off_session_intents()
    # Stripe settles it months later by the wall clock: the payment is still the charge's, of 20 March
    answer = api.webhook(fake_stripe, fake_stripe.intent_event(intent["id"]))
    assert answer.json()["outcome"] == "booked", answer.text
    api.run("2026-03-21")
    assert api.document(SECOND)["status"] == "paid" and api.state("acme")["state"] == "active"
    [_, invoice] = api.documents("acme", "invoice")
    assert invoice["gross"] == "19980"
    api.run("2026-03-27")
    assert len(fake_stripe.off_session_intents()) == 1  # processing is not a decline: no retry


def test_a_terminated_account_is_not_charged(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"])
    api.run("2026-03-20")
    api.event("account.terminated", "acme", "2026-03-21T10:00:00+01:00", by="customer", reason="closing")
    api.run("2026-03-27")
    assert api.state("acme")["state"] == "terminated"
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "declined")]
