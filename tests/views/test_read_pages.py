"""The account's reads a page at a time (issue #19), on SQLite and PostgreSQL, over HTTP: the
documents and the ledger walked page by page give every row once, in order, with the balances the
whole list gives; bad parameters are refused naming the field; a customer key sees its own
account only."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.conftest import ADMIN
from tests.views.conftest import LONG, SHORT

HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def walk(api, path: str, items: str, **params) -> list[list[dict]]:
    """Every page of a list, following next_cursor until it is null."""
    pages, cursor = [], None
    while True:
        body = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        pages.append(body[items])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "the list does not end"


def test_the_unpaginated_lists_are_whole_and_say_so(world):
    docs = world.get(f"/v1/accounts/{LONG}/documents").json()
    assert set(docs) == {"account_id", "documents", "next_cursor"} and docs["next_cursor"] is None
    assert len(docs["documents"]) > 24  # more than the portal's page
    ledger = world.get(f"/v1/accounts/{LONG}/ledger").json()
    assert set(ledger) == {"account_id", "currency", "entries", "next_cursor"} and ledger["next_cursor"] is None
    # balance_after is the running balance from the first entry; the last one is the account's balance
    balance = Decimal(0)
    for entry in ledger["entries"]:
        balance += Decimal(entry["amount"])
        assert Decimal(entry["balance_after"]) == balance, entry
    assert balance == Decimal(world.state(LONG)["balance"])
    kinds = {entry["kind"] for entry in ledger["entries"]}
    assert {"payment", "charge", "credit", "refund"} <= kinds, kinds


@pytest.mark.parametrize("limit", [1, 5, 24, 500])
def test_document_pages_give_every_document_once_in_order(world, limit):
    whole = world.get(f"/v1/accounts/{LONG}/documents").json()["documents"]
    pages = walk(world, f"/v1/accounts/{LONG}/documents", "documents", limit=limit)
    assert all(1 <= len(page) <= limit for page in pages) and all(len(page) == limit for page in pages[:-1])
    walked = [doc for page in pages for doc in page]
    assert walked == whole  # the same rows, statuses and NAV statuses, in the same order
    keys = [(doc["issue_date"], doc["number"]) for doc in walked]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    statuses = {doc["status"] for doc in walked}
    assert {"paid", "partially_refunded"} <= statuses, statuses  # the credit notes are read for each page
    assert any(doc["nav_status"] for doc in walked if doc["kind"] != "proforma")
    if limit >= len(whole):
        assert len(pages) == 1


def test_each_document_on_a_page_is_what_the_single_view_says(world):
    page = world.get(f"/v1/accounts/{LONG}/documents", params={"limit": 50}).json()["documents"]
    for doc in page:
        single = world.get(f"/v1/documents/{doc['number']}").json()
        assert {k: single[k] for k in doc} == doc, doc["number"]


@pytest.mark.parametrize("limit", [7, 50, 500])
def test_ledger_pages_keep_the_balances_of_the_whole_ledger(world, limit):
    whole = world.get(f"/v1/accounts/{LONG}/ledger").json()["entries"]
    pages = walk(world, f"/v1/accounts/{LONG}/ledger", "entries", limit=limit)
    assert all(len(page) == limit for page in pages[:-1]) and 1 <= len(pages[-1]) <= limit
    assert [e for page in pages for e in page] == whole  # balance_after of page 40 as in the whole list


@pytest.mark.parametrize("window", [{"from": "2026-08-21"}, {"from": "2026-08-21", "to": "2026-11-03"},
                                    {"to": "2026-03-10"}, {"from": "2027-02-01"}])
def test_a_window_paginated_is_the_window_whole_and_the_ledger_cut(world, window):
    whole = world.get(f"/v1/accounts/{LONG}/ledger").json()["entries"]
    cut = [e for e in whole if window.get("from", "0000") <= e["date"] <= window.get("to", "9999")]
    assert world.get(f"/v1/accounts/{LONG}/ledger", params=window).json()["entries"] == cut
    pages = walk(world, f"/v1/accounts/{LONG}/ledger", "entries", limit=9, **window)
    assert [e for page in pages for e in page] == cut and len(pages) > 1


def test_an_empty_window_is_an_empty_last_page(world):
    body = world.get(f"/v1/accounts/{LONG}/ledger", params={"from": "2030-01-01", "limit": 5}).json()
    assert body["entries"] == [] and body["next_cursor"] is None


def _field_errors(response) -> list[str]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return [error["field"] for error in response.json()["details"]["errors"]]


@pytest.mark.parametrize("resource", ["documents", "ledger"])
def test_bad_limits_and_cursors_are_refused_naming_the_field(world, resource):
    path = f"/v1/accounts/{LONG}/{resource}"
    for limit in ("0", "501", "-1", "ten", "1.5"):
        response = world.get(path, params={"limit": limit}, expect=422)
        assert any(field.endswith("limit") for field in _field_errors(response)), response.text
    other = "ledger" if resource == "documents" else "documents"
    foreign = world.get(f"/v1/accounts/{LONG}/{other}", params={"limit": 2}).json()["next_cursor"]
    back_office = world.get("/v1/documents", params={"limit": 1}).json()["next_cursor"]
    for cursor in ("nonsense!", "bm90IGpzb24", "W10", foreign, back_office, "x" * 401):
        response = world.get(path, params={"limit": 5, "cursor": cursor}, expect=422)
        assert any(field.endswith("cursor") for field in _field_errors(response)), (cursor, response.text)


def test_a_ledger_cursor_with_a_made_up_key_is_refused(world):
    from billing.views.cursors import encode_cursor

    for key in (("2026-13-01", "5"), ("2026-03-01", "x"), ("2026-03-01", "1" * 19), ("2026-03-01", "-1")):
        response = world.get(f"/v1/accounts/{LONG}/ledger", params={"cursor": encode_cursor("ledger", *key)},
                             expect=422)
        assert _field_errors(response) == ["cursor"]


def test_a_customer_key_pages_its_own_account_only(world):
    own = world.post(f"/v1/accounts/{SHORT}/keys", expect=201).json()["key"]
    headers = {"Authorization": f"Bearer {own}"}
    for resource in ("documents", "ledger"):
        mine = world.get(f"/v1/accounts/{SHORT}/{resource}", params={"limit": 2}, headers=headers).json()
        assert mine["account_id"] == SHORT
        theirs = world.get(f"/v1/accounts/{LONG}/{resource}", params={"limit": 2}, headers=headers, expect=None)
        assert theirs.status_code in (403, 404) and "INV-" not in theirs.text
        # LONG's cursor (its second row, January 2026) on SHORT's list: SHORT's rows after it only,
        # which are all of them (SHORT starts in December)
        items = "documents" if resource == "documents" else "entries"
        cursor = world.get(f"/v1/accounts/{LONG}/{resource}", params={"limit": 2}).json()["next_cursor"]
        page = world.get(f"/v1/accounts/{SHORT}/{resource}", params={"limit": 500, "cursor": cursor},
                         headers=headers).json()
        whole = world.get(f"/v1/accounts/{SHORT}/{resource}", headers=headers).json()[items]
        assert page[items] == whole and whole
