"""The portal page over plain HTTP: signed links, languages, statuses, PDFs and isolation."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from billing.portal.tokens import make_token
from tests.fakes.stripe_server import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe
from tests.exports.story import HEADERS, full_story, make_client, open_accounts, post, run


@pytest.fixture
def client(db_url, monkeypatch):
    monkeypatch.setenv("BILLING_PORTAL_SECRET", "portal-test-secret")
    return make_client(db_url, monkeypatch)


def _link(client, account: str) -> str:
    answer = post(client, f"/v1/accounts/{account}/portal-link", {"ttl_minutes": 30}, expect=201)
    parts = urlsplit(answer["url"])
    return f"{parts.path}?{parts.query}"


def _pdf_links(html: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+\.pdf[^"]*)"', html)]


def test_page_lists_documents_and_statements_in_hungarian(client):
    full_story(client)
    page = client.get(_link(client, "acme"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert '<html lang="hu">' in html and "Acme Kft." in html and "Bizonylatok" in html
    numbers = [d["number"] for d in client.get("/v1/accounts/acme/documents", headers=HEADERS).json()["documents"]]
    assert {"PRO-2026-000001", "INV-2026-000001", "CRN-2026-000001"} <= set(numbers) and len(numbers) == 4
    for number in numbers:
        assert f'data-number="{number}"' in html
    assert html.count("data-number=") == 4  # globex's documents are not here
    assert "10\u00a0312\u00a0Ft" in html or "10 312 Ft" in html  # Babel's hu format of 10,312 HUF
    assert "Fizetve" in html and "Részben visszatérítve" in html  # paid proforma, partly refunded invoice
    assert 'data-month="2026-03"' in html and "2026. március" in html
    assert "Visszatérítések: 3\u00a0867\u00a0Ft" in html  # the refund of the unused balance
    assert "Fizetés bankkártyával" not in html  # no checkout use case, no button
    links = _pdf_links(html)
    assert len(links) == 5  # four documents and one statement
    for link in links:
        response = client.get(link)
        assert response.status_code == 200 and response.content.startswith(b"%PDF"), link


def test_other_languages_and_overdue(client):
    open_accounts(client, locale="de")
    run(client, "2026-03-26")  # PRO-2026-000001 due 24 March, unpaid: overdue
    html = client.get(_link(client, "acme")).text
    assert '<html lang="de">' in html and "Überfällig" in html and "Belege" in html
    english = client.get(_link(client, "acme") + "&lang=en").text
    assert "Overdue" in english and "Download PDF" in english
    romanian = client.get(_link(client, "acme") + "&lang=ro").text
    assert "Restantă" in romanian
    assert client.get(_link(client, "acme") + "&lang=xx").status_code == 422


def test_another_accounts_token_gets_nothing(client):
    full_story(client)
    globex = _link(client, "globex")
    token = globex.split("token=", 1)[1]
    for path in ("/portal/acme", "/portal/acme/documents/INV-2026-000001.pdf", "/portal/acme/statements/2026-03.pdf"):
        response = client.get(f"{path}?token={token}")
        assert response.status_code == 404, path
        assert "Acme" not in response.text and b"%PDF" not in response.content
    # acme's own token on globex's page, and acme's document through globex's path: nothing either
    acme_token = _link(client, "acme").split("token=", 1)[1]
    assert client.get(f"/portal/globex?token={acme_token}").status_code == 404
    assert client.get(f"/portal/globex/documents/INV-2026-000001.pdf?token={token}").status_code == 404
    assert client.get("/portal/acme?token=123.abc").status_code == 404
    assert client.get("/portal/acme").status_code == 401


def test_expired_link_and_bearer_keys(client):
    open_accounts(client)
    old, _ = make_token("acme", 60, now=1_000_000)
    assert client.get(f"/portal/acme?token={old}").status_code == 403
    key = client.post("/v1/accounts/acme/keys", headers=HEADERS).json()["key"]
    page = client.get("/portal/acme", headers={"Authorization": f"Bearer {key}"})
    assert page.status_code == 200 and "Acme Kft." in page.text
    assert client.get("/portal/globex", headers={"Authorization": f"Bearer {key}"}).status_code == 404
    # a customer key cannot mint portal links, the CRM can
    assert client.post("/v1/accounts/acme/portal-link", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    assert client.post("/v1/accounts/nobody/portal-link", headers=HEADERS).status_code == 404
    assert client.post("/v1/accounts/acme/portal-link", json={"ttl_minutes": 0}, headers=HEADERS).status_code == 422


def test_pay_by_card_goes_to_a_stripe_checkout_and_the_paid_proforma_loses_its_button(client, monkeypatch):
    """The whole card path of the portal: the button, the POST, the real `stripe` library asking the
    loopback Stripe for a checkout session, the redirect to its URL, the signed webhook."""
    with FakeStripe() as stripe_server:
        monkeypatch.setenv("STRIPE_API_KEY", TEST_API_KEY)
        monkeypatch.setenv("STRIPE_API_BASE", stripe_server.base_url)
        monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", TEST_WEBHOOK_SECRET)
        open_accounts(client)
        run(client, "2026-03-16")
        html = client.get(_link(client, "acme")).text
        assert html.count('class="pay"') == 1
        action = re.search(r'<form method="post" action="([^"]+)"', html).group(1).replace("&amp;", "&")
        assert "/documents/PRO-2026-000001/pay?token=" in action
        response = client.post(action, follow_redirects=False)
        assert response.status_code == 303
        [session] = stripe_server.sessions.values()
        assert response.headers["location"] == session["url"] and session["url"].startswith(stripe_server.base_url)
        assert session["amount_total"] == 1031200  # R(2 × 9,990 × 16/31) = 10,312 HUF, in Stripe's hundredths
        assert session["metadata"] == {"proforma_number": "PRO-2026-000001", "account_id": "acme"}
        paid_at = int(datetime.fromisoformat("2026-03-18T10:00:00+01:00").timestamp())
        completed, _ = stripe_server.complete_session(session["id"], created=paid_at)
        payload, signature = stripe_server.webhook(completed)
        booked = client.post("/v1/payments/stripe/webhook", content=payload,
                             headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
        assert booked.status_code == 200 and booked.json()["outcome"] == "booked", booked.text
        run(client, "2026-03-18")
        assert 'class="pay"' not in client.get(_link(client, "acme")).text
        assert client.get("/v1/documents/PRO-2026-000001", headers=HEADERS).json()["status"] == "paid"


def test_no_card_button_without_stripe(client, monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    open_accounts(client)
    run(client, "2026-03-16")
    html = client.get(_link(client, "acme")).text
    assert 'data-number="PRO-2026-000001"' in html and 'class="pay"' not in html
    action = _link(client, "acme").replace("/portal/acme?", "/portal/acme/documents/PRO-2026-000001/pay?")
    assert client.post(action, follow_redirects=False).status_code == 404
