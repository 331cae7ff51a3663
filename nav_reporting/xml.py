"""InvoiceData 3.0: a pure renderer of an issued `Document` into the XML NAV receives.

Nothing here reads the database or the clock: the same document always renders to the same bytes,
so the XML stored in the outbox can be re-derived and compared.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from billing.money import unit_price_huf
from invoices.documents import Document, DocumentLine, Party
from nav_reporting.schemas import validate

DATA_NS = "http://schemas.nav.gov.hu/OSA/3.0/data"
BASE_NS = "http://schemas.nav.gov.hu/OSA/3.0/base"

_CENT = Decimal("0.01")
_DESCRIPTION_MAX = 512
_REASON_MAX = 200
_PAYMENT_METHODS = {"card": "CARD", "bank_transfer": "TRANSFER"}
# A seat-day is no unit of NAV's list (DAY is a day, not a person-day): OWN, named as Hungarian
# invoices name it, "fő-nap".
_UNITS = {"seat-day": ("OWN", "fő-nap"), "piece": ("PIECE", None)}
_DEFAULT_REASONS = {
    "EUFAD37": "Reverse charge, VAT Act 37(1) / Fordított adózás",
    "HO": "Service outside the EU / Harmadik országban teljesített szolgáltatás",
}
# additionalInvoiceData's name of the VIES consultation number ([A-Z][0-9]{5}_[_A-Z0-9]+, the XSD's).
VIES_DATA_NAME = "A00001_VIES_CONSULTATION_NUMBER"
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
    """The InvoiceData XML of an invoice, a credit note or a correction.

    `original_line_count` is the number of lines already in the modified invoice's chain: NAV
    numbers a credit note's lines by continuing that chain (lineNumberReference).

    Written as text, not as an lxml tree: the element tree is fixed, and building ~90 namespaced
    elements cost four times what parsing and validating the result does. The bytes are exactly
    what `etree.tostring(tree, xml_declaration=True, encoding="UTF-8")` gave for the same tree
    (default namespace `data`, prefix `base`; text escaped by `_x` as libxml2 escapes it), and
    `nav_reporting.outbox.enqueue` still validates them against the XSD.
    """
    if doc.kind not in ("invoice", "credit_note", "correction"):
        raise InvoiceDataError(f"only invoices, credit notes and corrections are reported, not {doc.kind!r}")
    if not doc.lines and doc.kind != "correction":
        raise InvoiceDataError(f"{doc.number}: a document without lines cannot be reported")
    out: list[str] = [
        _HEAD,
        f"<invoiceNumber>{_x(doc.number)}</invoiceNumber>",
        f"<invoiceIssueDate>{doc.issue_date.isoformat()}</invoiceIssueDate>",
        # false: we do not send the e-invoice itself, so no electronicInvoiceHash is required.
        "<completenessIndicator>false</completenessIndicator><invoiceMain><invoice>",
    ]
    if doc.kind in ("credit_note", "correction"):
        _invoice_reference(out, doc)
    out.append("<invoiceHead>")
    _supplier(out, doc)
    _customer(out, doc)
    _detail(out, doc)
    out.append("</invoiceHead>")
    huf = _huf_lines(doc) if doc.lines else []
    vat_rate = _vat_rate(doc)
    money = _MoneyTexts()
    # A correction of buyer data changes no line: it sends none (invoiceLines is optional, and
    # NAV's MODIFY carries only the lines that change), and its summary is zero at the rate.
    if doc.lines:
        out.append("<invoiceLines><mergedItemIndicator>false</mergedItemIndicator>")
        for number, (line, line_huf) in enumerate(zip(doc.lines, huf), start=1):
            reference = original_line_count + number if doc.kind == "credit_note" else None
            _line(out, number, line, line_huf, reference, vat_rate, money, _line_rate(doc))
        out.append("</invoiceLines>")
    _summary(out, doc, huf, vat_rate, money)
    out.append("</invoice></invoiceMain></InvoiceData>")
    return "".join(out).encode("utf-8")


def validate_invoice_data(xml: bytes) -> None:
    """Raises `nav_reporting.schemas.SchemaViolation` (a ValueError) naming each violation."""
    validate(xml, "invoiceData.xsd")


# --- head -------------------------------------------------------------------------------------


def _invoice_reference(out: list[str], doc: Document) -> None:
    if not doc.references or doc.modification_index is None:
        raise InvoiceDataError(f"{doc.number}: a credit note needs references[0] and modification_index")
    out.append(
        f"<invoiceReference><originalInvoiceNumber>{_x(doc.references[0])}</originalInvoiceNumber>"
        # false: our base invoices are always reported to NAV before their credit notes.
        "<modifyWithoutMaster>false</modifyWithoutMaster>"
        f"<modificationIndex>{doc.modification_index}</modificationIndex></invoiceReference>"
    )


def _supplier(out: list[str], doc: Document) -> None:
    seller = doc.seller
    if not seller.tax_number:
        raise InvoiceDataError(f"{doc.number}: the seller has no tax number")
    out.append("<supplierInfo>")
    taxpayer_id = _tax_number(out, "supplierTaxNumber", seller.tax_number)
    if doc.vat_treatment.kind == "reverse_charge":
        # The EU buyer self-assesses, so the invoice must show both parties' community VAT numbers.
        out.append(f"<communityVatNumber>{_x(seller.eu_vat_number or f'HU{taxpayer_id}')}</communityVatNumber>")
    out.append(f"<supplierName>{_x(_one_line(seller.name))}</supplierName>")
    _address(out, "supplierAddress", seller)
    if seller.bank_account:
        out.append(f"<supplierBankAccountNumber>{_x(seller.bank_account)}</supplierBankAccountNumber>")
    out.append("</supplierInfo>")


def _customer(out: list[str], doc: Document) -> None:
    buyer, kind = doc.buyer, doc.vat_treatment.kind
    out.append("<customerInfo>")
    if kind == "domestic" and not buyer.tax_number:
        # Hungarian VAT charged to a buyer with no Hungarian tax number: a foreign business whose
        # VAT number VIES did not confirm is OTHER; a Hungarian buyer without one is a private
        # person, reported without name or address (NAV rejects them for PRIVATE_PERSON).
        if buyer.country == "HU":
            out.append("<customerVatStatus>PRIVATE_PERSON</customerVatStatus></customerInfo>")
            return
        out.append("<customerVatStatus>OTHER</customerVatStatus>")
        if buyer.eu_vat_number:
            out.append(_community_vat_data(buyer.eu_vat_number))
    elif kind == "domestic":
        out.append("<customerVatStatus>DOMESTIC</customerVatStatus><customerVatData>")
        _tax_number(out, "customerTaxNumber", buyer.tax_number)
        out.append("</customerVatData>")
    elif kind == "reverse_charge":
        if not buyer.eu_vat_number:
            raise InvoiceDataError(f"{doc.number}: EU reverse charge needs the buyer's VAT number")
        out.append("<customerVatStatus>OTHER</customerVatStatus>")
        out.append(_community_vat_data(buyer.eu_vat_number))
    elif kind == "out_of_scope":
        out.append("<customerVatStatus>OTHER</customerVatStatus>")
        if buyer.third_country_id:
            out.append(f"<customerVatData><thirdStateTaxId>{_x(buyer.third_country_id)}</thirdStateTaxId></customerVatData>")
    else:
        raise InvoiceDataError(f"{doc.number}: unknown VAT treatment {kind!r}")
    out.append(f"<customerName>{_x(_one_line(buyer.name))}</customerName>")
    _address(out, "customerAddress", buyer)
    out.append("</customerInfo>")


def _community_vat_data(eu_vat_number: str) -> str:
    return f"<customerVatData><communityVatNumber>{_x(eu_vat_number.replace(' ', ''))}</communityVatNumber></customerVatData>"


def _detail(out: list[str], doc: Document) -> None:
    out.append(
        "<invoiceDetail><invoiceCategory>NORMAL</invoiceCategory>"
        f"<invoiceDeliveryDate>{doc.fulfilment_date.isoformat()}</invoiceDeliveryDate>"
    )
    if doc.period_start is not None and doc.period_end is not None:
        out.append(
            f"<invoiceDeliveryPeriodStart>{doc.period_start.isoformat()}</invoiceDeliveryPeriodStart>"
            f"<invoiceDeliveryPeriodEnd>{doc.period_end.isoformat()}</invoiceDeliveryPeriodEnd>"
            # A delivery period without this flag draws INCORRECT_HEAD_DATA_PERIODICAL_SETTLEMENT.
            "<periodicalSettlement>true</periodicalSettlement>"
        )
    out.append(
        f"<currencyCode>{_x(doc.currency)}</currencyCode>"
        f"<exchangeRate>{_exchange_rate(doc)}</exchangeRate>"
        f"<paymentMethod>{_PAYMENT_METHODS.get(doc.payment_method or '', 'OTHER')}</paymentMethod>"
        f"<paymentDate>{doc.due_date.isoformat()}</paymentDate>"
        "<invoiceAppearance>ELECTRONIC</invoiceAppearance>"
    )
    if doc.vat_treatment.vies_reference:
        # InvoiceData has no field of its own for the VIES check; additionalInvoiceData carries
        # the consultation number beside the reverse charge it proves.
        out.append(
            f"<additionalInvoiceData><dataName>{VIES_DATA_NAME}</dataName>"
            "<dataDescription>VIES konzultációs szám / VIES consultation number (checkVatApprox)</dataDescription>"
            f"<dataValue>{_x(_one_line(doc.vat_treatment.vies_reference))}</dataValue></additionalInvoiceData>"
        )
    if doc.kind == "correction":
        _correction_reason(out, doc)
    out.append("</invoiceDetail>")


# additionalInvoiceData's name of a modification's reason (NAV's samples say "Módosítás oka").
REASON_DATA_NAME = "M00001_MODOSITAS_OKA"
_FIELDS_HU = {"name": "név", "address": "cím", "tax_number": "adószám", "eu_vat_number": "közösségi adószám"}


def _correction_reason(out: list[str], doc: Document) -> None:
    """What a correction changes and why: its customerInfo (above) is the corrected buyer, sent
    whole, and the invoice's other head data are repeated as issued (a changed block goes whole)."""
    fields = ", ".join(_FIELDS_HU.get(field, field) for field, _, _ in doc.corrected)
    text = f"A vevő adatainak javítása ({fields}) / Buyer data corrected: {doc.reason or ''}"
    out.append(
        f"<additionalInvoiceData><dataName>{REASON_DATA_NAME}</dataName>"
        "<dataDescription>Módosítás oka / Reason for the modification</dataDescription>"
        f"<dataValue>{_x(_clip(text, _DESCRIPTION_MAX))}</dataValue></additionalInvoiceData>"
    )


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
    out: list[str],
    number: int,
    line: DocumentLine,
    huf: tuple[Decimal, Decimal, Decimal],
    reference: int | None,
    vat_rate: str,
    money: _MoneyTexts,
    rate: Decimal | None = None,
) -> None:
    out.append(f"<line><lineNumber>{number}</lineNumber>")
    if reference is not None:
        # Always CREATE: NAV rejects lineOperation MODIFY; a correction is a new line.
        out.append(
            f"<lineModificationReference><lineNumberReference>{reference}</lineNumberReference>"
            "<lineOperation>CREATE</lineOperation></lineModificationReference>"
        )
    if line.advance:
        # Money beyond what proformas asked for (Áfa tv. 59. §): an advance for the seat licences,
        # a service (lineNatureIndicator below), reported as 1 piece as NAV's own advance sample does.
        out.append("<advanceData><advanceIndicator>true</advanceIndicator></advanceData>")
    unit, own = _UNITS.get(line.unit, ("OWN", line.unit))
    out.append(
        "<lineExpressionIndicator>true</lineExpressionIndicator><lineNatureIndicator>SERVICE</lineNatureIndicator>"
        f"<lineDescription>{_x(_clip(line.description, _DESCRIPTION_MAX))}</lineDescription>"
        f"<quantity>{_plain(line.quantity)}</quantity><unitOfMeasure>{unit}</unitOfMeasure>"
    )
    if own:
        out.append(f"<unitOfMeasureOwn>{_x(own)}</unitOfMeasureOwn>")
    out.append(f"<unitPrice>{_plain(line.unit_price_net)}</unitPrice>")
    if rate is not None:
        # unitPrice × exchangeRate (NAV warns INCORRECT_LINE_CALCULATION_LINE_UNIT_PRICE_HUF otherwise)
        out.append(f"<unitPriceHUF>{_plain(unit_price_huf(line.unit_price_net, rate))}</unitPriceHUF>")
    out.append(
        "<lineAmountsNormal><lineNetAmountData>"
        f"<lineNetAmount>{money[line.net]}</lineNetAmount><lineNetAmountHUF>{money[huf[0]]}</lineNetAmountHUF>"
        f"</lineNetAmountData><lineVatRate>{vat_rate}</lineVatRate><lineVatData>"
        f"<lineVatAmount>{money[line.vat]}</lineVatAmount><lineVatAmountHUF>{money[huf[1]]}</lineVatAmountHUF>"
        "</lineVatData><lineGrossAmountData>"
        f"<lineGrossAmountNormal>{money[line.gross]}</lineGrossAmountNormal>"
        f"<lineGrossAmountNormalHUF>{money[huf[2]]}</lineGrossAmountNormalHUF>"
        "</lineGrossAmountData></lineAmountsNormal></line>"
    )


