"""The portal page at 14 months of history, on SQLite and PostgreSQL: the statements of the latest
12 months with activity, each with the figures the month's statement gives, the older ones still
reachable by their PDF link; the latest documents, newest first, and every older one reachable
through the page's links, which carry the caller's credentials."""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from billing.db import models as m
from billing.portal.page import DOCUMENTS_PER_PAGE, STATEMENT_MONTHS
from billing.views import statements
from billing.views.accounts import CUSTOMER_KINDS
from tests.views.conftest import LONG, MONTHS, SHORT


def _link(api, account: str) -> str:
    url = api.post(f"/v1/accounts/{account}/portal-link", {}, expect=201).json()["url"]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _href(html: str, css_class: str) -> str | None:
    found = re.search(rf'class="{css_class}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _factory(api):
    return api.client.app.state.factory


def _old_statement_figures(session, account_id: str, month: str) -> tuple:
    """statements.statement() as it was before #19: every entry through the month's end read, the
    opening summed here (the reference its new SQL opening must equal)."""
    first, last = statements.parse_month(month)
    rows = list(session.scalars(select(m.JournalEntry).where(
        m.JournalEntry.account_id == account_id, m.JournalEntry.kind.in_(CUSTOMER_KINDS),
        m.JournalEntry.day <= last).order_by(m.JournalEntry.day, m.JournalEntry.id)))
    opening = sum((r.amount for r in rows if r.day < first), Decimal(0))
    payments = charges = refunds = credits = Decimal(0)
    ids = []
    for row in (r for r in rows if r.day >= first):
        ids.append(row.id)
        if row.kind in ("payment", "payment_reversal"):
            payments += row.amount
        elif row.kind == "refund":
            refunds -= row.amount
        elif row.kind in ("credit", "correction"):
            credits += row.amount
        else:
            charges -= row.amount
    return opening, payments, charges, refunds, credits, opening + payments - charges - refunds + credits, ids


def test_statement_reads_its_month_and_gives_what_it_gave(world):
    with _factory(world)() as session:
        for month in ["2025-12", *MONTHS, "2027-03"]:
            st = statements.statement(session, LONG, month)
            opening, payments, charges, refunds, credits, closing, ids = _old_statement_figures(session, LONG, month)
            assert (st.opening_balance, st.payments, st.charges, st.refunds, st.credits, st.closing_balance) == \
                (opening, payments, charges, refunds, credits, closing), month
            assert sorted(i for line in st.lines for i in line.entry_ids) == ids  # the month's entries, each once


def test_the_latest_months_totals_are_the_statements(world):
    with _factory(world)() as session:
        account = session.get(m.Account, LONG)
        every, earlier = statements.latest_months(session, account, 100)
        assert [t.month for t in every] == MONTHS[::-1] and earlier == 0
        shown, earlier = statements.latest_months(session, account, STATEMENT_MONTHS)
        assert shown == every[:STATEMENT_MONTHS] and earlier == len(MONTHS) - STATEMENT_MONTHS
        for totals in every:
            st = statements.statement(session, LONG, totals.month)
            assert (totals.opening, totals.payments, totals.charges, totals.refunds, totals.credits,
                    totals.closing) == (st.opening_balance, st.payments, st.charges, st.refunds, st.credits,
                                        st.closing_balance), totals.month
        assert any(t.refunds for t in every) and any(t.credits for t in every)


def test_the_page_shows_the_latest_twelve_months_with_the_statements_figures(world):
    from invoices.i18n import fmt_money

    html = world.client.get(_link(world, LONG) + "&lang=en").text
    months = re.findall(r'<tr data-month="([0-9-]+)">', html)
    assert months == MONTHS[::-1][:STATEMENT_MONTHS]
    assert "Statements of the latest 12 months with activity are shown." in html
    for month in months:
        st = world.get(f"/v1/accounts/{LONG}/statements/{month}").json()
        row = html.split(f'<tr data-month="{month}">', 1)[1].split("</tr>", 1)[0]
        for figure in ("payments", "charges", "closing_balance"):
            assert fmt_money(Decimal(st[figure]), "HUF", "en") in row, (month, figure)
        if Decimal(st["refunds"]):
            assert fmt_money(Decimal(st["refunds"]), "HUF", "en") in row
    # an older month is not listed, and its statement is still there by its PDF link
    link = _link(world, LONG)
    older = link.replace(f"/portal/{LONG}?", f"/portal/{LONG}/statements/{MONTHS[0]}.pdf?")
    response = world.client.get(older)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_a_short_history_shows_every_month_and_no_note(world):
    html = world.client.get(_link(world, SHORT) + "&lang=en").text
    assert re.findall(r'<tr data-month="([0-9-]+)">', html) == ["2027-02", "2027-01", "2026-12"]
    assert "earlier-statements" not in html and "older-documents" not in html


@pytest.mark.parametrize("how", ["token", "customer key"])
def test_every_document_is_reachable_newest_first(world, how):
    whole = world.get(f"/v1/accounts/{LONG}/documents").json()["documents"]
    if how == "token":
        url, headers = _link(world, LONG), {}
    else:
        key = world.post(f"/v1/accounts/{LONG}/keys", expect=201).json()["key"]
        url, headers = f"/portal/{LONG}", {"Authorization": f"Bearer {key}"}
    pages = []
    while url:
        # the first request may carry the key; every link on the page carries a token instead
        response = world.client.get(url, headers=headers if not pages else {})
        assert response.status_code == 200, response.text
        html = response.text
        pages.append(re.findall(r'<tr data-number="([^"]+)">', html))
        assert (_href(html, "latest-documents") is not None) == (len(pages) > 1)
        url = _href(html, "older-documents")
        if url:
            assert "token" in parse_qs(urlsplit(url).query)
        assert len(pages) < 20
    assert all(len(page) == DOCUMENTS_PER_PAGE for page in pages[:-1]) and len(pages) > 1
    shown = [number for page in pages for number in page]
    newest_first = sorted(whole, key=lambda d: (d["issue_date"], d["number"]), reverse=True)
    assert shown == [d["number"] for d in newest_first]


def test_an_older_page_keeps_the_language_and_its_links_work(world):
    html = world.client.get(_link(world, LONG) + "&lang=de").text
    older = _href(html, "older-documents")
    assert parse_qs(urlsplit(older).query)["lang"] == ["de"]
    page = world.client.get(older).text
    assert '<html lang="de">' in page and "Neueste Belege" in page
    pdf = re.search(r'class="pdf" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert world.client.get(pdf).content.startswith(b"%PDF")


def test_a_bad_before_is_refused_naming_it(world):
    link = _link(world, LONG)
    for before in ("nonsense!", "W10", "x" * 401):
        response = world.client.get(f"{link}&{urlencode({'before': before})}")
        assert response.status_code == 422, before
        assert [e["field"].split(".")[-1] for e in response.json()["details"]["errors"]] == ["before"]
    # a cursor of another list is not a `before`
    cursor = world.get(f"/v1/accounts/{LONG}/documents", params={"limit": 2}).json()["next_cursor"]
    assert world.client.get(f"{link}&before={cursor}").status_code == 422
