"""Request envelopes and response records of the invoiceApi 3.0 operations (pure, no I/O).

Builders take the request id and timestamp as arguments so a caller can record them before the
request leaves; parsers turn validated response XML into frozen records.
"""
from __future__ import annotations

import base64
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from nav_reporting import crypto
from nav_reporting.config import NavConfig

API_NS = "http://schemas.nav.gov.hu/OSA/3.0/api"
COMMON_NS = "http://schemas.nav.gov.hu/NTCA/1.0/common"
ANNUL_NS = "http://schemas.nav.gov.hu/OSA/3.0/annul"
_NSMAP = {None: API_NS, "common": COMMON_NS}


@dataclass(frozen=True, slots=True)
class InvoiceOperation:
    operation: str  # CREATE | MODIFY | STORNO
    invoice_data: bytes  # the InvoiceData XML, not yet base64


@dataclass(frozen=True, slots=True)
class ValidationMessage:
    kind: str  # "technical" | "business"
    level: str  # ERROR | WARN | INFO | CRITICAL
    code: str | None
    message: str | None
    tag: str | None = None
    value: str | None = None
    line: int | None = None

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class ProcessingResult:
    index: int
    status: str  # RECEIVED | PROCESSING | SAVED | DONE | ABORTED
    messages: tuple[ValidationMessage, ...]
    original_request: bytes | None  # the InvoiceData as NAV received it (ungzipped)


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    transaction_id: str
    ins_date: datetime
    request_status: str
    item_count: int
    technical_annulment: bool


@dataclass(frozen=True, slots=True)
class TransactionPage:
    current_page: int
    available_page: int
    transactions: tuple[TransactionSummary, ...]


# --- requests ---------------------------------------------------------------------------------


def _a(tag: str) -> str:
    return f"{{{API_NS}}}{tag}"


def _c(tag: str) -> str:
    return f"{{{COMMON_NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def envelope(
    operation: str, config: NavConfig, request_id: str, timestamp: datetime, signature: str | None = None
) -> etree._Element:
    """`<{operation}Request>` with header, user and software; the caller appends the body.

    `signature` overrides the plain signature (manage* operations sign their payloads too)."""
    root = etree.Element(_a(f"{operation[0].upper()}{operation[1:]}Request"), nsmap=_NSMAP)
    header = _sub(root, _c("header"))
    _sub(header, _c("requestId"), request_id)
    _sub(header, _c("timestamp"), crypto.header_timestamp(timestamp))
    _sub(header, _c("requestVersion"), "3.0")
    _sub(header, _c("headerVersion"), "1.0")
    user = _sub(root, _c("user"))
    _sub(user, _c("login"), config.login)
    _sub(user, _c("passwordHash"), crypto.password_hash(config.password)).set("cryptoType", "SHA-512")
    _sub(user, _c("taxNumber"), config.taxpayer_id)
    sig = signature or crypto.request_signature(request_id, timestamp, config.signature_key)
    _sub(user, _c("requestSignature"), sig).set("cryptoType", "SHA3-512")
    sw, software = config.software, _sub(root, _a("software"))
    _sub(software, _a("softwareId"), sw.software_id)
    _sub(software, _a("softwareName"), sw.name)
    _sub(software, _a("softwareOperation"), sw.operation)
    _sub(software, _a("softwareMainVersion"), sw.main_version)
    _sub(software, _a("softwareDevName"), sw.dev_name)
    _sub(software, _a("softwareDevContact"), sw.dev_contact)
    if sw.dev_country_code:
        _sub(software, _a("softwareDevCountryCode"), sw.dev_country_code)
    if sw.dev_tax_number:
        _sub(software, _a("softwareDevTaxNumber"), sw.dev_tax_number)
    return root


def manage_invoice_request(
    config: NavConfig, request_id: str, timestamp: datetime, token: str, operations: Sequence[InvoiceOperation]
) -> etree._Element:
    if not 1 <= len(operations) <= 100:
        raise ValueError("manageInvoice carries 1 to 100 operations")
    payloads = [(op.operation, base64.b64encode(op.invoice_data).decode("ascii")) for op in operations]
    signature = crypto.manage_signature(request_id, timestamp, config.signature_key, payloads)
    root = envelope("manageInvoice", config, request_id, timestamp, signature)
    _sub(root, _a("exchangeToken"), token)
    ops = _sub(root, _a("invoiceOperations"))
    _sub(ops, _a("compressedContent"), "false")
    for index, (operation, payload) in enumerate(payloads, start=1):
        op = _sub(ops, _a("invoiceOperation"))
        _sub(op, _a("index"), str(index))
        _sub(op, _a("invoiceOperation"), operation)
        _sub(op, _a("invoiceData"), payload)
    return root


