"""No guess ever reaches a tax document (CONTRACT §6): while MNB gives no rate for the fulfilment
day, a foreign-currency payment is credited (balance, allocation, state) but its invoice waits,
unnumbered, with nothing for NAV; every run tries it again first, and once MNB answers it is
issued with the payment's day as fulfilment date and that day's rate, dated the business day the
run processes. Over HTTP on both engines, the service's own zeep client against the loopback MNB
(tests/fakes/mnb_server.py). A HUF account never asks MNB at all."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e_soap.test_mnb_http import FRIDAY, SUNDAY, publish_fixings
from tests.fakes.soap_http import DOWN_MODES

PAYMENT_AT = "2026-03-08T09:30:00+01:00"  # Sunday 8 March: the rate is Friday 6 March's, 401.57


def waiting_metric(api) -> float:
    text = api.get("/metrics").text
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "billing_invoices_waiting_for_rate"]
    return family.samples[0].value


def eur_account(api, mnb, account="alfa") -> dict:
    """A Hungarian buyer billed in EUR from Monday 2 March (no trial), one seat, its first proforma
    issued on 2 March while MNB answers."""
    api.plan(code="eur", price="127.00", currency="EUR")  # gross: 27 % VAT included
    api.account(account, at="2026-03-02T10:00:00+01:00", plan="eur", currency="EUR", trial_days=0)
    api.seats(account, "2026-03-02T10:05:00+01:00", "u1")
    api.run("2026-03-02")
    [proforma] = api.documents(account, "proforma")
    # 2 … 31 March, 1 seat at 127.00 a month: R(127.00 × 30/31) = R(122.903…) = 122.90
    assert proforma["gross"] == "122.90"
    return proforma


def assert_waiting(api, account="alfa"):
    """The payment of 122.90 is credited on Sunday 8 March, but no invoice exists."""
    view = api.state(account)
    assert (view["state"], view["access"]) == ("active", "full")  # the payment made it active (§3)
    # charges 2 … 8 March: R(127.00 × 7/31) = R(28.677…) = 28.68; 122.90 − 28.68 = 94.22
    assert view["balance"] == "94.22"
    [waiting] = view["invoices_waiting_for_rate"]
    assert {k: waiting[k] for k in ("payment_day", "amount", "currency")} == \
        {"payment_day": "2026-03-08", "amount": "122.90", "currency": "EUR"}
    assert api.documents(account, "invoice") == []
    [proforma] = api.documents(account, "proforma")
    assert proforma["status"] == "paid"  # allocated: 122.90 of 122.90
    assert waiting_metric(api) == 1
    report = api.get("/v1/reconciliation", params={"as_of": "2026-03-31"}).json()
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    balances = {(r["ledger_account"], r["currency"]): r["balance"] for r in report["trial_balance"]}
    assert ("vat_payable", "EUR") not in balances  # the VAT is booked with the invoice, not before


def assert_issued(api, issue_date: str, account="alfa", vat_payable="-26.13") -> dict:
    """One invoice at Friday's rate, fulfilment date the payment's Sunday, queued for NAV."""
    [invoice] = api.documents(account, "invoice")
    assert invoice["number"] == "INV-2026-000001"  # no number was taken while it waited
    doc = api.document(invoice["number"])["document"]
    assert (doc["issue_date"], doc["fulfilment_date"]) == (issue_date, "2026-03-08")
    assert (doc["exchange_rate"], doc["exchange_rate_date"]) == ("401.57", FRIDAY.isoformat())
    # net = R(122.90 / 1.27) = R(96.7716…) = 96.77; VAT = 122.90 − 96.77 = 26.13
    assert (doc["gross"], doc["net"], doc["vat"]) == ("122.90", "96.77", "26.13")
    # net_huf = R(96.77 × 401.57) = R(38,859.93) = 38,860; vat_huf = R(26.13 × 401.57) = R(10,493.02)
    # = 10,493; gross_huf = 38,860 + 10,493 = 49,353
    assert (doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("38860", "10493", "49353")
    assert invoice["nav_status"] == "QUEUED"
    assert api.state(account)["invoices_waiting_for_rate"] == []
    assert waiting_metric(api) == 0
    report = api.get("/v1/reconciliation", params={"as_of": "2026-03-31"}).json()
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    balances = {(r["ledger_account"], r["currency"]): r["balance"] for r in report["trial_balance"]}
    assert balances[("vat_payable", "EUR")] == vat_payable  # booked when the invoice was issued
    return invoice


@pytest.mark.parametrize("how", DOWN_MODES)
def test_mnb_down_credits_the_payment_and_the_invoice_waits_until_mnb_is_back(api, mnb, how):
    publish_fixings(mnb)
    proforma = eur_account(api, mnb)
    mnb.down(how)
    api.pay("alfa", PAYMENT_AT, "122.90", currency="EUR", reference=proforma["number"])
    api.run("2026-03-08")
    assert_waiting(api)

    api.run("2026-03-08")  # still down: a rerun retries and changes nothing
    assert_waiting(api)

    mnb.up()
    api.run("2026-03-09")
    # issued by the run of Monday 9 March, first thing: dated the day the run processes
    invoice = assert_issued(api, issue_date="2026-03-09")
    assert [c.end for c in mnb.rate_requests(answered_only=True)] == [date(2026, 3, 2), SUNDAY]

    api.run("2026-03-09")  # a rerun issues nothing twice
    api.run("2026-03-10")
    assert api.documents("alfa", "invoice") == [invoice]
    # 1 seat, 2 … 10 March: R(127.00 × 9/31) = R(36.870…) = 36.87; 122.90 − 36.87 = 86.03
    assert api.state("alfa")["balance"] == "86.03"


def test_mnb_back_on_the_same_day_issues_the_invoice_dated_the_payment_day(api, mnb):
    publish_fixings(mnb)
    proforma = eur_account(api, mnb)
    mnb.down("refused")
    api.pay("alfa", PAYMENT_AT, "122.90", currency="EUR", reference=proforma["number"])
    api.run("2026-03-08")
    assert_waiting(api)
    mnb.up()
    api.run("2026-03-08")  # the rerun of the day the account was processed through
    assert_issued(api, issue_date="2026-03-08")


def test_nothing_published_on_or_before_the_day_waits_too(api, mnb):
    # MNB answers, but has no EUR fixing in the look-back window (20 February … 8 March)
    mnb.publish(date(2026, 3, 9), EUR="405.55")  # the Monday after: never the rate of a Sunday before
    api.plan(code="eur", price="127.00", currency="EUR")
    api.account("alfa", at="2026-03-02T10:00:00+01:00", plan="eur", currency="EUR", trial_days=0)
    api.seats("alfa", "2026-03-02T10:05:00+01:00", "u1")
    api.run("2026-03-02")
    [proforma] = api.documents("alfa", "proforma")
    # A proforma is no tax document: without a rate it is still issued, with no HUF amounts at all.
    body = api.document(proforma["number"])["document"]
    assert (proforma["gross"], body["exchange_rate"], body["exchange_rate_date"]) == ("122.90", "0", None)
    assert "No MNB exchange rate was available on 2026-03-02: the HUF amounts are stated on the invoice" \
        in body["notes"]
    assert api.get(f"/v1/documents/{proforma['number']}.pdf").content.startswith(b"%PDF")

    api.pay("alfa", PAYMENT_AT, "122.90", currency="EUR", reference=proforma["number"])
    api.run("2026-03-08")
    assert_waiting(api)
    [waiting] = api.state("alfa")["invoices_waiting_for_rate"]
    assert "no MNB rate for EUR on 2026-03-08" in waiting["reason"]

    mnb.publish(FRIDAY, EUR="401.57")  # the fixing of Friday 6 March is there now
    api.run("2026-03-10")
    # issued first thing in the run, on the first day it processes (9 March)
    assert_issued(api, issue_date="2026-03-09")


def test_a_termination_waits_behind_a_waiting_invoice_then_credits_it(api, mnb):
    publish_fixings(mnb)
    proforma = eur_account(api, mnb)
    mnb.down("http_500")
    api.pay("alfa", PAYMENT_AT, "122.90", currency="EUR", reference=proforma["number"])
    api.run("2026-03-08")
    assert_waiting(api)
    api.event("account.terminated", "alfa", "2026-03-10T12:00:00+01:00", by="customer")
    api.run("2026-03-10")
    # The refund's credit note must reduce the invoice, which has no number yet: the account's
    # step waits whole (nothing more charged, no refund yet), and the invoice still waits.
    assert api.get("/v1/accounts/alfa/ledger").json()["entries"][-1]["date"] == "2026-03-08"
    assert api.documents("alfa", "credit_note") == [] and waiting_metric(api) == 1

    mnb.up()
    api.run("2026-03-10")
    # the credit note gives back the VAT of 86.03: R(86.03 / 1.27) = R(67.740…) = 67.74 net, so
    # 86.03 − 67.74 = 18.29; vat_payable = 26.13 − 18.29 = 7.84
    invoice = assert_issued(api, issue_date="2026-03-09", vat_payable="-7.84")  # the day after the last processed
    [note] = api.documents("alfa", "credit_note")
    # refund on 10 March: 122.90 − R(127.00 × 9/31) = 122.90 − 36.87 = 86.03, credited on the invoice
    assert (note["gross"], note["references"], note["issue_date"]) == ("-86.03", [invoice["number"]], "2026-03-10")
    body = api.document(note["number"])["document"]
    # a modifying invoice converts at the rate of the invoice it modifies: 401.57 (6 March)
    assert (body["exchange_rate"], body["exchange_rate_date"]) == ("401.57", "2026-03-06")
    # net_huf = R(−67.74 × 401.57) = R(−27,202.35) = −27,202
    # vat_huf = R(−18.29 × 401.57) = R(−7,344.72) = −7,345
    assert (body["net"], body["vat"], body["net_huf"], body["vat_huf"]) == ("-67.74", "-18.29", "-27202", "-7345")
    assert api.state("alfa")["state"] == "terminated"


def test_a_huf_account_never_asks_mnb_even_while_it_is_down(api, mnb):
    mnb.down("http_500")  # a request would still be recorded (a refused one would not)
    api.plan()
    api.account("acme", at="2026-03-02T10:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-02")
    [proforma] = api.documents("acme", "proforma")
    # 2 … 31 March, 2 seats at 9,990: R(2 × 9,990 × 30/31) = R(19,335.48) = 19,335
    assert proforma["gross"] == "19335"
    api.pay("acme", "2026-03-08T09:30:00+01:00", "19335", reference=proforma["number"])
    api.run("2026-03-08")
    [invoice] = api.documents("acme", "invoice")
    doc = api.document(invoice["number"])["document"]
    assert (doc["issue_date"], doc["exchange_rate"], doc["gross_huf"]) == ("2026-03-08", "1", "19335")
    assert api.state("acme")["invoices_waiting_for_rate"] == [] and waiting_metric(api) == 0
    mnb.up()
    assert mnb.calls() == []  # not one request, on the prepared path or under the lock


def test_before_the_days_fixing_is_out_the_invoice_of_today_waits_for_it(api, mnb):
    """Paid today before MNB's 11:00 fixing: MNB answers with yesterday's rate, which today's
    fixing will replace, so that answer is no rate for an invoice (a proforma may show it)."""
    budapest = ZoneInfo("Europe/Budapest")
    today = datetime.now(budapest).date()  # what the service's MNB client calls today
    for back in range(1, 11):  # a fixing on each of the ten days before today, none today yet
        mnb.publish(today - timedelta(days=back), EUR=f"{400 + back}.00")
    at = datetime.combine(today, time(0, 30), budapest).isoformat()
    api.plan(code="eur", price="127.00", currency="EUR")
    api.account("alfa", at=at, plan="eur", currency="EUR", trial_days=0)
    api.seats("alfa", at, "u1")
    api.pay("alfa", at, "50.00", currency="EUR")
    api.run(today.isoformat())
    assert api.documents("alfa", "invoice") == []
    [waiting] = api.state("alfa")["invoices_waiting_for_rate"]
    # yesterday's 401.00 is what MNB gives for today until today's fixing is out
    assert f"rate for {today.isoformat()} is not final yet" in waiting["reason"] and "401.00" in waiting["reason"]
    assert waiting_metric(api) == 1

    mnb.publish(today, EUR="399.99")  # 11:00: today's fixing
    api.run(today.isoformat())
    [invoice] = api.documents("alfa", "invoice")
    doc = api.document(invoice["number"])["document"]
    assert (doc["issue_date"], doc["fulfilment_date"]) == (today.isoformat(), today.isoformat())
    assert (doc["exchange_rate"], doc["exchange_rate_date"]) == ("399.99", today.isoformat())
    # gross 50.00: net R(50.00 / 1.27) = R(39.370…) = 39.37, VAT 10.63;
    # R(39.37 × 399.99) = R(15,747.61) = 15,748; R(10.63 × 399.99) = R(4,251.89) = 4,252
    assert (doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("15748", "4252", "20000")
    assert waiting_metric(api) == 0
