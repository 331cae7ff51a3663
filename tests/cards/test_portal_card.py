"""The card on file in the customer portal: shown (brand, •••• last4, expiry), removed by the customer
with a POST carrying the portal token, detached at Stripe, and never charged afterwards."""
from __future__ import annotations

import re

from tests.cards.conftest import PAID_AT, SECOND, attempts, cards, pay_first_by_card, portal_link


def _remove_action(html: str) -> str:
    match = re.search(r'<form method="post" action="([^"]*/cards/\d+/remove[^"]*)"', html)
    assert match, "no remove form"
    return match.group(1).replace("&amp;", "&")


def test_the_portal_shows_the_card_in_the_accounts_language(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    html = api.client.get(portal_link(api)).text
    assert "Mentett bankkártya" in html and "Visa" in html and "•••• 4242" in html and "12/2030" in html
    assert "Kártya eltávolítása" in html and "/portal/acme/cards/" in _remove_action(html)
    for lang, word in (("en", "Saved card"), ("de", "Gespeicherte Karte"), ("ro", "Card salvat")):
        assert word in api.client.get(portal_link(api) + f"&lang={lang}").text, lang


def test_a_card_saved_minutes_ago_shows_before_the_next_run(api, fake_stripe):
    api.setup({"acme": 2})
    api.run("2026-03-16")
    checkout = api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()
    completed, _ = fake_stripe.complete_session(checkout["session_id"], created=PAID_AT,
                                                card={"brand": "mastercard", "last4": "4444",
                                                      "exp_month": 3, "exp_year": 2029})
    api.webhook(fake_stripe, completed)
    assert [c.status for c in cards(api)] == ["pending"]  # the webhook made no call to Stripe
    html = api.client.get(portal_link(api)).text
    assert "Mastercard" in html and "•••• 4444" in html and "03/2029" in html
    assert [c.status for c in cards(api)] == ["active"]


def test_a_removed_card_is_detached_and_never_charged(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    link = portal_link(api)
    answer = api.client.post(_remove_action(api.client.get(link).text), follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/acme?token=")
    assert fake_stripe.payment_methods[method["id"]]["customer"] is None  # detached at Stripe
    [card] = cards(api)
    assert card.status == "removed" and card.removed_at is not None and card.detached_at is not None
    page = api.client.get(answer.headers["location"]).text
    assert "4242" not in page and "Mentett bankkártya" not in page
    for day in ("2026-03-20", "2026-03-23", "2026-03-27"):
        api.run(day)
    assert fake_stripe.off_session_intents() == [] and attempts(api) == []
    assert api.document(SECOND)["status"] == "open"
    # the same form again: nothing left to remove
    token = link.split("?", 1)[1]
    assert api.client.post(f"/portal/acme/cards/{card.id}/remove?{token}").status_code == 404


def test_only_the_account_itself_removes_its_card(api, fake_stripe):
    pay_first_by_card(api, fake_stripe)
    [card] = cards(api)
    api.event("account.created", "beta", "2026-03-02T10:00:00+01:00", name="Beta Kft.", email="b@beta.example",
              country="HU", currency="HUF", plan="std", tax_number="12345676-2-41",
              address={"postal_code": "1111", "city": "Budapest", "street": "Fő utca 2."})
    beta = portal_link(api, "beta").split("?", 1)[1]
    for path in (f"/portal/acme/cards/{card.id}/remove?{beta}", f"/portal/beta/cards/{card.id}/remove?{beta}",
                 f"/portal/acme/cards/{card.id}/remove"):
        assert api.client.post(path, follow_redirects=False).status_code in (401, 404), path
    assert [c.status for c in cards(api)] == ["active"]
    assert "4242" not in api.client.get(f"/portal/beta?{beta}").text


def test_a_detach_that_fails_is_retried_and_the_card_is_never_charged_meanwhile(api, fake_stripe):
    method = pay_first_by_card(api, fake_stripe)
    html = api.client.get(portal_link(api)).text
    fake_stripe.drop_responses = 3  # Stripe never answers the detach (the library's retries included)
    assert api.client.post(_remove_action(html), follow_redirects=False).status_code == 303
    [card] = cards(api)
    assert card.status == "removed" and card.detached_at is None
    api.run("2026-03-20")  # the cycle detaches it first, and charges nothing
    assert fake_stripe.payment_methods[method["id"]]["customer"] is None
    assert cards(api)[0].detached_at is not None and fake_stripe.off_session_intents() == []
