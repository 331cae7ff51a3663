"""VIES down: the account stays on Hungarian VAT and pending, retried each run; no reverse charge on
a guess (issue 5)."""
from __future__ import annotations

from datetime import date

from invoices import vies


def test_vies_down_then_up(api, monkeypatch):
    answers = {"up": False}

    def check(self, number):
        if not answers["up"]:
            raise vies.ViesUnavailable("MS_UNAVAILABLE")
        return vies.ViesResult(True, "CARPATI SOFT SRL", "CLUJ", date(2026, 3, 5), "WAPIAAAAX1")

    monkeypatch.setenv("VIES_URL", "http://127.0.0.1:9/vies")  # never reached: check is replaced
    monkeypatch.setattr(vies.ViesClient, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(vies.ViesClient, "check", check)
    api.plan(price="12700")
    api.account("carpati", at="2026-03-01T08:00:00+01:00", country="RO", eu_vat_number="RO18547290",
                trial_days=0)
    api.seats("carpati", "2026-03-01T08:00:00+01:00", "u1")
    api.run("2026-03-02")
    account = api.state("carpati")
    assert account["vat"] == {"treatment": "domestic", "pending": True, "vies_reference": None,
                              "effective_from": "2026-03-01", "earlier": []}
    # 12,700 gross a month with Hungarian VAT: 1..2 March R(12,700 × 2/31) = R(819.35)
    assert api.state("carpati")["balance"] == "-819"
    answers["up"] = True
    api.run("2026-03-03")
    account = api.state("carpati")
    assert account["vat"]["treatment"] == "reverse_charge" and account["vat"]["vies_reference"] == "WAPIAAAAX1"
    # confirmed by the run through 3 March: from its first day, 3 March; 1 … 2 March stay at 27 %
    assert account["vat"]["effective_from"] == "2026-03-03"
    assert account["vat"]["earlier"] == [{"treatment": "domestic", "vies_reference": None, "effective_from": "2026-03-01"}]
    # from 3 March the net price 12,700 / 1.27 = 10,000 a month: + R(10,000 / 31) in the same month's
    # cumulative rounding: R(12,700 × 2/31 + 10,000/31) = R(1,141.94) = 1,142
    assert account["balance"] == "-1142"
