"""InvoiceData 3.0: a pure renderer of an issued `Document` into the XML NAV receives.

Nothing here reads the database or the clock: the same document always renders to the same bytes,
so the XML stored in the outbox can be re-derived and compared.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from invoices.documents import Document, DocumentLine, Party
from nav_reporting.schemas import validate

DATA_NS = "http://schemas.nav.gov.hu/OSA/3.0/data"
BASE_NS = "http://schemas.nav.gov.hu/OSA/3.0/base"
_NSMAP = {None: DATA_NS, "base": BASE_NS}

_CENT = Decimal("0.01")
_DESCRIPTION_MAX = 512
_REASON_MAX = 200
_PAYMENT_METHODS = {"card": "CARD", "bank_transfer": "TRANSFER"}
_UNITS = {"seat-day": ("OWN", "seat-day"), "piece": ("PIECE", None)}
_DEFAULT_REASONS = {
    "EUFAD37": "Reverse charge, VAT Act 37(1) / Fordított adózás",
    "HO": "Service outside the EU / Harmadik országban teljesített szolgáltatás",
}
_TAX_NUMBER = re.compile(r"^(\d{8})-?([1-5])-?(\d{2})$")


class InvoiceDataError(ValueError):
    """The document cannot be expressed as valid InvoiceData (a bug upstream, not a NAV error)."""


def split_tax_number(tax_number: str) -> tuple[str, str, str]:
    """"12345678-2-42" -> ("12345678", "2", "42"): taxpayerId, vatCode, countyCode."""
    match = _TAX_NUMBER.match(tax_number.strip())
    if not match:
        raise InvoiceDataError(f"not a Hungarian tax number (12345678-2-42): {tax_number!r}")
    return match.group(1), match.group(2), match.group(3)


def build_invoice_data(doc: Document, *, original_line_count: int = 1) -> bytes:
    """The InvoiceData XML of an invoice or credit note.

    `original_line_count` is the number of lines already in the modified invoice's chain: NAV
    numbers a credit note's lines by continuing that chain (lineNumberReference).
    """
    if doc.kind not in ("invoice", "credit_note"):
        raise InvoiceDataError(f"only invoices and credit notes are reported, not {doc.kind!r}")
    if not doc.lines:
        raise InvoiceDataError(f"{doc.number}: a document without lines cannot be reported")
    root = etree.Element(_d("InvoiceData"), nsmap=_NSMAP)
    _text(root, "invoiceNumber", doc.number)
    _text(root, "invoiceIssueDate", doc.issue_date.isoformat())
    # false: we do not send the e-invoice itself, so no electronicInvoiceHash is required.
    _text(root, "completenessIndicator", "false")
    invoice = _sub(_sub(root, "invoiceMain"), "invoice")
    if doc.kind == "credit_note":
        _invoice_reference(invoice, doc)
    head = _sub(invoice, "invoiceHead")
    _supplier(head, doc)
    _customer(head, doc)
    _detail(head, doc)
    huf = _huf_lines(doc)
    lines = _sub(invoice, "invoiceLines")
    _text(lines, "mergedItemIndicator", "false")
    for number, (line, line_huf) in enumerate(zip(doc.lines, huf), start=1):
        reference = original_line_count + number if doc.kind == "credit_note" else None
        _line(lines, doc, number, line, line_huf, reference)
    _summary(invoice, doc, huf)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def validate_invoice_data(xml: bytes) -> None:
    """Raises `nav_reporting.schemas.SchemaViolation` (a ValueError) naming each violation."""
    validate(xml, "invoiceData.xsd")


# --- head -------------------------------------------------------------------------------------


def _invoice_reference(invoice: etree._Element, doc: Document) -> None:
    if not doc.references or doc.modification_index is None:
        raise InvoiceDataError(f"{doc.number}: a credit note needs references[0] and modification_index")
    ref = _sub(invoice, "invoiceReference")
    _text(ref, "originalInvoiceNumber", doc.references[0])
    # false: our base invoices are always reported to NAV before their credit notes.
    _text(ref, "modifyWithoutMaster", "false")
    _text(ref, "modificationIndex", str(doc.modification_index))


def _supplier(head: etree._Element, doc: Document) -> None:
    seller = doc.seller
    if not seller.tax_number:
        raise InvoiceDataError(f"{doc.number}: the seller has no tax number")
    info = _sub(head, "supplierInfo")
    taxpayer_id = _tax_number(info, "supplierTaxNumber", seller.tax_number)
    if doc.vat_treatment.kind == "reverse_charge":
        # The EU buyer self-assesses, so the invoice must show both parties' community VAT numbers.
        _text(info, "communityVatNumber", seller.eu_vat_number or f"HU{taxpayer_id}")
    _text(info, "supplierName", seller.name)
    _address(info, "supplierAddress", seller)
    if seller.bank_account:
        _text(info, "supplierBankAccountNumber", seller.bank_account)


def _customer(head: etree._Element, doc: Document) -> None:
    buyer, kind = doc.buyer, doc.vat_treatment.kind
    info = _sub(head, "customerInfo")
    if kind == "domestic" and not buyer.tax_number:
        # Hungarian VAT charged to a buyer with no Hungarian tax number: a foreign business whose
        # VAT number VIES did not confirm is OTHER; a Hungarian buyer without one is a private
        # person, reported without name or address (NAV rejects them for PRIVATE_PERSON).
        if buyer.country == "HU":
            _text(info, "customerVatStatus", "PRIVATE_PERSON")
            return
        _text(info, "customerVatStatus", "OTHER")
        if buyer.eu_vat_number:
            _text(_sub(info, "customerVatData"), "communityVatNumber", buyer.eu_vat_number.replace(" ", ""))
    elif kind == "domestic":
        _text(info, "customerVatStatus", "DOMESTIC")
        _tax_number(_sub(info, "customerVatData"), "customerTaxNumber", buyer.tax_number)
    elif kind == "reverse_charge":
        if not buyer.eu_vat_number:
            raise InvoiceDataError(f"{doc.number}: EU reverse charge needs the buyer's VAT number")
        _text(info, "customerVatStatus", "OTHER")
        _text(_sub(info, "customerVatData"), "communityVatNumber", buyer.eu_vat_number.replace(" ", ""))
    elif kind == "out_of_scope":
        _text(info, "customerVatStatus", "OTHER")
        if buyer.third_country_id:
            _text(_sub(info, "customerVatData"), "thirdStateTaxId", buyer.third_country_id)
    else:
        raise InvoiceDataError(f"{doc.number}: unknown VAT treatment {kind!r}")
    _text(info, "customerName", buyer.name)
    _address(info, "customerAddress", buyer)


def _detail(head: etree._Element, doc: Document) -> None:
    detail = _sub(head, "invoiceDetail")
    _text(detail, "invoiceCategory", "NORMAL")
    _text(detail, "invoiceDeliveryDate", doc.fulfilment_date.isoformat())
    has_period = doc.period_start is not None and doc.period_end is not None
    if has_period:
        _text(detail, "invoiceDeliveryPeriodStart", doc.period_start.isoformat())
        _text(detail, "invoiceDeliveryPeriodEnd", doc.period_end.isoformat())
        # A delivery period without this flag draws INCORRECT_HEAD_DATA_PERIODICAL_SETTLEMENT.
        _text(detail, "periodicalSettlement", "true")
    _text(detail, "currencyCode", doc.currency)
    _text(detail, "exchangeRate", _exchange_rate(doc))
    _text(detail, "paymentMethod", _PAYMENT_METHODS.get(doc.payment_method or "", "OTHER"))
    _text(detail, "paymentDate", doc.due_date.isoformat())
    _text(detail, "invoiceAppearance", "ELECTRONIC")


def _exchange_rate(doc: Document) -> str:
    rate = Decimal(1) if doc.currency == "HUF" else doc.exchange_rate
    if rate <= 0 or rate != rate.quantize(Decimal("0.000001")):
        raise InvoiceDataError(f"{doc.number}: exchange rate {rate} must be > 0 with ≤ 6 decimals")
    return _plain(rate)


# --- lines ------------------------------------------------------------------------------------


def _huf_lines(doc: Document) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(net, vat, gross) in HUF per line: amount × rate to the fillér, the last line absorbing the
    rounding so the lines add up to the document's own HUF totals (which NAV compares)."""
    rate = Decimal(1) if doc.currency == "HUF" else doc.exchange_rate
    columns = []
    for attr, total in (("net", doc.net_huf), ("vat", doc.vat_huf), ("gross", doc.gross_huf)):
        amounts = [_to_cent(getattr(line, attr) * rate) for line in doc.lines]
        amounts[-1] += _to_cent(total) - sum(amounts[:-1], Decimal(0)) - amounts[-1]
        columns.append(amounts)
    return list(zip(*columns))