def _line_rate(doc: Document) -> Decimal | None:
    """The rate a foreign-currency line's unitPriceHUF is taken at; None on a HUF document."""
    return None if doc.currency == "HUF" else doc.exchange_rate


def _vat_rate(doc: Document) -> str:
    """The content of lineVatRate / vatRate (the same for every line of one document)."""
    treatment = doc.vat_treatment
    if treatment.kind == "domestic":
        return f"<vatPercentage>{_plain(treatment.rate)}</vatPercentage>"
    if treatment.nav_case not in _DEFAULT_REASONS:
        raise InvoiceDataError(f"{doc.number}: vatOutOfScope case must be EUFAD37 or HO, not {treatment.nav_case!r}")
    reason = _clip(treatment.legal_text or _DEFAULT_REASONS[treatment.nav_case], _REASON_MAX)
    return f"<vatOutOfScope><case>{treatment.nav_case}</case><reason>{_x(reason)}</reason></vatOutOfScope>"


def _rate_key(doc: Document) -> tuple[str, str]:
    treatment = doc.vat_treatment
    if treatment.kind == "domestic":
        return ("percentage", _plain(treatment.rate))
    return ("out_of_scope", treatment.nav_case or "")


# --- summary ----------------------------------------------------------------------------------


def _summary(
    out: list[str], doc: Document, huf: list[tuple[Decimal, Decimal, Decimal]], vat_rate: str, money: _MoneyTexts
) -> None:
    # Every line of one document carries the document's VAT treatment, so lines group by one key;
    # the grouping is kept explicit so a mixed-rate document would still sum per rate.
    key = _rate_key(doc)
    groups: dict[tuple[str, str], list[int]] = {key: list(range(len(doc.lines)))}
    out.append("<invoiceSummary><summaryNormal>")
    for indexes in groups.values():
        # Summed in line order from zero, as sum(..., Decimal(0)) would (same value, same exponent).
        net = vat = gross = net_huf = vat_huf = gross_huf = Decimal(0)
        for i in indexes:
            line, line_huf = doc.lines[i], huf[i]
            net += line.net
            vat += line.vat
            gross += line.gross
            net_huf += line_huf[0]
            vat_huf += line_huf[1]
            gross_huf += line_huf[2]
        out.append(
            f"<summaryByVatRate><vatRate>{vat_rate}</vatRate><vatRateNetData><vatRateNetAmount>{money[net]}"
            f"</vatRateNetAmount><vatRateNetAmountHUF>{money[net_huf]}</vatRateNetAmountHUF></vatRateNetData>"
            f"<vatRateVatData><vatRateVatAmount>{money[vat]}</vatRateVatAmount><vatRateVatAmountHUF>"
            f"{money[vat_huf]}</vatRateVatAmountHUF></vatRateVatData><vatRateGrossData><vatRateGrossAmount>"
            f"{money[gross]}</vatRateGrossAmount><vatRateGrossAmountHUF>{money[gross_huf]}</vatRateGrossAmountHUF>"
            "</vatRateGrossData></summaryByVatRate>"
        )
    out.append(
        f"<invoiceNetAmount>{money[doc.net]}</invoiceNetAmount><invoiceNetAmountHUF>{money[doc.net_huf]}"
        f"</invoiceNetAmountHUF><invoiceVatAmount>{money[doc.vat]}</invoiceVatAmount><invoiceVatAmountHUF>"
        f"{money[doc.vat_huf]}</invoiceVatAmountHUF></summaryNormal><summaryGrossData><invoiceGrossAmount>"
        f"{money[doc.gross]}</invoiceGrossAmount><invoiceGrossAmountHUF>{money[doc.gross_huf]}"
        "</invoiceGrossAmountHUF></summaryGrossData></invoiceSummary>"
    )


