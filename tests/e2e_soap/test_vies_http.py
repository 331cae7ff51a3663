"""Reverse charge only on VIES's word (CONTRACT §6), asked by the service's own zeep client over
HTTP from the loopback VIES: valid → reverse charge, no Hungarian VAT, the price list / 1.27;
invalid → 27 % Hungarian VAT; VIES down → 27 % and pending, retried at every run until it answers.

One buyer throughout: Kraft GmbH, Germany, DE136695976, billed in EUR on a gross plan of 127.00 per
seat and month, no trial, 1 seat from Monday 2 March 2026. The invoices are in EUR, so the loopback
MNB answers too (the rate of the fulfilment day; tests/e2e_soap/test_mnb_http.py checks it)."""
from __future__ import annotations

import pytest

from tests.e2e_soap.test_mnb_http import publish_fixings

VAT_NUMBER = "DE136695976"
KRAFT = {"country": "DE", "eu_vat_number": VAT_NUMBER, "locale": "de",
         "address": {"postal_code": "10115", "city": "Berlin", "street": "Invalidenstraße 1"}}


def create_kraft(api, mnb):
    publish_fixings(mnb)
    api.plan(code="eur", price="127.00", currency="EUR")
    api.account("kraft", at="2026-03-02T10:00:00+01:00", plan="eur", currency="EUR", trial_days=0, **KRAFT)
    api.seats("kraft", "2026-03-02T10:05:00+01:00", "u1")


def pay_proforma(api, at: str) -> dict:
    proforma = api.only("kraft", "proforma")
    api.pay("kraft", at, proforma["gross"], currency="EUR", reference=proforma["number"])
    return proforma


def vies_questions(vies, answered_only: bool = False) -> list[tuple[str, str]]:
    """(countryCode, vatNumber) of each check VIES got (checkVatApprox, with the seller as the
    requester, so VIES hands out a consultation number)."""
    calls = [r for r in vies.calls() if not answered_only or r.answered == "ok"]
    assert {r.operation for r in calls} <= {"checkVat", "checkVatApprox"}
    return [(r.params["countryCode"], r.params["vatNumber"]) for r in calls]


CHECK_KRAFT = ("DE", "136695976")


