"""The NAV Online Számla 3.0 HTTP adapter: one method per operation, errors per FACTS §5.

Every request envelope is checked against invoiceApi.xsd before it leaves (a schema error is our
bug and must not cost a NAV round trip) and every response is checked before it is believed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import httpx
from lxml import etree

from nav_reporting import crypto, envelopes
from nav_reporting.config import TEST_BASE_URL, NavConfig, Software  # re-exported for callers
from nav_reporting.envelopes import InvoiceOperation, ProcessingResult, TransactionPage
from nav_reporting.errors import NavConfigError, NavError, NavRequestError, NavTechnicalError, classify
from nav_reporting.schemas import SchemaViolation, validate

__all__ = [
    "NavClient", "NavConfig", "Software", "TEST_BASE_URL", "InvoiceOperation", "ProcessingResult",
    "TransactionPage", "is_valid_envelope", "NavError", "NavTechnicalError", "NavConfigError", "NavRequestError",
]

_API_XSD = "invoiceApi.xsd"
_ANNUL_XSD = "invoiceAnnulment.xsd"
_HEADERS = {"Content-Type": "application/xml", "Accept": "application/xml"}


class NavClient:
    def __init__(
        self,
        config: NavConfig,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = crypto.utc_now,
    ):
        if not config.configured:
            raise NavConfigError("NAV credentials are missing (NAV_LOGIN, NAV_PASSWORD, NAV_SIGNATURE_KEY, "
                                 "NAV_EXCHANGE_KEY, NAV_TAX_NUMBER)")
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s)
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    # --- operations ---------------------------------------------------------------------------

    def token_exchange(self) -> str:
        """A fresh one-time exchange token, already decrypted."""
        request_id, now = crypto.new_request_id(), self._clock()
        root = self._call("tokenExchange", envelopes.envelope("tokenExchange", self.config, request_id, now))
        return envelopes.parse_token(root, self.config.exchange_key)

    def manage_invoice(self, operations: Sequence[InvoiceOperation], *, request_id: str | None = None) -> str:
        """Sends up to 100 invoices; returns NAV's transactionId. Pass `request_id` when the caller
        has recorded it beforehand, so a lost response can be traced (FACTS §5)."""
        token = self.token_exchange()
        request_id, now = request_id or crypto.new_request_id(), self._clock()
        body = envelopes.manage_invoice_request(self.config, request_id, now, token, operations)
        root = self._call("manageInvoice", body, may_create=True)
        return _text(root, "transactionId")

    def manage_annulment(self, annulments: Sequence[tuple[str, str, str]], *, request_id: str | None = None) -> str:
        """Technical annulment of reported invoices: (invoice number, annulmentCode, reason) each."""
        now = self._clock()
        payloads = [envelopes.invoice_annulment(number, code, reason, now) for number, code, reason in annulments]
        for payload in payloads:
            _check(payload, _ANNUL_XSD)
        token = self.token_exchange()
        request_id, now = request_id or crypto.new_request_id(), self._clock()
        body = envelopes.manage_annulment_request(self.config, request_id, now, token, payloads)
        return _text(self._call("manageAnnulment", body, may_create=True), "transactionId")

    def query_transaction_status(
        self, transaction_id: str, *, return_original_request: bool = False
    ) -> tuple[ProcessingResult, ...]:
        """Per-index results; empty for an unknown or foreign transaction id (NAV answers bare OK)."""
        request_id, now = crypto.new_request_id(), self._clock()
        body = envelopes.query_transaction_status_request(
            self.config, request_id, now, transaction_id, return_original_request)
        return envelopes.parse_processing_results(self._call("queryTransactionStatus", body))

    def query_transaction_list(self, date_from: datetime, date_to: datetime, *, page: int = 1) -> TransactionPage:
        """Our transactions inserted in [date_from, date_to] (≤ 35 days), one page."""
        request_id, now = crypto.new_request_id(), self._clock()
        body = envelopes.query_transaction_list_request(self.config, request_id, now, date_from, date_to, page)
        return envelopes.parse_transaction_page(self._call("queryTransactionList", body))

    def query_invoice_data(self, invoice_number: str, *, direction: str = "OUTBOUND") -> bytes | None:
        """The InvoiceData NAV holds for a number, or None if it has none."""
        request_id, now = crypto.new_request_id(), self._clock()
        body = envelopes.query_invoice_data_request(self.config, request_id, now, invoice_number, direction)
        return envelopes.parse_invoice_data(self._call("queryInvoiceData", body))

    # --- transport ----------------------------------------------------------------------------

    def _call(self, operation: str, body: etree._Element, *, may_create: bool = False) -> etree._Element:
        """POST, validate, map errors. `may_create`: the call can create a NAV transaction, so a
        missing or unreadable answer is reported as maybe_delivered."""
        _check(body, _API_XSD)
        payload = etree.tostring(body, xml_declaration=True, encoding="UTF-8")
        url = f"{self.config.base_url}/{operation}"
        try:
            response = self._http.post(url, content=payload, headers=_HEADERS)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # The request never reached the server: safe to send again.
            raise NavTechnicalError(f"{operation}: cannot connect: {exc}") from exc
        except httpx.HTTPError as exc:
            raise NavTechnicalError(f"{operation}: no response: {exc}", maybe_delivered=may_create) from exc
        return self._read(operation, response, may_create)

    def _read(self, operation: str, response: httpx.Response, may_create: bool) -> etree._Element:
        try:
            root = validate(response.content, _API_XSD)
        except SchemaViolation as exc:
            if response.status_code >= 500 or response.status_code == 200:
                raise NavTechnicalError(f"{operation}: unreadable response (HTTP {response.status_code}): {exc}",
                                        http_status=response.status_code, maybe_delivered=may_create) from exc
            raise classify(None, f"{operation}: HTTP {response.status_code}", response.status_code) from exc
        func_code, error_code, message = envelopes.result_of(root)
        if func_code == "OK" and response.status_code == 200:
            return root
        raise classify(error_code, f"{operation}: {message or 'error'}", response.status_code)


def _check(xml: etree._Element | bytes, schema: str) -> None:
    try:
        validate(xml, schema)
    except SchemaViolation as exc:
        raise NavRequestError(f"we built an invalid request: {exc}") from exc


def _text(root: etree._Element, tag: str) -> str:
    return root.findtext(f"{{{envelopes.API_NS}}}{tag}")


def is_valid_envelope(xml: bytes) -> bool:
    """True when the bytes are a schema-valid invoiceApi document (used by tests and the simulator)."""
    try:
        validate(xml, _API_XSD)
        return True
    except SchemaViolation:
        return False