def _to_cent(amount: Decimal) -> Decimal:
    # NAV's HUF fields carry 2 decimals; this converts for the report, it is not a billing rounding.
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _line(
    lines: etree._Element,
    doc: Document,
    number: int,
    line: DocumentLine,
    huf: tuple[Decimal, Decimal, Decimal],
    reference: int | None,
) -> None:
    el = _sub(lines, "line")
    _text(el, "lineNumber", str(number))
    if reference is not None:
        mod = _sub(el, "lineModificationReference")
        _text(mod, "lineNumberReference", str(reference))
        # Always CREATE: NAV rejects lineOperation MODIFY; a correction is a new line.
        _text(mod, "lineOperation", "CREATE")
    _text(el, "lineExpressionIndicator", "true")
    _text(el, "lineNatureIndicator", "SERVICE")
    _text(el, "lineDescription", _clip(line.description, _DESCRIPTION_MAX))
    _text(el, "quantity", _plain(line.quantity))
    unit, own = _UNITS.get(line.unit, ("OWN", line.unit))
    _text(el, "unitOfMeasure", unit)
    if own:
        _text(el, "unitOfMeasureOwn", own)
    _text(el, "unitPrice", _plain(line.unit_price_net))
    amounts = _sub(el, "lineAmountsNormal")
    net = _sub(amounts, "lineNetAmountData")
    _text(net, "lineNetAmount", _money(line.net))
    _text(net, "lineNetAmountHUF", _money(huf[0]))
    _vat_rate(_sub(amounts, "lineVatRate"), doc)
    vat = _sub(amounts, "lineVatData")
    _text(vat, "lineVatAmount", _money(line.vat))
    _text(vat, "lineVatAmountHUF", _money(huf[1]))
    gross = _sub(amounts, "lineGrossAmountData")
    _text(gross, "lineGrossAmountNormal", _money(line.gross))
    _text(gross, "lineGrossAmountNormalHUF", _money(huf[2]))


