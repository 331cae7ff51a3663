"""GET /v1/documents over HTTP on both engines: keyset pages by (issue_date, number), stable while
the cycle issues documents, each filter, validation and scopes."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from nav_reporting.models import NavOutbox
from tests.lists.world import CRM_KEY, FINANCE_KEY, MARCH_1, as_key, build_world, every_page


def _key(doc):
    return doc["issue_date"], doc["number"]


def _everything(api):
    return [d for page in every_page(api, "/v1/documents", {"limit": 500}) for d in page]


def test_seven_documents_in_pages_of_three(api):
    api.plan()
    for n in range(1, 8):
        api.account(f"a{n}", at=MARCH_1, trial_days=0)
        api.seats(f"a{n}", MARCH_1, "u1")
    api.run("2026-03-01")  # one first proforma each, issued 1 March
    pages = every_page(api, "/v1/documents", {"limit": 3})
    assert [len(page) for page in pages] == [3, 3, 1]  # 7 = 3 + 3 + 1, next_cursor null after the 7th
    docs = [d for page in pages for d in page]
    assert [d["number"] for d in docs] == [f"PRO-2026-00000{n}" for n in range(1, 8)]
    assert docs == sorted(docs, key=_key)
    # each item is what the account's documents list shows
    assert docs[0] == api.documents(docs[0]["account_id"])[0]


def test_documents_issued_while_paging_show_up_if_they_sort_after_the_cursor(api):
    api.plan()
    for n in range(1, 8):
        api.account(f"a{n}", at=MARCH_1, trial_days=0)
        api.seats(f"a{n}", MARCH_1, "u1")
    api.run("2026-03-01")
    first = api.get("/v1/documents", params={"limit": 3}).json()
    cursor_key = _key(first["items"][-1])  # (2026-03-01, PRO-2026-000003)
    # Meanwhile: an account created back on 25 February (its first proforma, dated that day and
    # covering March too, sorts before the cursor) and the 20 March run (every account's April
    # proforma sorts after it).
    api.account("a0", at="2026-02-25T08:00:00+01:00", trial_days=0)
    api.seats("a0", "2026-02-25T08:00:00+01:00", "u1")
    api.run("2026-03-20")
    rest = [d for page in every_page(api, "/v1/documents", {"limit": 3, "cursor": first["next_cursor"]})
            for d in page]
    seen = [d["number"] for d in first["items"] + rest]
    assert len(seen) == len(set(seen))  # nothing repeated
    everything = _everything(api)
    before = [d["number"] for d in everything if _key(d) <= cursor_key]
    after = [d["number"] for d in everything if _key(d) > cursor_key]
    assert [d["number"] for d in rest] == after  # nothing skipped, in order
    added_before = [d for d in everything if d["account_id"] == "a0" and _key(d) < cursor_key]
    assert [d["issue_date"] for d in added_before] == ["2026-02-25"]
    assert set(before) == {d["number"] for d in first["items"]} | {d["number"] for d in added_before}
    # the 20 March proformas of a0 … a7 are all on the later pages
    assert sorted(d["account_id"] for d in rest if d["issue_date"] == "2026-03-20") == [f"a{n}" for n in range(8)]


def test_filters(api):
    build_world(api)
    api.run("2026-04-30")
    everything = _everything(api)
    # 9 accounts' 49 documents? No: count them from the world's story (world.py): proformas 1 March
    # ×7 (all but wait and trial), 20 March ×7 (the same seven), 10 April ×1 (wait), 20 April ×6
    # (act, eu, eudisc, late, susp, wait: gone is terminated, exp expired) = 21; invoices: one per
    # payment, 6 on 2 March + 5 on 21 March + 3 on 21 April = 14; gone's credit note = 1.
    assert len(everything) == 21 + 14 + 1
    assert everything == sorted(everything, key=_key)

    def listed(**params):
        return [d for page in every_page(api, "/v1/documents", {**params, "limit": 4}) for d in page]

    for kind, count in (("proforma", 21), ("invoice", 14), ("credit_note", 1), ("correction", 0)):
        assert listed(kind=kind) == [d for d in everything if d["kind"] == kind]
        assert len(listed(kind=kind)) == count
    statuses = {}
    for status in ("paid", "open", "overdue", "void", "refunded", "partially_refunded", "issued"):
        statuses[status] = listed(status=status)
        assert statuses[status] == [d for d in everything if d["status"] == status], status
    # overdue at 30 April: susp's April and May proformas, late's May proforma, wait's two
    assert sorted(d["account_id"] for d in statuses["overdue"]) == ["late", "susp", "susp", "wait", "wait"]
    # void: exp's two proformas (it expired); gone's 21 March invoice is reduced by its credit note
    assert [d["account_id"] for d in statuses["void"]] == ["exp", "exp"]
    assert [(d["account_id"], d["kind"]) for d in statuses["partially_refunded"]] == [("gone", "invoice")]
    assert [(d["account_id"], d["kind"]) for d in statuses["issued"]] == [("gone", "credit_note")]
    assert statuses["open"] == statuses["refunded"] == []
    assert sum(len(v) for v in statuses.values()) == len(everything)  # every document has one of them
    # each status is one document_statuses can give its kind (the scan's narrowing relies on it)
    from billing.views.lists import STATUS_KINDS
    for doc in everything:
        kinds = STATUS_KINDS[doc["status"]]
        assert doc["kind"] in kinds if kinds else doc["kind"] not in ("proforma", "invoice"), doc
    # and each item is what GET /v1/documents/{number} shows, less the frozen body
    for doc in everything:
        single = api.get(f"/v1/documents/{doc['number']}").json()
        assert {k: v for k, v in single.items() if k not in ("document", "content_hash")} == doc

    # issue dates, inclusive: 20 March holds the seven April proformas
    march_20 = listed(**{"from": "2026-03-20", "to": "2026-03-20"})
    assert len(march_20) == 7 and {d["issue_date"] for d in march_20} == {"2026-03-20"}
    assert listed(**{"from": "2026-04-15"}) == [d for d in everything if d["issue_date"] >= "2026-04-15"]
    assert listed(to="2026-03-01") == [d for d in everything if d["issue_date"] == "2026-03-01"]
    # combined: what is still overdue from the April proformas
    assert [d["account_id"] for d in listed(status="overdue", **{"from": "2026-04-20", "to": "2026-04-20"})] \
        == ["late", "susp", "wait"]

    # NAV: without NAV credentials every invoice and credit note waits QUEUED; proformas have none
    queued = listed(nav_status="QUEUED")
    assert queued == [d for d in everything if d["kind"] != "proforma"] and len(queued) == 15
    done = queued[0]["number"]
    with api.client.app.state.factory.begin() as session:  # as the NAV worker would mark it
        session.execute(update(NavOutbox).where(NavOutbox.document_number == done).values(status="DONE"))
    assert [d["number"] for d in listed(nav_status="DONE")] == [done]
    assert len(listed(nav_status="QUEUED")) == 14
    assert listed(nav_status="ABORTED") == []


def test_a_status_filter_pages_through_candidates_in_batches(api, monkeypatch):
    """A small batch and scan budget: pages may come short, but the list still ends with every
    match exactly once."""
    from billing.views import lists

    build_world(api)
    api.run("2026-04-30")
    expected = [d["number"] for d in _everything(api) if d["status"] == "overdue"]
    monkeypatch.setattr(lists, "FILTER_BATCH", 3)
    monkeypatch.setattr(lists, "MAX_SCANNED", 6)
    pages = every_page(api, "/v1/documents", {"status": "overdue", "limit": 2})
    assert [d["number"] for page in pages for d in page] == expected
    assert any(len(page) < 2 for page in pages[:-1])  # a short page with a cursor: the budget ran out


@pytest.mark.parametrize("params, field", [
    ({"limit": "501"}, "limit"), ({"limit": "-1"}, "limit"),
    ({"kind": "receipt"}, "kind"), ({"status": "late"}, "status"), ({"nav_status": "done"}, "nav_status"),
    ({"from": "2026-02-30"}, "from"), ({"to": "yesterday"}, "to"),
    ({"from": "2026-04-02", "to": "2026-04-01"}, "to"),
    ({"cursor": "%%%"}, "cursor"), ({"cursor": "WyJhY2NvdW50cyIsImExIl0"}, "cursor"),  # an accounts cursor
    ({"cursor": "WyJkb2N1bWVudHMiLCIyMDI2LTEzLTAxIiwiUFJPIl0"}, "cursor"),  # month 13
    ({"account": "acme"}, "account"),
])
def test_bad_parameters_are_422_naming_the_field(api, params, field):
    body = api.get("/v1/documents", params=params, expect=422).json()
    fields = [e["field"] for e in body["details"]["errors"]]
    assert any(f == field or f.endswith("." + field) for f in fields), body


def test_scopes(api):
    api.plan()
    api.account("acme", at=MARCH_1, trial_days=0)
    api.seats("acme", MARCH_1, "u1")
    api.run("2026-03-01")
    customer = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    for key in (CRM_KEY, FINANCE_KEY):
        items = api.get("/v1/documents", headers=as_key(key)).json()["items"]
        assert [d["number"] for d in items] == ["PRO-2026-000001"]
    # a customer's own documents are GET /v1/accounts/{id}/documents; the list across accounts is not its
    api.get("/v1/documents", headers=as_key(customer), expect=403)
    assert api.get("/v1/accounts/acme/documents", headers=as_key(customer)).status_code == 200
    api.get("/v1/documents", headers={}, expect=401)
