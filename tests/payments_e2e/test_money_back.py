"""Money as it really comes (CONTRACT §5a), over HTTP on both engines: batch entries, returns,
identity per statement account, offsets and fillér, foreign statements, Stripe refunds and
disputes made outside the service, bank payouts of refunds, and the reconciliation after them.

acme (2 seats) and beta (1 seat) on 9,990 HUF: their first proformas on 16 March ask
R(2 × 9,990 × 16/31) = 10,312 (PRO-2026-000001) and R(9,990 × 16/31) = 5,156 (PRO-2026-000002)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from billing.db import models as m
from billing.payments import models as pm
from tests.fakes.camt053 import Entry, Statement, Tx, build_statement
from tests.payments_e2e.conftest import epoch

SELLER = "HU42117730161111101800000000"   # the seller's default account 11773016-11111018-00000000 as an IBAN
OTHER_SELLER = "HU10117730160000000000000000"
CAMT = Path(__file__).resolve().parents[1] / "fixtures" / "camt053"
STRIPE = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"


def prepare(api, monkeypatch=None):
    api.setup({"acme": 2, "beta": 1})
    api.run("2026-03-16")
    assert [d["gross"] for d in api.documents("acme", "proforma")] == ["10312"]
    assert [d["gross"] for d in api.documents("beta", "proforma")] == ["5156"]


def by_ref(answer):
    return {e["bank_reference"]: e for e in answer["entries"]}


BATCH = Entry("15468", acct_svcr_ref="BATCH-1", batch_count=2, transactions=(
    Tx("10312", unstructured=("PRO-2026-000001",), debtor_name="Acme Kft.", end_to_end_id="E2E-ACME",
       debtor_iban="HU93116000060000000012345676"),
    Tx("5156", additional_tx_info="díjbekérő PRO-2026-000002", debtor_name="Beta Bt.", end_to_end_id="E2E-BETA")))


def test_a_batch_entry_is_one_payment_per_payer_and_a_return_undoes_one(api):
    prepare(api)
    answer = api.upload(build_statement(Statement(entries=(BATCH,))))
    assert (answer["booked"], answer["unmatched"]) == (2, 0)
    results = by_ref(answer)
    assert (results["BATCH-1#1"]["account_id"], results["BATCH-1#1"]["amount"]) == ("acme", "10312")
    assert (results["BATCH-1#2"]["account_id"], results["BATCH-1#2"]["amount"]) == ("beta", "5156")
    api.run("2026-03-18")
    assert api.state("acme")["state"] == "active" and api.state("beta")["state"] == "active"
    [acme_invoice] = api.documents("acme", "invoice")
    assert acme_invoice["gross"] == "10312"

    # 20 March: acme's bank returns the transfer (RvslInd, the same end-to-end id)
    returned = Statement(statement_id="STMT-20260320-001", entries=(
        Entry("10312", credit=False, reversal=True, acct_svcr_ref="RET-1", booking_date="2026-03-20",
              end_to_end_id="E2E-ACME", return_reason="AC04", unstructured=("RETURN PRO-2026-000001",)),))
    answer = api.upload(build_statement(returned))
    [entry] = answer["entries"]
    assert (answer["reversed"], entry["result"], entry["reverses"]) == (1, "reversed", results["BATCH-1#1"]["entry_id"])
    api.run("2026-03-20")
    ledger = api.get("/v1/accounts/acme/ledger").json()["entries"]
    assert [(e["date"], e["kind"], e["amount"]) for e in ledger if e["kind"] == "payment_reversal"] == [
        ("2026-03-20", "payment_reversal", "-10312")]
    # no payment of acme is left: it waits for its first payment again (§1), the proforma is open
    state = api.state("acme")
    # 10,312 − 10,312 − R(2 × 9,990 × 5/31) = −3,223
    assert (state["state"], state["balance"]) == ("awaiting_payment", "-3223")
    assert api.document("PRO-2026-000001")["status"] == "open"
    [note] = api.documents("acme", "credit_note")
    assert (note["gross"], note["references"]) == ("-10312", [acme_invoice["number"]])
    nav = api.client.get(f"/v1/documents/{note['number']}/nav.xml", headers=api.headers).text
    assert acme_invoice["number"] in nav and "modificationIndex>1<" in nav
    assert api.document(acme_invoice["number"])["status"] == "refunded"
    # beta is untouched
    assert api.state("beta")["state"] == "active" and api.documents("beta", "credit_note") == []
    reversals = api.get("/v1/payments/reversals").json()["reversals"]
    assert [(r["source"], r["account_id"], r["amount"], r["applied"], r["credit_notes"]) for r in reversals] == [
        ("bank_return", "acme", "10312", True, [note["number"]])]
    report = api.reconciliation("2026-03-20")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    bank = next(c for c in report["payments_by_channel"] if c["channel"] == "bank_transfer")
    assert (bank["payments"], bank["returned"], bank["clearing_balance"]) == ("15468", "10312", "5156")
    # the same files again book nothing
    assert api.upload(build_statement(Statement(entries=(BATCH,))))["duplicate"] == 2
    assert api.upload(build_statement(returned))["duplicate"] == 1
    assert len(api.get("/v1/payments/reversals").json()["reversals"]) == 1


def test_a_return_imported_before_its_credit_still_reverses_it(api):
    prepare(api)
    ret = Statement(statement_id="S-2", entries=(
        Entry("5156", credit=False, return_reason="AC04", acct_svcr_ref="RET-9", booking_date="2026-03-19",
              unstructured=("PRO-2026-000002 visszautalás",)),))
    first = api.upload(build_statement(ret))
    assert (first["ignored"], first["reversed"]) == (1, 0)
    credit = Statement(statement_id="S-1", entries=(
        Entry("5156", acct_svcr_ref="CR-9", unstructured=("PRO-2026-000002",)),))
    second = api.upload(build_statement(credit))
    assert [e["result"] for e in second["entries"]] == ["booked", "reversed"]
    assert (second["booked"], second["reversed"]) == (1, 1)
    api.run("2026-03-19")
    assert api.state("beta")["state"] == "awaiting_payment"
    assert [d["gross"] for d in api.documents("beta", "credit_note")] == ["-5156"]
    report = api.reconciliation("2026-03-19")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]


def test_identity_is_per_statement_account_and_nothing_collides(api, monkeypatch):
    monkeypatch.setenv("SELLER_BANK_ACCOUNT", f"11773016-11111018-00000000,{OTHER_SELLER}")
    prepare(api)
    # two statements that both number their entries "1"; two banks that both use the reference "X-1"
    day1 = Statement(statement_id="S-18", entries=(Entry("3000", ntry_ref="1", unstructured=("PRO-2026-000001",)),))
    day2 = Statement(statement_id="S-19", entries=(Entry("2000", ntry_ref="1", unstructured=("PRO-2026-000001",)),))
    bank_a = Statement(statement_id="A", entries=(Entry("1000", acct_svcr_ref="X-1", unstructured=("PRO-2026-000002",)),))
    bank_b = Statement(statement_id="B", iban=OTHER_SELLER,
                       entries=(Entry("1000", acct_svcr_ref="X-1", unstructured=("PRO-2026-000002",)),))
    for statement in (day1, day2, bank_a, bank_b):
        assert api.upload(build_statement(statement))["booked"] == 1
    for statement in (day1, day2, bank_a, bank_b):
        assert api.upload(build_statement(statement))["duplicate"] == 1
    api.run("2026-03-18")
    assert api.document("PRO-2026-000001")["paid"] == "5000" and api.document("PRO-2026-000002")["paid"] == "2000"


def test_offsets_filler_and_every_remittance_field(api):
    prepare(api)
    statement = Statement(entries=(
        Entry("10312", acct_svcr_ref="P-1", booking_date="2026-03-18+01:00", additional_tx_info="PRO-2026-000001"),
        Entry("0.50", credit=False, acct_svcr_ref="FEE-1", booking_date="2026-03-18+01:00",
              unstructured=("számlavezetési díj",)),
        Entry("5156", acct_svcr_ref="P-2", additional_info="Pro 2026 2"),
    ))
    answer = api.upload(build_statement(statement))
    results = by_ref(answer)
    assert (answer["booked"], answer["ignored"]) == (2, 1)
    assert results["FEE-1"]["amount"] == "0.50" and results["FEE-1"]["result"] == "ignored"
    assert results["P-1"]["booking_date"] == "2026-03-18"


def test_a_statement_of_someone_elses_account_is_refused_whole(api):
    prepare(api)
    foreign = Statement(entries=(Entry("10312", acct_svcr_ref="P-1", unstructured=("PRO-2026-000001",)),),
                        iban="DE89370400440532013000",
                        extra_statements=(Statement(entries=(Entry("5156", acct_svcr_ref="P-2",
                                                                   unstructured=("PRO-2026-000002",)),)),))
    answer = api.upload(build_statement(foreign), expect=422)
    assert "Stmt/Acct/Id" in json.dumps(answer) and "DE89370400440532013000 (statement" in json.dumps(answer)
    assert api.table(pm.BankEntry) == [] and not [e for e in api.table(m.Event) if e.type == "payment.received"]


@pytest.mark.parametrize("name", sorted(p.name for p in CAMT.glob("*.xml")))
def test_every_real_bank_file_is_read_and_nothing_is_booked_twice(api, monkeypatch, name):
    from billing.payments.camt053 import parse_statements

    data = (CAMT / name).read_bytes()
    statements = parse_statements(data)
    monkeypatch.setenv("SELLER_BANK_ACCOUNT", ",".join(s.account for s in statements))
    # the account check passes the real (foreign) accounts because they are configured as ours here
    from billing.payments import bank_import

    monkeypatch.setattr(bank_import, "_account_keys", lambda text: {text.replace(" ", "").upper()})
    prepare(api)
    first = api.upload(data)
    total = sum(len(s.transactions) for s in statements)
    assert len(first["entries"]) == total and first["duplicate"] == 0
    assert sum(first[k] for k in ("booked", "unmatched", "reversed", "ignored", "rejected")) == total
    assert first["booked"] == 0   # none names a proforma of ours
    again = api.upload(data)
    assert again["duplicate"] == total and again["booked"] == 0


def _card_payment(api, fake_stripe):
    api.post("/v1/documents/PRO-2026-000001/checkout", expect=201)
    session_id = next(iter(fake_stripe.sessions))
    completed, _ = fake_stripe.complete_session(session_id, created=epoch("2026-03-18T10:00:00+01:00"))
    assert api.webhook(fake_stripe, completed).json()["outcome"] == "booked"
    return fake_stripe.sessions[session_id]["payment_intent"]


def test_a_refund_made_in_the_stripe_dashboard_is_booked_like_a_return(api, fake_stripe):
    prepare(api)
    intent = _card_payment(api, fake_stripe)
    api.run("2026-03-18")
    # Stripe's charge.refunded, as captured from a real account (tests/fixtures/stripe), for our charge:
    # 3,000 of the 10,312 refunded from the dashboard on 19 March
    sample = json.loads((STRIPE / "charge.refunded.gitpay.json").read_text())
    charge = sample["data"]["object"]
    charge.update(payment_intent=intent, currency="huf", amount=1031200, amount_refunded=300000)
    charge["refunds"]["data"][0].update(payment_intent=intent, amount=300000, currency="huf", metadata={})
    sample["created"] = epoch("2026-03-19T09:00:00+01:00")
    answer = api.webhook(fake_stripe, sample).json()
    assert (answer["outcome"], answer["amount"]) == ("reversal_booked", "3000")
    assert api.webhook(fake_stripe, sample).json()["outcome"] == "duplicate_event"
    # the same total told again in another event is the same refund: nothing more went back
    again = {**sample, "id": "evt_again"}
    assert api.webhook(fake_stripe, again).json()["outcome"] == "no_outside_money_back"
    # a dispute later takes the rest
    dispute = fake_stripe.event("charge.dispute.funds_withdrawn", {
        "id": "dp_1", "object": "dispute", "amount": 731200, "currency": "huf", "charge": charge["id"],
        "payment_intent": intent, "reason": "fraudulent"}, created=epoch("2026-03-19T11:00:00+01:00"))
    assert api.webhook(fake_stripe, dispute).json()["amount"] == "7312"
    api.run("2026-03-19")   # before the 20th, whose proforma a saved card would pay
    ledger = api.get("/v1/accounts/acme/ledger").json()["entries"]
    assert [(e["date"], e["amount"]) for e in ledger if e["kind"] == "payment_reversal"] == [
        ("2026-03-19", "-3000"), ("2026-03-19", "-7312")]
    assert [d["gross"] for d in api.documents("acme", "credit_note")] == ["-3000", "-7312"]
    assert api.state("acme")["state"] == "awaiting_payment"
    reversals = api.get("/v1/payments/reversals").json()["reversals"]
    assert [(r["source"], r["amount"]) for r in reversals] == [("stripe_refund", "3000"), ("stripe_dispute", "7312")]
    report = api.reconciliation("2026-03-19")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    card = next(c for c in report["payments_by_channel"] if c["channel"] == "card")
    assert (card["payments"], card["returned"], card["clearing_balance"]) == ("10312", "10312", "0")


def test_a_bank_payout_of_a_refund_is_marked_paid_once(api):
    prepare(api)
    api.upload(build_statement(Statement(entries=(
        Entry("6000", acct_svcr_ref="B-3", structured_ref="PRO-2026-000002", debtor_name="Beta Bt.",
              debtor_iban="HU93116000060000000012345676"),))))
    api.run("2026-03-18")
    api.event("account.terminated", "beta", "2026-03-19T15:00:00+01:00", by="customer", reason="moving on")
    api.run("2026-03-19")
    [refund] = api.get("/v1/refunds", params={"status": "due", "as_of": "2026-03-20"}).json()["refunds"]
    assert refund["amount"] == "4711"   # 6,000 − R(9,990 × 4/31) = 6,000 − 1,289
    url = f"/v1/refunds/{refund['id']}/paid"
    assert api.post(url, {"paid_on": "2026-03-10", "reference": "UTALAS-1"}).status_code == 422  # before termination
    assert api.post(url, {"paid_on": "2026-03-22"}).status_code == 422
    paid = api.post(url, {"paid_on": "2026-03-22", "reference": "UTALAS-1"}, expect=200).json()
    assert paid["state"] == "completed" and paid["parts"][0]["state"] == "paid_out"
    assert api.post(url, {"paid_on": "2026-03-22", "reference": "UTALAS-1"}, expect=200).json()["state"] == "completed"
    assert api.post(url, {"paid_on": "2026-03-23", "reference": "UTALAS-2"}).status_code == 409
    assert api.post("/v1/refunds/999/paid", {"paid_on": "2026-03-22", "reference": "x"}).status_code == 404
    entries = [e for e in api.table(m.JournalEntry) if e.kind == "refund_paid"]
    assert [(e.day.isoformat(), e.details["reference"]) for e in entries] == [("2026-03-22", "UTALAS-1")]
    csv = api.get("/v1/exports/payouts.csv", params={"as_of": "2026-03-25"}).content.decode("utf-8-sig")
    header, row = csv.strip().splitlines()
    assert header.endswith("state,paid_on,paid_reference") and row.endswith("paid_out,2026-03-22,UTALAS-1")
    report = api.reconciliation("2026-03-25")
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    bank = next(c for c in report["payments_by_channel"] if c["channel"] == "bank_transfer")
    assert (bank["refunds_paid"], bank["clearing_balance"]) == ("4711", "1289")


def test_reconciliation_catches_a_return_whose_effects_are_missing(api):
    prepare(api)
    api.upload(build_statement(Statement(entries=(BATCH,))))
    api.run("2026-03-18")
    returned = Statement(statement_id="R", entries=(
        Entry("5156", credit=False, reversal=True, acct_svcr_ref="RET-B", booking_date="2026-03-19",
              end_to_end_id="E2E-BETA"),))
    api.upload(build_statement(returned))
    # the cycle "forgets" it: the reversal leaves the queue without being applied
    with api.app.state.factory.begin() as session:
        from sqlalchemy import delete, select

        seq = session.scalar(select(m.Event.seq).where(m.Event.type == "payment.reversed"))
        session.execute(delete(m.PendingEvent).where(m.PendingEvent.seq == seq))
    api.run("2026-03-19")
    report = api.reconciliation("2026-03-19")
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert "reversals_applied" in failed and "posted 0 times" in json.dumps(failed["reversals_applied"])