def test_valid_number_is_reverse_charge_at_list_over_1_27(api, mnb, vies):
    vies.answer(VAT_NUMBER, valid=True)
    create_kraft(api, mnb)
    assert vies_questions(vies) == [CHECK_KRAFT]  # asked once, when account.created came in
    vat = api.state("kraft")["vat"]
    assert vat["treatment"] == "reverse_charge" and vat["pending"] is False
    assert vat["vies_reference"] == vies.identifiers[0]  # the consultation number VIES handed out

    api.run("2026-03-02")
    proforma = api.only("kraft", "proforma")
    # monthly price 127.00 / 1.27 = 100.00 (CONTRACT §1); 2 … 31 March: R(100 × 30/31) = R(96.774…) = 96.77
    assert (proforma["gross"], proforma["vat"]) == ("96.77", "0.00")
    assert proforma["document"]["vat_treatment"]["kind"] == "reverse_charge"

    pay_proforma(api, "2026-03-10T09:00:00+01:00")
    api.run("2026-03-10")
    invoice = api.only("kraft", "invoice")
    doc = invoice["document"]
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("96.77", "96.77", "0.00")
    treatment = doc["vat_treatment"]
    assert (treatment["kind"], treatment["rate"], treatment["nav_case"]) == ("reverse_charge", "0", "EUFAD37")
    assert treatment["vies_reference"] == vat["vies_reference"]  # shown on the invoice
    assert "Reverse charge" in treatment["legal_text"] and treatment["legal_text"] in doc["notes"]
    assert doc["buyer"]["eu_vat_number"] == VAT_NUMBER
    # HUF at Tuesday 10 March's 406.10: net R(96.77 × 406.10) = R(39,298.297) = 39,298, VAT 0
    assert (doc["exchange_rate"], doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("406.10", "39298", "0", "39298")
    # charges 2 … 10 March at 100.00 a month: R(100 × 9/31) = R(29.032…) = 29.03; 96.77 − 29.03 = 67.74
    assert api.state("kraft")["balance"] == "67.74"
    assert vies_questions(vies) == [CHECK_KRAFT]  # a confirmed number is not asked again by the cycle


def test_the_consultation_number_vies_returned_is_kept_and_shown(api, mnb, vies):
    vies.answer(VAT_NUMBER, valid=True)
    create_kraft(api, mnb)
    api.run("2026-03-02")
    pay_proforma(api, "2026-03-10T09:00:00+01:00")
    api.run("2026-03-10")
    # the check names the requester (the seller, SELLER_EU_VAT_NUMBER default HU23456787) ...
    assert [(r.operation, r.params.get("requesterCountryCode"), r.params.get("requesterVatNumber"))
            for r in vies.calls()] == [("checkVatApprox", "HU", "23456787")]
    # ... and the consultation number VIES answered is the account's and the invoice's reference
    [consultation] = vies.identifiers
    assert api.state("kraft")["vat"]["vies_reference"] == consultation
    assert api.only("kraft", "invoice")["document"]["vat_treatment"]["vies_reference"] == consultation


def test_invalid_number_pays_hungarian_vat(api, mnb, vies):
    vies.answer(VAT_NUMBER, valid=False)
    create_kraft(api, mnb)
    assert vies_questions(vies) == [CHECK_KRAFT]
    assert api.state("kraft")["vat"] == {"treatment": "domestic", "pending": False, "vies_reference": None,
                                         "effective_from": "2026-03-02", "earlier": []}

    api.run("2026-03-02")
    proforma = api.only("kraft", "proforma")
    # the gross list price stands: R(127.00 × 30/31) = R(122.903…) = 122.90, VAT in it 26.13
    assert (proforma["gross"], proforma["vat"]) == ("122.90", "26.13")

    pay_proforma(api, "2026-03-10T09:00:00+01:00")
    api.run("2026-03-10")
    invoice = api.only("kraft", "invoice")
    doc = invoice["document"]
    # net = R(122.90 / 1.27) = R(96.7716…) = 96.77; VAT = 122.90 − 96.77 = 26.13
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("122.90", "96.77", "26.13")
    assert (doc["vat_treatment"]["kind"], doc["vat_treatment"]["rate"]) == ("domestic", "0.27")
    assert doc["vat_treatment"]["vies_reference"] is None
    assert not any("Reverse charge" in note for note in doc["notes"])
    # HUF at 406.10: net R(96.77 × 406.10) = 39,298; VAT R(26.13 × 406.10) = R(10,611.393) = 10,611
    assert (doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("39298", "10611", "49909")
    # charges 2 … 10 March at 127.00 a month: R(127 × 9/31) = R(36.870…) = 36.87; 122.90 − 36.87 = 86.03
    assert api.state("kraft")["balance"] == "86.03"


@pytest.mark.parametrize("how", ["http_500", "fault", "refused"])
def test_vies_down_at_creation_is_hungarian_vat_until_a_run_gets_an_answer(api, mnb, vies, how):
    vies.answer(VAT_NUMBER, valid=True)
    vies.down(how)
    create_kraft(api, mnb)
    vat = api.state("kraft")["vat"]
    assert vat == {"treatment": "domestic", "pending": True, "vies_reference": None,  # no guess
                   "effective_from": "2026-03-02", "earlier": []}

    api.run("2026-03-02")  # still down: asked again, still pending
    assert api.state("kraft")["vat"]["pending"] is True
    proforma = api.only("kraft", "proforma")
    # issued while pending, so with Hungarian VAT: R(127.00 × 30/31) = 122.90, VAT 26.13
    assert (proforma["gross"], proforma["vat"]) == ("122.90", "26.13")
    assert proforma["document"]["vat_treatment"]["kind"] == "domestic"
    # 2 March charged at the gross price: R(127 / 31) = R(4.0967…) = 4.10
    assert api.state("kraft")["balance"] == "-4.10"
    if how == "refused":
        assert vies.calls() == []  # nothing ever reached the server
    else:
        # account.created and the run of 2 March each asked, and each got the outage
        assert [r.answered for r in vies.calls()] == [f"down:{how}"] * 2

    vies.up()
    api.run("2026-03-03")  # the run asks again first, gets "valid", and bills 3 March without VAT
    vat = api.state("kraft")["vat"]
    assert vat["treatment"] == "reverse_charge" and vat["pending"] is False and vat["vies_reference"]
    assert vies_questions(vies, answered_only=True) == [CHECK_KRAFT]
    # cumulative in March: R(127/31 + 100/31) = R(227/31) = R(7.3225…) = 7.32
    assert api.state("kraft")["balance"] == "-7.32"

    pay_proforma(api, "2026-03-05T09:00:00+01:00")  # paid after the confirmation of 3 March
    api.run("2026-03-05")
    invoice = api.only("kraft", "invoice")
    doc = invoice["document"]
    # reverse charge from the day VIES confirmed: the 122.90 received is all net, no Hungarian VAT
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("122.90", "122.90", "0.00")
    assert doc["vat_treatment"]["kind"] == "reverse_charge"
    assert doc["vat_treatment"]["vies_reference"] == vat["vies_reference"]
    # HUF at Thursday 5 March's 400.40: R(122.90 × 400.40) = R(49,209.16) = 49,209
    assert (doc["exchange_rate"], doc["net_huf"], doc["vat_huf"], doc["gross_huf"]) == ("400.40", "49209", "0", "49209")
    # 2 March at 127/31, 3 … 5 March at 100/31: R((127 + 3 × 100) / 31) = R(13.774…) = 13.77;
    # 122.90 − 13.77 = 109.13
    assert api.state("kraft")["balance"] == "109.13"
    assert vies_questions(vies, answered_only=True) == [CHECK_KRAFT]  # once confirmed, not asked again
