"""A credit note reduces the supply of its invoice: it carries that invoice's VAT treatment, even
when the buyer's treatment changed in between (CONTRACT §5, §6: a modifying invoice modifies the
original one; NAV's chain keeps one VAT rate per line)."""
from __future__ import annotations

from tests.e2e_soap.test_vies_http import VAT_NUMBER, create_kraft, pay_proforma


def test_a_refund_credit_note_keeps_the_vat_of_the_invoice_it_reduces(api, mnb, vies):
    vies.answer(VAT_NUMBER, valid=True)
    vies.down("fault")
    create_kraft(api, mnb)
    api.run("2026-03-02")  # the first proforma: R(127.00 × 30/31) = 122.90, Hungarian VAT while pending
    pay_proforma(api, "2026-03-03T09:00:00+01:00")  # paid while VIES still gives no answer
    api.run("2026-03-03")
    invoice = api.only("kraft", "invoice")
    # Hungarian VAT while pending: 122.90 gross = R(122.90 / 1.27) = 96.77 net + 26.13 VAT
    assert (invoice["gross"], invoice["net"], invoice["vat"]) == ("122.90", "96.77", "26.13")
    assert invoice["document"]["vat_treatment"]["kind"] == "domestic"

    vies.up()
    api.run("2026-03-04")  # VIES confirms: reverse charge from 4 March
    assert api.state("kraft")["vat"]["treatment"] == "reverse_charge"
    api.event("account.terminated", "kraft", "2026-03-05T09:00:00+01:00", by="customer", reason="closing")
    api.run("2026-03-05")
    note = api.only("kraft", "credit_note")
    assert note["references"] == [invoice["number"]]
    # charges: 2-3 March at 127/31, 4-5 March at 100/31: R((2 × 127 + 2 × 100)/31) = R(14.645…) = 14.65;
    # refund = 122.90 − 14.65 = 108.25, credited back on the 27 % invoice:
    # net R(108.25 / 1.27) = R(85.236…) = 85.24, VAT 108.25 − 85.24 = 23.01
    assert note["document"]["vat_treatment"]["kind"] == "domestic"
    assert (note["gross"], note["net"], note["vat"]) == ("-108.25", "-85.24", "-23.01")
