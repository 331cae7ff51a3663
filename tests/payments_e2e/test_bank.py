"""Bank statements over HTTP: CAMT.053 upload, matching by proforma number, exactly-once booking,
partial and over-payment, unmatched credits assigned by finance, currency and termination parked."""
from __future__ import annotations

from billing.db import models as m
from tests.fakes.camt053 import Entry, Statement, build_statement

DEBTOR_IBAN = "HU93116000060000000012345676"

STATEMENT = Statement(entries=(
    # acme pays 5,000 of PRO-2026-000001 (10,312), the number written loosely inside the text
    Entry("5000", acct_svcr_ref="B-1", unstructured=("Díjbekérő pro 2026 000001 köszönjük",),
          debtor_name="Acme Kft.", debtor_iban="HU42117730161111101800000000"),
    # no proforma number anywhere: unmatched
    Entry("7000", acct_svcr_ref="B-2", unstructured=("licence fee march",), debtor_name="Acme Kft."),
    # beta overpays PRO-2026-000002 (5,156): 6,000
    Entry("6000", acct_svcr_ref="B-3", structured_ref="PRO-2026-000002", debtor_name="Beta Bt.",
          debtor_iban=DEBTOR_IBAN),
    # the right proforma, the wrong currency: rejected, never half-booked
    Entry("26.00", currency="EUR", acct_svcr_ref="B-4", unstructured=("PRO-2026-000001",)),
    # our own outgoing transfer, naming a proforma but for another amount: not a payment, ignored
    Entry("1200", credit=False, acct_svcr_ref="B-5", unstructured=("PRO-2026-000001",)),
))


def prepare(api):
    api.setup({"acme": 2, "beta": 1})
    api.run("2026-03-16")
    assert api.documents("acme", "proforma")[0]["gross"] == "10312"  # R(2 × 9,990 × 16/31)
    assert api.documents("beta", "proforma")[0]["gross"] == "5156"   # R(9,990 × 16/31) = R(5,156.13)


def test_statement_upload_matching_and_allocation(api):
    prepare(api)
    answer = api.upload(build_statement(STATEMENT))
    assert (answer["booked"], answer["duplicate"], answer["unmatched"], answer["rejected"], answer["ignored"],
            answer["reversed"]) == (2, 0, 1, 1, 1, 0)
    results = {e["bank_reference"]: e for e in answer["entries"]}
    ids = {ref: e["entry_id"] for ref, e in results.items()}
    assert results["B-1"]["result"] == "booked" and results["B-1"]["account_id"] == "acme"
    assert results["B-1"]["proforma_number"] == "PRO-2026-000001"
    assert results["B-2"]["result"] == "unmatched"
    assert results["B-3"]["result"] == "booked" and results["B-3"]["account_id"] == "beta"
    assert results["B-4"]["result"] == "rejected" and "HUF" in results["B-4"]["reason"]
    assert results["B-5"]["result"] == "ignored" and results["B-5"]["direction"] == "debit"

    again = api.upload(build_statement(STATEMENT), content_type="text/xml; charset=utf-8")
    assert (again["booked"], again["duplicate"]) == (0, 5)
    payments = [e for e in api.table(m.Event) if e.type == "payment.received"]
    assert sorted((e.account_id, e.data["amount"]) for e in payments) == [("acme", "5000"), ("beta", "6000")]
    acme_payment = next(e for e in payments if e.account_id == "acme")
    assert acme_payment.id == f"bank:{ids['B-1']}" and acme_payment.data["method"] == "bank_transfer"
    assert acme_payment.data["external_id"] == ids["B-1"] and acme_payment.data["reference"] == "PRO-2026-000001"
    assert acme_payment.occurred_at.isoformat() == "2026-03-18T11:00:00+00:00"  # 12:00 in Budapest (CET)

    api.run("2026-03-18")
    acme = api.document("PRO-2026-000001")
    assert (acme["paid"], acme["remaining"], acme["status"]) == ("5000", "5312", "open")  # 10,312 − 5,000
    # charges 16–18 March: R(19,980 × 3/31) = 1,934; 5,000 − 1,934 = 3,066
    assert api.state("acme")["balance"] == "3066"
    beta = api.document("PRO-2026-000002")
    assert (beta["paid"], beta["remaining"], beta["status"]) == ("5156", "0", "paid")
    # beta: R(9,990 × 3/31) = R(966.77) = 967; 6,000 − 967 = 5,033 (844 beyond the proforma)
    assert api.state("beta")["balance"] == "5033"
    assert api.state("beta")["state"] == "active"
    [beta_invoice] = api.documents("beta", "invoice")
    assert beta_invoice["gross"] == "6000"

    # a checkout for acme's proforma now asks only for the remaining 5,312
    assert api.post("/v1/documents/PRO-2026-000001/checkout", expect=201).json()["amount"] == "5312"

    unmatched = api.get("/v1/payments/unmatched").json()["entries"]
    assert [(u["bank_reference"], u["status"]) for u in unmatched] == [("B-2", "unmatched"), ("B-4", "rejected")]
    b2, b4 = ids["B-2"], ids["B-4"]
    assert api.post(f"/v1/payments/unmatched/{b2}/assign", {"account_id": "ghost"}).status_code == 404
    assert api.post(f"/v1/payments/unmatched/{b2}/assign", {"account": "acme"}).status_code == 422
    # EUR into a HUF account stays refused
    assert api.post(f"/v1/payments/unmatched/{b4}/assign", {"account_id": "acme"}).status_code == 422
    assigned = api.post(f"/v1/payments/unmatched/{b2}/assign", {"account_id": "acme"}, expect=200).json()
    assert assigned["status"] == "assigned" and assigned["payment_event_id"] == f"bank:{b2}"
    assert api.post(f"/v1/payments/unmatched/{b2}/assign", {"account_id": "acme"}).status_code == 409
    assert [u["entry_id"] for u in api.get("/v1/payments/unmatched").json()["entries"]] == [b4]

    api.run("2026-03-19")  # the 18 March credit arrives late: it is posted on 19 March
    acme = api.document("PRO-2026-000001")
    assert (acme["paid"], acme["remaining"], acme["status"]) == ("10312", "0", "paid")  # 5,000 + 5,312
    # 5,000 + 7,000 − R(19,980 × 4/31) = 12,000 − 2,578 = 9,422
    assert api.state("acme")["balance"] == "9422"
    assert [d["gross"] for d in api.documents("acme", "invoice")] == ["5000", "7000"]

    report = api.reconciliation("2026-03-19")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    bank = next(c for c in report["payments_by_channel"] if c["channel"] == "bank_transfer")
    assert (bank["payments"], bank["clearing_balance"]) == ("18000", "18000")  # 5,000 + 7,000 + 6,000
    assert report["unmatched"]["count"] == 1