def invoice_annulment(number: str, code: str, reason: str, timestamp: datetime) -> bytes:
    root = etree.Element(f"{{{ANNUL_NS}}}InvoiceAnnulment", nsmap={None: ANNUL_NS})
    for tag, text in (("annulmentReference", number), ("annulmentTimestamp", crypto.header_timestamp(timestamp)),
                      ("annulmentCode", code), ("annulmentReason", reason)):
        _sub(root, f"{{{ANNUL_NS}}}{tag}", text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def manage_annulment_request(
    config: NavConfig, request_id: str, timestamp: datetime, token: str, annulments: Sequence[bytes]
) -> etree._Element:
    if not 1 <= len(annulments) <= 100:
        raise ValueError("manageAnnulment carries 1 to 100 operations")
    payloads = [("ANNUL", base64.b64encode(a).decode("ascii")) for a in annulments]
    signature = crypto.manage_signature(request_id, timestamp, config.signature_key, payloads)
    root = envelope("manageAnnulment", config, request_id, timestamp, signature)
    _sub(root, _a("exchangeToken"), token)
    ops = _sub(root, _a("annulmentOperations"))
    for index, (operation, payload) in enumerate(payloads, start=1):
        op = _sub(ops, _a("annulmentOperation"))
        _sub(op, _a("index"), str(index))
        _sub(op, _a("annulmentOperation"), operation)
        _sub(op, _a("invoiceAnnulment"), payload)
    return root


def query_transaction_status_request(
    config: NavConfig, request_id: str, timestamp: datetime, transaction_id: str, return_original: bool
) -> etree._Element:
    root = envelope("queryTransactionStatus", config, request_id, timestamp)
    _sub(root, _a("transactionId"), transaction_id)
    if return_original:
        _sub(root, _a("returnOriginalRequest"), "true")
    return root


def query_transaction_list_request(
    config: NavConfig, request_id: str, timestamp: datetime, date_from: datetime, date_to: datetime, page: int
) -> etree._Element:
    root = envelope("queryTransactionList", config, request_id, timestamp)
    _sub(root, _a("page"), str(page))
    window = _sub(root, _a("insDate"))
    _sub(window, _a("dateTimeFrom"), crypto.header_timestamp(date_from))
    _sub(window, _a("dateTimeTo"), crypto.header_timestamp(date_to))
    return root


def query_invoice_data_request(
    config: NavConfig, request_id: str, timestamp: datetime, number: str, direction: str
) -> etree._Element:
    root = envelope("queryInvoiceData", config, request_id, timestamp)
    query = _sub(root, _a("invoiceNumberQuery"))
    _sub(query, _a("invoiceNumber"), number)
    _sub(query, _a("invoiceDirection"), direction)
    return root


# --- responses --------------------------------------------------------------------------------


def result_of(root: etree._Element) -> tuple[str, str | None, str | None]:
    """(funcCode, errorCode, message) of any response, including GeneralExceptionResponse."""
    result = root if root.tag == _c("GeneralExceptionResponse") else root.find(_c("result"))
    if result is None:
        return "ERROR", None, "response without a result block"
    return result.findtext(_c("funcCode")) or "ERROR", result.findtext(_c("errorCode")), result.findtext(_c("message"))


def parse_token(root: etree._Element, exchange_key: str) -> str:
    return crypto.decrypt_exchange_token(root.findtext(_a("encodedExchangeToken")).strip(), exchange_key)


def parse_processing_results(root: etree._Element) -> tuple[ProcessingResult, ...]:
    results = []
    for item in root.iterfind(f"{_a('processingResults')}/{_a('processingResult')}"):
        messages = [
            ValidationMessage("technical", m.findtext(_c("validationResultCode")), m.findtext(_c("validationErrorCode")),
                              m.findtext(_c("message")))
            for m in item.iterfind(_a("technicalValidationMessages"))
        ] + [_business_message(m) for m in item.iterfind(_a("businessValidationMessages"))]
        original = item.findtext(_a("originalRequest"))
        data = base64.b64decode(original) if original else None
        if data is not None and item.findtext(_a("compressedContentIndicator")) == "true":
            data = gzip.decompress(data)
        results.append(ProcessingResult(int(item.findtext(_a("index"))), item.findtext(_a("invoiceStatus")),
                                        tuple(messages), data))
    return tuple(results)


def _business_message(m: etree._Element) -> ValidationMessage:
    line = m.findtext(f"{_a('pointer')}/{_a('line')}")
    return ValidationMessage(
        "business", m.findtext(_a("validationResultCode")), m.findtext(_a("validationErrorCode")),
        m.findtext(_a("message")), m.findtext(f"{_a('pointer')}/{_a('tag')}"),
        m.findtext(f"{_a('pointer')}/{_a('value')}"), int(line) if line else None,
    )


def parse_transaction_page(root: etree._Element) -> TransactionPage:
    result = root.find(_a("transactionListResult"))
    transactions = tuple(
        TransactionSummary(
            transaction_id=t.findtext(_a("transactionId")),
            ins_date=datetime.fromisoformat(t.findtext(_a("insDate")).replace("Z", "+00:00")),
            request_status=t.findtext(_a("requestStatus")),
            item_count=int(t.findtext(_a("itemCount"))),
            technical_annulment=t.findtext(_a("technicalAnnulment")) == "true",
        )
        for t in result.iterfind(_a("transaction"))
    )
    return TransactionPage(int(result.findtext(_a("currentPage"))), int(result.findtext(_a("availablePage"))),
                           transactions)


def parse_invoice_data(root: etree._Element) -> bytes | None:
    result = root.find(_a("invoiceDataResult"))
    if result is None:
        return None
    data = base64.b64decode(result.findtext(_a("invoiceData")))
    return gzip.decompress(data) if result.findtext(_a("compressedContentIndicator")) == "true" else data