# --- small helpers ----------------------------------------------------------------------------


def _tax_number(out: list[str], tag: str, tax_number: str) -> str:
    taxpayer_id, vat_code, county = split_tax_number(tax_number)
    # Digits only (the pattern above), so nothing to escape.
    out.append(
        f"<{tag}><base:taxpayerId>{taxpayer_id}</base:taxpayerId><base:vatCode>{vat_code}</base:vatCode>"
        f"<base:countyCode>{county}</base:countyCode></{tag}>"
    )
    return taxpayer_id


_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9\s\-]{1,8}[A-Z0-9]")
# The CRM may not know a buyer's address; the schema wants text, so the report says "unknown".
UNKNOWN = "ismeretlen"


def _address(out: list[str], tag: str, party: Party) -> None:
    # NAV's convention for "no postal code" is 0000; a code outside its pattern is reported so too.
    postal = (party.postal_code or "").strip().upper()
    out.append(
        f"<{tag}><base:simpleAddress><base:countryCode>{_x(party.country.upper())}</base:countryCode>"
        f"<base:postalCode>{_x(postal) if _POSTAL_CODE.fullmatch(postal) else '0000'}</base:postalCode>"
        f"<base:city>{_x(_one_line(party.city) or UNKNOWN)}</base:city>"
        f"<base:additionalAddressDetail>{_x(_one_line(party.street) or UNKNOWN)}</base:additionalAddressDetail>"
        f"</base:simpleAddress></{tag}>"
    )