def test_malformed_file_is_rejected_whole(api):
    prepare(api)
    xml = build_statement(STATEMENT).replace(b"<Amt Ccy=\"HUF\">7000</Amt>", b"<Amt Ccy=\"HUF\">7,000</Amt>")
    answer = api.client.post("/v1/payments/bank-statements", content=xml,
                             headers={**api.headers, "Content-Type": "application/xml"})
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_bank_statement"
    assert "Amt" in answer.json()["message"]
    broken = api.client.post("/v1/payments/bank-statements", content=b"<Document><oops",
                             headers={**api.headers, "Content-Type": "application/xml"})
    assert broken.status_code == 422
    as_json = api.client.post("/v1/payments/bank-statements", json={"x": 1}, headers=api.headers)
    assert as_json.status_code == 415
    from billing.payments import models as pm

    assert api.table(pm.BankEntry) == []
    assert [e for e in api.table(m.Event) if e.type == "payment.received"] == []


def test_payment_after_termination_is_parked_and_bank_refund_is_a_payout(api):
    prepare(api)
    api.upload(build_statement(STATEMENT))
    api.run("2026-03-18")
    api.event("account.terminated", "beta", "2026-03-19T15:00:00+01:00", by="customer", reason="moving on")
    api.run("2026-03-19")
    # beta: 6,000 − R(9,990 × 4/31) = 6,000 − 1,289 = 4,711 to pay back by bank transfer
    late = Statement(statement_id="STMT-20260320-001", entries=(
        Entry("1000", booking_date="2026-03-20", acct_svcr_ref="B-9", unstructured=("PRO-2026-000002",)),))
    answer = api.upload(build_statement(late))
    [entry] = answer["entries"]
    assert entry["result"] == "rejected" and "terminated" in entry["reason"]
    refunds = api.get("/v1/refunds", params={"status": "due", "as_of": "2026-03-20"}).json()["refunds"]
    [refund] = refunds
    assert (refund["account_id"], refund["amount"], refund["due_date"]) == ("beta", "4711", "2026-04-18")
    [part] = refund["parts"]
    assert part["method"] == "bank_transfer" and part["state"] == "payout_instructed"
    assert part["payout"]["iban"] == DEBTOR_IBAN and part["payout"]["beneficiary"] == "Beta Bt."
    assert refund["overdue"] is False
    overdue = api.get("/v1/refunds", params={"status": "overdue", "as_of": "2026-04-19"}).json()["refunds"]
    assert [r["id"] for r in overdue] == [refund["id"]]
    report = api.reconciliation("2026-03-20")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    assert [r["id"] for r in report["refunds"]["due"]] == [refund["id"]]