def _vat_rate(parent: etree._Element, doc: Document) -> None:
    treatment = doc.vat_treatment
    if treatment.kind == "domestic":
        _text(parent, "vatPercentage", _plain(treatment.rate))
        return
    if treatment.nav_case not in _DEFAULT_REASONS:
        raise InvoiceDataError(f"{doc.number}: vatOutOfScope case must be EUFAD37 or HO, not {treatment.nav_case!r}")
    scope = _sub(parent, "vatOutOfScope")
    _text(scope, "case", treatment.nav_case)
    _text(scope, "reason", _clip(treatment.legal_text or _DEFAULT_REASONS[treatment.nav_case], _REASON_MAX))


def _rate_key(doc: Document) -> tuple[str, str]:
    treatment = doc.vat_treatment
    if treatment.kind == "domestic":
        return ("percentage", _plain(treatment.rate))
    return ("out_of_scope", treatment.nav_case or "")


# --- summary ----------------------------------------------------------------------------------


def _summary(invoice: etree._Element, doc: Document, huf: list[tuple[Decimal, Decimal, Decimal]]) -> None:
    # Every line of one document carries the document's VAT treatment, so lines group by one key;
    # the grouping is kept explicit so a mixed-rate document would still sum per rate.
    groups: dict[tuple[str, str], list[int]] = {}
    for index in range(len(doc.lines)):
        groups.setdefault(_rate_key(doc), []).append(index)
    summary = _sub(invoice, "invoiceSummary")
    normal = _sub(summary, "summaryNormal")
    for indexes in groups.values():
        by_rate = _sub(normal, "summaryByVatRate")
        _vat_rate(_sub(by_rate, "vatRate"), doc)
        for field, position, prefix in (("net", 0, "vatRateNet"), ("vat", 1, "vatRateVat"), ("gross", 2, "vatRateGross")):
            data = _sub(by_rate, f"{prefix}Data")
            _text(data, f"{prefix}Amount", _money(sum((getattr(doc.lines[i], field) for i in indexes), Decimal(0))))
            _text(data, f"{prefix}AmountHUF", _money(sum((huf[i][position] for i in indexes), Decimal(0))))
    _text(normal, "invoiceNetAmount", _money(doc.net))
    _text(normal, "invoiceNetAmountHUF", _money(doc.net_huf))
    _text(normal, "invoiceVatAmount", _money(doc.vat))
    _text(normal, "invoiceVatAmountHUF", _money(doc.vat_huf))
    gross = _sub(summary, "summaryGrossData")
    _text(gross, "invoiceGrossAmount", _money(doc.gross))
    _text(gross, "invoiceGrossAmountHUF", _money(doc.gross_huf))


# --- small helpers ----------------------------------------------------------------------------


def _tax_number(parent: etree._Element, tag: str, tax_number: str) -> str:
    taxpayer_id, vat_code, county = split_tax_number(tax_number)
    el = _sub(parent, tag)
    etree.SubElement(el, _b("taxpayerId")).text = taxpayer_id
    etree.SubElement(el, _b("vatCode")).text = vat_code
    etree.SubElement(el, _b("countyCode")).text = county
    return taxpayer_id


_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9\s\-]{1,8}[A-Z0-9]")
# The CRM may not know a buyer's address; the schema wants text, so the report says "unknown".
UNKNOWN = "ismeretlen"


def _address(parent: etree._Element, tag: str, party: Party) -> None:
    simple = etree.SubElement(_sub(parent, tag), _b("simpleAddress"))
    etree.SubElement(simple, _b("countryCode")).text = party.country.upper()
    # NAV's convention for "no postal code" is 0000; a code outside its pattern is reported so too.
    postal = (party.postal_code or "").strip().upper()
    etree.SubElement(simple, _b("postalCode")).text = postal if _POSTAL_CODE.fullmatch(postal) else "0000"
    etree.SubElement(simple, _b("city")).text = (party.city or "").strip() or UNKNOWN
    etree.SubElement(simple, _b("additionalAddressDetail")).text = (party.street or "").strip() or UNKNOWN


def _money(amount: Decimal) -> str:
    return _plain(_to_cent(amount))


def _plain(number: Decimal) -> str:
    """Fixed-point text: xs:decimal has no exponent notation."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _d(tag: str) -> str:
    return f"{{{DATA_NS}}}{tag}"


def _b(tag: str) -> str:
    return f"{{{BASE_NS}}}{tag}"


def _sub(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, _d(tag))


def _text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    el = _sub(parent, tag)
    el.text = value
    return el
