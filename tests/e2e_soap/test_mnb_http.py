"""An invoice in EUR states its HUF amounts at the MNB rate of the fulfilment day, fetched by the
service's own zeep client over HTTP from the loopback MNB (CONTRACT §6): a payment on a Sunday takes
the rate MNB published on the Friday before, and the rate is asked for once and then cached."""
from __future__ import annotations

from datetime import date, timedelta

from tests.fakes.mnb_server import RateCall

FRIDAY, SUNDAY = date(2026, 3, 6), date(2026, 3, 8)

# A distinct EUR fixing on every working day from 23 February to 13 March 2026, none on weekends:
# 395.00, 395.30, ... so a rate on an invoice names the day it was published on.
FIXINGS = {
    date(2026, 2, 23): "395.00", date(2026, 2, 24): "395.30", date(2026, 2, 25): "395.60",
    date(2026, 2, 26): "395.90", date(2026, 2, 27): "396.20",
    date(2026, 3, 2): "397.10", date(2026, 3, 3): "398.20", date(2026, 3, 4): "399.30",
    date(2026, 3, 5): "400.40", FRIDAY: "401.57",  # no fixing on Saturday 7 and Sunday 8 March
    date(2026, 3, 9): "405.55", date(2026, 3, 10): "406.10", date(2026, 3, 11): "406.80",
    date(2026, 3, 12): "407.20", date(2026, 3, 13): "407.90",
}


def publish_fixings(mnb) -> None:
    for day, eur in FIXINGS.items():
        assert day.weekday() < 5
        mnb.publish(day, EUR=eur)


def test_sunday_payment_is_invoiced_at_fridays_mnb_rate_fetched_once(api, mnb, monkeypatch):
    # One account per cycle transaction: the second invoice can only find the rate in the
    # exchange_rates table the first transaction committed, not in anything held in memory.
    monkeypatch.setenv("BILLING_CYCLE_CHUNK", "1")
    publish_fixings(mnb)
    api.plan(code="eur", price="127.00", currency="EUR")  # gross: 27 % Hungarian VAT included
    for account in ("alfa", "beta"):
        # A Hungarian buyer billed in EUR (the account's currency is the plan's): 27 % VAT, so the
        # invoice has both a net and a VAT amount to convert. No trial: charges start on 2 March.
        api.account(account, at="2026-03-02T10:00:00+01:00", plan="eur", currency="EUR", trial_days=0)
        api.seats(account, "2026-03-02T10:05:00+01:00", "u1")
    assert mnb.calls() == []  # nothing is invoiced yet, so nothing is asked

    api.run("2026-03-02")
    proformas = {account: api.only(account, "proforma") for account in ("alfa", "beta")}
    for proforma in proformas.values():
        # 2 … 31 March, 1 seat at 127.00 a month: R(127.00 × 30/31) = R(122.9032…) = 122.90
        assert proforma["gross"] == "122.90"
        assert proforma["document"]["exchange_rate"] == "397.10"
        assert proforma["document"]["exchange_rate_date"] == "2026-03-02"
    # two EUR documents of 2 March, one question: 2 March − 10 days look-back = 20 February
    assert mnb.rate_requests() == [RateCall(date(2026, 2, 20), date(2026, 3, 2), ("EUR",))]

    api.pay("alfa", "2026-03-08T09:30:00+01:00", "122.90", currency="EUR",
            reference=proformas["alfa"]["number"])
    api.pay("beta", "2026-03-08T18:00:00+01:00", "122.90", currency="EUR",
            reference=proformas["beta"]["number"])
    api.run("2026-03-08")

    for account in ("alfa", "beta"):
        invoice = api.only(account, "invoice")
        doc = invoice["document"]
        assert (doc["issue_date"], doc["fulfilment_date"]) == ("2026-03-08", "2026-03-08")  # a Sunday
        assert SUNDAY.weekday() == 6 and FRIDAY == SUNDAY - timedelta(days=2)
        # The rate MNB published for Friday 6 March (the last fixing before the fulfilment day), not
        # Thursday's 400.40 nor Monday's 405.55, and the day it was published.
        assert doc["exchange_rate"] == "401.57"
        assert doc["exchange_rate_date"] == "2026-03-06"
        assert "Exchange rate: 401.57 HUF/EUR (MNB, 2026-03-06)" in doc["notes"]
        # net = R(122.90 / 1.27) = R(96.7716…) = 96.77; VAT = 122.90 − 96.77 = 26.13
        assert (doc["gross"], doc["net"], doc["vat"]) == ("122.90", "96.77", "26.13")
        assert doc["vat_treatment"]["kind"] == "domestic" and doc["vat_treatment"]["rate"] == "0.27"
        # HUF, each amount rounded half-up to whole forints (billing.money.to_huf):
        #   net_huf   = R(96.77 × 401.57) = R(38,859.9289) = 38,860   (rounds up)
        #   vat_huf   = R(26.13 × 401.57) = R(10,493.0241) = 10,493   (rounds down)
        #   gross_huf = net_huf + vat_huf = 49,353   (= R(122.90 × 401.57) = R(49,352.953) here too)
        assert (doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("38860", "10493", "49353")

    # MNB was asked for the Sunday once, for EUR, over the 10-day look-back (26 February … 8 March);
    # the second invoice of that day took the stored rate.
    assert mnb.rate_requests(end=SUNDAY) == [RateCall(date(2026, 2, 26), SUNDAY, ("EUR",))]
    [sunday_call] = [r for r in mnb.calls("GetExchangeRates") if r.params["endDate"] == "2026-03-08"]
    assert sunday_call.answered == "ok"
    assert sunday_call.soap_action == "http://www.mnb.hu/webservices/MNBArfolyamServiceSoap/GetExchangeRates"
    assert sunday_call.addressing["To"] == mnb.url  # the configured MNB_URL, over plain HTTP
    assert len(mnb.calls()) == 2  # 2 March (proformas) and 8 March (invoices): nothing else

    # Reading the documents again (another view of the same invoice) never asks MNB.
    api.document(api.documents("alfa", "invoice")[0]["number"])
    assert len(mnb.calls()) == 2
