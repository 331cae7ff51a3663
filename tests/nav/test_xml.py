from dataclasses import replace
from decimal import Decimal as D

import pytest
from lxml import etree

from nav_reporting.schemas import SchemaViolation
from nav_reporting.xml import InvoiceDataError, build_invoice_data, split_tax_number, validate_invoice_data
from invoices.documents import DocumentLine
from tests.nav.documents import credit_note, domestic_invoice, eu_reverse_charge_invoice, non_eu_invoice

NS = {"d": "http://schemas.nav.gov.hu/OSA/3.0/data", "b": "http://schemas.nav.gov.hu/OSA/3.0/base"}


def _tree(doc, **kw):
    xml = build_invoice_data(doc, **kw)
    validate_invoice_data(xml)
    return etree.fromstring(xml)


def _all(tree, path):
    return [e.text for e in tree.xpath(path, namespaces=NS)]


def _one(tree, path):
    values = _all(tree, path)
    assert len(values) == 1, (path, values)
    return values[0]


@pytest.mark.parametrize("factory", [domestic_invoice, eu_reverse_charge_invoice, non_eu_invoice, credit_note])
def test_every_kind_validates_against_the_official_schema(factory):
    validate_invoice_data(build_invoice_data(factory()))


def test_split_tax_number():
    assert split_tax_number("12345678-2-42") == ("12345678", "2", "42")
    assert split_tax_number("12345678242") == ("12345678", "2", "42")
    with pytest.raises(InvoiceDataError):
        split_tax_number("1234567-2-42")
    with pytest.raises(InvoiceDataError):
        split_tax_number("12345678-9-42")  # vatCode is 1..5


def test_domestic_huf_invoice_fields():
    t = _tree(domestic_invoice())
    assert _one(t, "//d:supplierTaxNumber/b:taxpayerId") == "12345678"
    assert _one(t, "//d:supplierTaxNumber/b:vatCode") == "2"
    assert _one(t, "//d:supplierTaxNumber/b:countyCode") == "42"
    assert _all(t, "//d:supplierInfo/d:communityVatNumber") == []
    assert _one(t, "//d:supplierBankAccountNumber") == "11111111-22222222-33333333"
    assert _one(t, "//d:customerVatStatus") == "DOMESTIC"
    assert _all(t, "//d:customerTaxNumber/*") == ["87654321", "2", "06"]
    assert _one(t, "//d:invoiceDeliveryDate") == "2024-03-31"
    assert _one(t, "//d:invoiceDeliveryPeriodStart") == "2024-03-01"
    assert _one(t, "//d:invoiceDeliveryPeriodEnd") == "2024-03-31"
    assert _one(t, "//d:periodicalSettlement") == "true"
    assert _one(t, "//d:exchangeRate") == "1"
    assert _one(t, "//d:paymentMethod") == "TRANSFER"
    assert _one(t, "//d:paymentDate") == "2024-04-09"
    assert _one(t, "//d:invoiceAppearance") == "ELECTRONIC"
    assert _one(t, "//d:line/d:unitOfMeasure") == "OWN"
    assert _one(t, "//d:line/d:unitOfMeasureOwn") == "fő-nap"  # NAV has no seat-day unit: OWN
    assert _one(t, "//d:line/d:quantity") == "310" and _one(t, "//d:line/d:unitPrice") == "100"
    assert _all(t, "//d:unitPriceHUF") == []  # a HUF document's unit price is already in HUF
    assert _all(t, "//d:advanceData") == []
    assert _all(t, "//d:lineVatRate/d:vatPercentage") == ["0.27"]
    assert _one(t, "//d:lineVatAmountHUF") == "8370"
    assert _all(t, "//d:invoiceReference") == []
    assert _all(t, "//d:lineModificationReference") == []
    assert _one(t, "//d:invoiceVatAmountHUF") == "8370"
    assert _one(t, "//d:invoiceGrossAmountHUF") == "39370"


def test_eu_reverse_charge_in_eur_with_huf_amounts():
    t = _tree(eu_reverse_charge_invoice())
    assert _one(t, "//d:supplierInfo/d:communityVatNumber") == "HU12345678"
    assert _one(t, "//d:customerVatStatus") == "OTHER"
    assert _one(t, "//d:customerVatData/d:communityVatNumber") == "RO18547290"
    assert _all(t, "//d:customerTaxNumber") == []
    assert _one(t, "//d:currencyCode") == "EUR"
    assert _one(t, "//d:exchangeRate") == "392.15"
    assert _one(t, "//d:paymentMethod") == "CARD"
    assert _all(t, "//d:lineVatRate/d:vatOutOfScope/d:case") == ["EUFAD37"] * 3
    assert _one(t, "//d:summaryByVatRate/d:vatRate/d:vatOutOfScope/d:case") == "EUFAD37"
    assert _all(t, "//d:line/d:unitOfMeasure") == ["OWN", "OWN", "PIECE"]
    # 100.13 × 392.15 = 39 265.9795 -> 39 265.98; 200.26 × 392.15 = 78 531.959 -> 78 531.96;
    # the last line takes the rest of the document's 130 868: 130 868 - 39 265.98 - 78 531.96 = 13 070.06
    # (and not 33.33 × 392.15 = 13 070.36).
    assert _all(t, "//d:lineNetAmountHUF") == ["39265.98", "78531.96", "13070.06"]
    assert _all(t, "//d:lineGrossAmountNormalHUF") == ["39265.98", "78531.96", "13070.06"]
    assert _all(t, "//d:lineNetAmount") == ["100.13", "200.26", "33.33"]
    assert _one(t, "//d:vatRateNetAmount") == "333.72"
    # unitPriceHUF = unitPrice × exchangeRate, exact (4 + 2 decimals, NAV takes 10):
    # 3.23 × 392.15 = 1,266.6445 (both seat-day lines); 33.33 × 392.15 = 13,070.3595
    assert _all(t, "//d:line/d:unitPrice") == ["3.23", "3.23", "33.33"]
    assert _all(t, "//d:line/d:unitPriceHUF") == ["1266.6445", "1266.6445", "13070.3595"]
    assert _one(t, "//d:vatRateNetAmountHUF") == "130868"
    assert _one(t, "//d:invoiceNetAmountHUF") == "130868"
    assert _one(t, "//d:invoiceVatAmount") == "0"