def _money(amount: Decimal) -> str:
    """`_plain(_to_cent(amount))`, shortened: the quantized text always ends in two decimals."""
    text = format(amount.quantize(_CENT, rounding=ROUND_HALF_UP), "f")
    if text.endswith("00"):
        return text[:-3]
    return text[:-1] if text.endswith("0") else text


class _MoneyTexts(dict):
    """`_money` of each amount of one document, computed once: a one-line HUF invoice repeats its
    net, VAT and gross five times each (line, line HUF, summary by rate, totals, totals HUF).
    Keyed by value, which decides the text, except for zero: -0 prints "-0", so zero is not kept."""

    def __missing__(self, amount: Decimal) -> str:
        text = _money(amount)
        if amount:
            self[amount] = text
        return text


def _plain(number: Decimal) -> str:
    """Fixed-point text: xs:decimal has no exponent notation."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _one_line(text: str | None) -> str:
    """NAV's texts are one line (the schema's `.` never matches a line break): a name or address
    typed with line breaks or runs of spaces is reported on one line, single-spaced."""
    return " ".join((text or "").split())


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_HEAD = f"<?xml version='1.0' encoding='UTF-8'?>\n<InvoiceData xmlns=\"{DATA_NS}\" xmlns:base=\"{BASE_NS}\">"
# Characters XML 1.0 cannot carry at all: lxml refused them on assignment, and so do we.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Anything outside plain text (markup characters, CR, or characters XML cannot carry) takes the
# slow path; almost every value is plain.
_NOT_PLAIN = re.compile("[^\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPECIAL = re.compile("[&<>\r]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _x(text: str) -> str:
    """Text content escaped as libxml2 serialises it (&, <, > and CR; quotes stay literal)."""
    if _NOT_PLAIN.search(text) is None:
        return text
    if _NOT_XML.search(text):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], text)
