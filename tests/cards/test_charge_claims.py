"""Exactly one charge per attempt: the claim row, the idempotency key, and a lost answer."""
from __future__ import annotations

import threading
from datetime import date, timedelta

from billing.db.base import utcnow
from billing.payments.card_charges import charge_saved_cards
from tests.cards.conftest import SECOND, attempts, pay_first_by_card


def test_a_lost_answer_is_sent_again_with_its_key_and_charges_once(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    fake_stripe.drop_responses = 3  # Stripe charged, but neither the answer nor the library's retries came back
    api.run("2026-03-20")
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "sending")]
    assert len(fake_stripe.off_session_intents()) == 1  # charged at Stripe, not yet known here
    api.run("2026-03-20")  # a rerun at once leaves the claim to whoever may still be waiting for it
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "sending")]
    # later, the claim is stale: sent again with the same key, Stripe answers the first charge
    factory = api.app.state.factory
    charge_saved_cards(factory, date(2026, 3, 20), now=utcnow() + timedelta(minutes=10))
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "succeeded")]
    assert len(fake_stripe.off_session_intents()) == 1
    keys = [k for verb, path, _, k in fake_stripe.requests if (verb, path) == ("POST", "/v1/payment_intents")]
    assert set(keys) == {f"offsession:{SECOND}:1"} and len(keys) == 4  # 3 lost, 1 replayed
    api.run("2026-03-20")
    assert api.document(SECOND)["status"] == "paid"
    [_, invoice] = api.documents("acme", "invoice")
    assert (invoice["gross"], invoice["issue_date"]) == ("19980", "2026-03-20")


def test_a_claim_without_an_answer_for_a_day_is_given_up(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    fake_stripe.drop_responses = 3
    api.run("2026-03-20")
    charge_saved_cards(api.app.state.factory, date(2026, 3, 23), now=utcnow() + timedelta(hours=24))
    # unknown is not a decline: Stripe may have charged it, so no further attempt is made
    assert attempts(api) == [(SECOND, 1, "2026-03-20", "unknown")]
    assert len(fake_stripe.off_session_intents()) == 1


def test_two_processes_at_once_charge_once(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    fake_stripe.decline(method["id"])
    api.run("2026-03-19")
    factory = api.app.state.factory
    # the proforma of the 20th, then four charge runs at once, as from four processes
    from billing.cycle.run import process_chunk

    process_chunk(factory, ["acme"], date(2026, 3, 20))
    start = threading.Barrier(4)
    errors = []

    def run():
        start.wait()
        try:
            charge_saved_cards(factory, date(2026, 3, 27))
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # the catch-up through the 27th: the attempts of the 20th, 23rd and 27th, each once
    assert [a[1] for a in attempts(api)] == [1, 2, 3]
    assert len(fake_stripe.off_session_intents()) == 3
    # and each was asked for once: not one intent answered four times by its idempotency key
    sent = [k for verb, path, _, k in fake_stripe.requests if (verb, path) == ("POST", "/v1/payment_intents")]
    assert sorted(sent) == [f"offsession:{SECOND}:{n}" for n in (1, 2, 3)]