def test_non_eu_out_of_scope_with_third_state_id():
    t = _tree(non_eu_invoice())
    assert _one(t, "//d:customerVatStatus") == "OTHER"
    assert _one(t, "//d:customerVatData/d:thirdStateTaxId") == "12-3456789"
    assert _all(t, "//d:supplierInfo/d:communityVatNumber") == []
    assert _all(t, "//d:vatOutOfScope/d:case") == ["HO", "HO"]  # line + summary
    assert _one(t, "//d:paymentMethod") == "OTHER"
    assert _one(t, "//d:customerAddress/b:simpleAddress/b:postalCode") == "0000"
    # no period on the document: no period fields and no periodicalSettlement flag
    assert _all(t, "//d:invoiceDeliveryPeriodStart") == []
    assert _all(t, "//d:periodicalSettlement") == []
    # 99.00 × 360.5 = 35 689.50, one line absorbs the document's 35 690.
    assert _one(t, "//d:lineNetAmountHUF") == "35690"


def test_out_of_scope_without_third_country_id_has_no_vat_data():
    doc = non_eu_invoice()
    t = _tree(replace(doc, buyer=replace(doc.buyer, third_country_id=None)))
    assert _all(t, "//d:customerVatData") == []
    assert _one(t, "//d:customerName") == "Client Inc."


def test_credit_note_references_its_invoice():
    t = _tree(credit_note(), original_line_count=3)
    assert _one(t, "//d:invoiceNumber") == "CN-2024-0001"
    assert _one(t, "//d:invoiceReference/d:originalInvoiceNumber") == "INV-2024-0001"
    assert _one(t, "//d:invoiceReference/d:modifyWithoutMaster") == "false"
    assert _one(t, "//d:invoiceReference/d:modificationIndex") == "1"
    assert _one(t, "//d:line/d:lineNumber") == "1"
    assert _one(t, "//d:lineNumberReference") == "4"  # 3 original lines + 1
    assert _one(t, "//d:lineOperation") == "CREATE"
    assert _one(t, "//d:quantity") == "-31"
    assert _one(t, "//d:lineNetAmountHUF") == "-3100"
    assert _one(t, "//d:invoiceGrossAmount") == "-3937"


def test_credit_note_default_reference_continues_after_one_line():
    assert _one(_tree(credit_note()), "//d:lineNumberReference") == "2"


def test_long_description_is_clipped_to_512():
    doc = domestic_invoice()
    line = replace(doc.lines[0], description="x" * 600)
    text = _one(_tree(replace(doc, lines=(line,))), "//d:lineDescription")
    assert len(text) == 512


def test_validation_error_names_the_problem():
    xml = build_invoice_data(domestic_invoice()).replace(b"<exchangeRate>1<", b"<exchangeRate>-1<")
    with pytest.raises(SchemaViolation) as err:
        validate_invoice_data(xml)
    assert "exchangeRate" in str(err.value)


def test_proforma_and_inconsistent_documents_are_refused():
    with pytest.raises(InvoiceDataError):
        build_invoice_data(replace(domestic_invoice(), kind="proforma"))
    with pytest.raises(InvoiceDataError):
        build_invoice_data(replace(credit_note(), references=()))
    with pytest.raises(InvoiceDataError):
        build_invoice_data(replace(eu_reverse_charge_invoice(), buyer=replace(eu_reverse_charge_invoice().buyer, eu_vat_number=None)))


def test_rendering_is_deterministic():
    assert build_invoice_data(eu_reverse_charge_invoice()) == build_invoice_data(eu_reverse_charge_invoice())


def test_an_advance_line_is_marked_as_one():
    """Money beyond what proformas asked for is an advance (Áfa tv. 59. §): advanceData with
    advanceIndicator true, a service, 1 piece (as NAV's own advance sample), and it validates."""
    doc = domestic_invoice()
    # 12,700 gross beyond the proformas: net R(12,700 / 1.27) = 10,000, VAT 2,700
    advance = DocumentLine("Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)",
                           D(1), "piece", D("10000"), D("10000"), D("2700"), D("12700"), advance=True)
    # 39,370 (310 seat-days) + 12,700 = 52,070; net 41,000, VAT 11,070
    doc = replace(doc, lines=(doc.lines[0], advance), net=D("41000"), vat=D("11070"), gross=D("52070"),
                  net_huf=D("41000"), vat_huf=D("11070"), gross_huf=D("52070"))
    t = _tree(doc)
    assert _all(t, "//d:line/d:advanceData/d:advanceIndicator") == ["true"]
    assert _all(t, "//d:line[d:advanceData]/d:lineNumber") == ["2"]
    assert _all(t, "//d:line/d:lineNatureIndicator") == ["SERVICE", "SERVICE"]
    assert _all(t, "//d:line[d:advanceData]/d:unitOfMeasure") == ["PIECE"]
    assert _all(t, "//d:line[d:advanceData]//d:lineNetAmount") == ["10000"]
    assert _all(t, "//d:line[not(d:advanceData)]/d:unitOfMeasureOwn") == ["fő-nap"]
