"""The four languages: every message text exists in each catalog with the same placeholders, the
texts render with the locale's money and date formats, and the PDFs and the portal read the same
catalogs."""
from __future__ import annotations

import re

import pytest

from billing.locale.catalog import LOCALES, words
from billing.mail.decide import KINDS
from billing.mail.render import Sender, render

SENDER = Sender("Seller Kft.", "11773016-11111018-00000000", "https://billing.example/portal/acme?token=t")
PARAMS = {"number": "PRO-2026-000012", "amount": "123456", "currency": "HUF", "due_date": "2026-03-24",
          "issue_date": "2026-03-16", "suspension_day": "2026-04-24", "consequence": "suspension", "day": "2026-04-24",
          "conversion_day": "2026-03-16", "trial_ends_on": "2026-03-15", "references": "INV-2026-000001",
          "terminated_on": "2026-05-10", "refund": "5000", "due_by": "2026-06-09"}


def test_every_mail_text_is_in_every_language_with_the_same_placeholders():
    english = words("en", "mail")
    for kind in KINDS:
        assert f"{kind}.subject" in english and f"{kind}.body" in english
    for locale in LOCALES:
        texts = words(locale, "mail")
        assert set(texts) == set(english), locale
        for key, text in texts.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", english[key])), (locale, key)


@pytest.mark.parametrize("locale,money,day,word", [
    ("hu", "123 456 Ft", "2026. 03. 24.", "díjbekérő"),
    ("ro", "123.456 HUF", "24.03.2026", "proformă"),
    ("en", "HUF123,456", "3/24/2026", "proforma"),  # as the PDFs print it
    ("de", "123.456 HUF", "24.03.2026", "Proforma-Rechnung"),
])
def test_a_proforma_message_in_each_language(locale, money, day, word):
    out = render("proforma_issued", PARAMS, locale, SENDER, "acme")
    plain = out.text.replace("\u00a0", " ").replace("\u202f", " ")
    assert money in plain and day in plain and word in plain
    assert "11773016-11111018-00000000" in plain and SENDER.link in plain
    assert f'lang="{locale}"' in out.html and words(locale, "portal")["pay_by_card"] in out.html
    assert "{" not in plain and "{" not in out.subject


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language(kind, locale):
    out = render(kind, PARAMS, locale, SENDER, "acme")
    assert out.subject and out.text and "</html>" in out.html and "{" not in out.text


def test_html_is_escaped():
    out = render("invoice_issued", {**PARAMS, "number": "<b>INV</b>"}, "en", SENDER, "acme")
    assert "<b>INV</b>" not in out.html and "&lt;b&gt;INV&lt;/b&gt;" in out.html


def test_the_pdf_and_portal_words_come_from_the_catalogs():
    from billing.portal.labels import labels
    from invoices.i18n import label

    assert label("hu", "proforma") == words("hu", "pdf")["proforma"] == "DÍJBEKÉRŐ – nem számla"
    assert label("de", "seat-day") == "Nutzer-Tag" and label("en", "no-such-label") == "no-such-label"
    assert labels("ro")["pay_by_card"] == words("ro", "portal")["pay_by_card"] == "Plătește cu cardul"


# Fingerprints of the words as invoices/i18n.py and billing/portal/labels.py wrote them by hand
# before they moved into the catalogs (sha256 of the sorted JSON, first 16 hex digits): every
# rendered word must stay identical. The portal's new words (added since) are not in these, nor
# the statement's `payment_reversal` line kind (added with returned payments, CONTRACT §5a).
NEW_PDF_KEYS = ("payment_reversal",)
PDF_WORDS = {"hu": "498187965657c438", "ro": "8ee6ab6eac561bd2", "en": "3d1cdc93102d44a6", "de": "2815e71cc7c37d98"}
PORTAL_KEYS = ("portal_title documents statements kind number issue_date due_date amount status download "
               "pay_by_card no_documents no_statements balance closing_balance month remaining access "
               "proforma invoice credit_note paid open overdue void refunded partially_refunded issued "
               "full limited suspended closed link_valid_until period payments charges refunds correction").split()
PORTAL_WORDS = {"hu": "7cb656b87290d3ef", "ro": "a4c76c62b66921ae", "en": "d48fd4232197a4d2", "de": "f0a0ced8fabd9ddb"}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_words_moved_into_the_catalogs_are_unchanged(locale):
    import hashlib
    import json

    def fingerprint(found):
        return hashlib.sha256(json.dumps(found, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    old = {key: word for key, word in words(locale, "pdf").items() if key not in NEW_PDF_KEYS}
    assert fingerprint(old) == PDF_WORDS[locale]
    assert fingerprint({key: words(locale, "portal")[key] for key in PORTAL_KEYS}) == PORTAL_WORDS[locale]
