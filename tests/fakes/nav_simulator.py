"""A loopback NAV Online Számla 3.0 server for tests (threading http.server, no internet).

It checks what the real service checks that we can get wrong: envelope schema, password hash,
request signature (with per-operation hashes), timestamp window, request-id reuse, single-use
encrypted exchange tokens, each invoice against invoiceData.xsd, supplier tax number, duplicate
invoice numbers and modification references. It can be told to misbehave with `fail_next`.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

from nav_reporting import crypto
from nav_reporting.schemas import SchemaViolation, validate

API = "http://schemas.nav.gov.hu/OSA/3.0/api"
COMMON = "http://schemas.nav.gov.hu/NTCA/1.0/common"
DATA = "http://schemas.nav.gov.hu/OSA/3.0/data"
BASE = "http://schemas.nav.gov.hu/OSA/3.0/base"
_NSMAP = {None: API, "common": COMMON}

# Failure modes for fail_next(operation, mode):
#   "lost_response": process the request, then close the connection without answering.
#   "timeout":       process the request, sleep `timeout_sleep_s`, close without answering.
#   "drop":          close without answering and without processing.
#   "500":           HTTP 500 OPERATION_FAILED (not processed).
#   "signature":     HTTP 400 INVALID_REQUEST_SIGNATURE (not processed).
#   "abort":         manageInvoice only: accept, but every invoice ends ABORTED (SCHEMA_VIOLATION).
FAILURE_MODES = frozenset({"lost_response", "timeout", "drop", "500", "signature", "abort"})


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message


@dataclass
class Item:
    index: int
    operation: str
    data: bytes
    number: str | None
    status: str = "RECEIVED"
    final_status: str = "DONE"
    technical: list[tuple[str, str, str]] = field(default_factory=list)  # (level, code, message)
    business: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Transaction:
    transaction_id: str
    request_id: str
    ins_date: datetime
    kind: str  # "invoice" | "annulment"
    items: list[Item]
    polls: int = 0


class NavSimulator:
    def __init__(
        self,
        *,
        login: str = "simlogin01",
        password: str = "sim-password",
        signature_key: str = "sim-signature-key-0123456789ABCD",
        exchange_key: str = "SIMEXCHANGEKEY16",
        tax_number: str = "12345678",
        polls_until_final: int = 0,
        timeout_sleep_s: float = 1.5,
    ):
        self.login, self.password, self.signature_key = login, password, signature_key
        self.exchange_key, self.tax_number = exchange_key, tax_number
        self.polls_until_final = polls_until_final  # status queries answered PROCESSING first
        self.timeout_sleep_s = timeout_sleep_s
        self.clock_offset = timedelta(0)
        self.transactions: dict[str, Transaction] = {}
        self.accepted: dict[str, str] = {}  # invoice number -> transaction id (DONE CREATE/MODIFY)
        self.modification_indexes: set[tuple[str, str]] = set()  # (base invoice, index) accepted
        self.requests: list[tuple[str, str]] = []  # (operation, requestId) of every parsed request
        self._used_request_ids: set[str] = set()
        self._tokens: dict[str, datetime] = {}
        self._failures: dict[str, deque[str]] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "NavSimulator":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (every test teardown) fast.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "NavSimulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/invoiceService/v3"

    def env(self) -> dict[str, str]:
        """The NAV_* variables a client needs to talk to this simulator."""
        return {"NAV_BASE_URL": self.base_url, "NAV_LOGIN": self.login, "NAV_PASSWORD": self.password,
                "NAV_SIGNATURE_KEY": self.signature_key, "NAV_EXCHANGE_KEY": self.exchange_key,
                "NAV_TAX_NUMBER": f"{self.tax_number}-2-42"}

    # --- test controls ------------------------------------------------------------------------

    def fail_next(self, operation: str, mode: str, count: int = 1) -> None:
        if mode not in FAILURE_MODES:
            raise ValueError(mode)
        with self._lock:
            self._failures.setdefault(operation, deque()).extend([mode] * count)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_offset

    def manage_invoice_count(self) -> int:
        return sum(1 for t in self.transactions.values() if t.kind == "invoice")

    def numbers_sent(self) -> list[str]:
        """Every invoice number received in a manageInvoice, in order (duplicates included)."""
        return [i.number for t in self.transactions.values() if t.kind == "invoice" for i in t.items]

    # --- request handling ---------------------------------------------------------------------

    def handle(self, operation: str, body: bytes) -> tuple[int, bytes] | str:
        """(status, xml) to answer, or "close" to drop the connection."""
        with self._lock:
            failure = self._take_failure(operation)
        if failure == "drop":
            return "close"
        try:
            root = self._parse(body)
            with self._lock:
                self.requests.append((operation, _c_text(root, "header", "requestId")))
            if failure == "500":
                raise _Refused(500, "OPERATION_FAILED", "simulated failure")
            if failure == "signature":
                raise _Refused(400, "INVALID_REQUEST_SIGNATURE", "simulated signature error")
            with self._lock:
                self._authenticate(operation, root)
                answer = self._dispatch(operation, root, abort=failure == "abort")
                self._used_request_ids.add(_c_text(root, "header", "requestId"))
        except _Refused as refused:
            return refused.status, self._error(refused, body)
        if failure == "timeout":
            time.sleep(self.timeout_sleep_s)
            return "close"
        if failure == "lost_response":
            return "close"
        return 200, answer

    def _take_failure(self, operation: str) -> str | None:
        queue = self._failures.get(operation)
        return queue.popleft() if queue else None

    def _parse(self, body: bytes) -> etree._Element:
        try:
            return validate(body, "invoiceApi.xsd")
        except SchemaViolation as exc:
            raise _Refused(400, "INVALID_REQUEST", str(exc)[:1000]) from exc

    def _authenticate(self, operation: str, root: etree._Element) -> None:
        if _c_text(root, "user", "login") != self.login:
            raise _Refused(401, "INVALID_SECURITY_USER", "unknown login")
        expected_hash = hashlib.sha512(self.password.encode()).hexdigest().upper()
        if _c_text(root, "user", "passwordHash") != expected_hash:
            raise _Refused(401, "INVALID_SECURITY_USER", "wrong password hash")
        if _c_text(root, "user", "taxNumber") != self.tax_number:
            raise _Refused(400, "INVALID_USER_RELATION", "user not bound to this taxpayer")
        request_id = _c_text(root, "header", "requestId")
        stamp = datetime.fromisoformat(_c_text(root, "header", "timestamp").replace("Z", "+00:00"))
        if abs(stamp - self.now()) > timedelta(days=1):
            raise _Refused(400, "INVALID_TIMESTAMP", "timestamp outside ±1 day")
        base = request_id + stamp.strftime("%Y%m%d%H%M%S") + self.signature_key
        if operation in ("manageInvoice", "manageAnnulment"):
            base += "".join(_sha3(op + data) for op, data in _operations(root))
        if _c_text(root, "user", "requestSignature") != _sha3(base):
            raise _Refused(400, "INVALID_REQUEST_SIGNATURE", "signature mismatch")
        if request_id in self._used_request_ids:
            raise _Refused(400, "REQUEST_ID_NOT_UNIQUE", "request id already used")

    def _dispatch(self, operation: str, root: etree._Element, abort: bool) -> bytes:
        if operation == "tokenExchange":
            return self._token_exchange(root)
        if operation in ("manageInvoice", "manageAnnulment"):
            return self._manage(operation, root, abort)
        if operation == "queryTransactionStatus":
            return self._transaction_status(root)
        if operation == "queryTransactionList":
            return self._transaction_list(root)
        if operation == "queryInvoiceData":
            return self._invoice_data(root)
        raise _Refused(404, "INVALID_REQUEST", f"operation {operation} not simulated")

    # --- operations ---------------------------------------------------------------------------

    def _token_exchange(self, root: etree._Element) -> bytes:
        token = secrets.token_hex(16) + secrets.token_hex(8).upper()  # 48 ASCII characters
        now = self.now()
        self._tokens[token] = now + timedelta(minutes=5)
        resp = self._response("TokenExchangeResponse", root)
        _sub(resp, "encodedExchangeToken", crypto.encrypt_exchange_token(token, self.exchange_key))
        _sub(resp, "tokenValidityFrom", _stamp(now))
        _sub(resp, "tokenValidityTo", _stamp(now + timedelta(minutes=5)))
        return _bytes(resp)

    def _manage(self, operation: str, root: etree._Element, abort: bool) -> bytes:
        token = root.findtext(f"{{{API}}}exchangeToken")
        expiry = self._tokens.pop(token, None)  # single use, whatever happens next
        if expiry is None or expiry < self.now():
            raise _Refused(400, "INVALID_EXCHANGE_TOKEN", "unknown, used or expired exchange token")
        ops = _operations(root)
        indexes = [int(e.text) for e in root.iter(f"{{{API}}}index")]
        if indexes != list(range(1, len(ops) + 1)):
            raise _Refused(400, "INDEX_NOT_SEQUENTIAL", "indexes must be 1..n")
        transaction_id = secrets.token_hex(8).upper()
        kind = "invoice" if operation == "manageInvoice" else "annulment"
        items = [self._judge(i, op, base64.b64decode(data), kind, abort) for i, (op, data) in enumerate(ops, 1)]
        self.transactions[transaction_id] = Transaction(
            transaction_id, _c_text(root, "header", "requestId"), self.now(), kind, items)
        resp = self._response(f"{operation[0].upper()}{operation[1:]}Response", root)
        _sub(resp, "transactionId", transaction_id)
        return _bytes(resp)

    def _judge(self, index: int, op: str, data: bytes, kind: str, abort: bool) -> Item:
        if kind == "annulment":
            return Item(index, op, data, None)
        item = Item(index, op, data, None)
        try:
            invoice = validate(data, "invoiceData.xsd")
        except SchemaViolation as exc:
            item.final_status = "ABORTED"
            item.technical.append(("ERROR", "SCHEMA_VIOLATION", str(exc)[:1000]))
            return item
        item.number = invoice.findtext(f"{{{DATA}}}invoiceNumber")
        supplier = invoice.findtext(f".//{{{DATA}}}supplierTaxNumber/{{{BASE}}}taxpayerId")
        reference = invoice.findtext(f".//{{{DATA}}}invoiceReference/{{{DATA}}}originalInvoiceNumber")
        index = invoice.findtext(f".//{{{DATA}}}invoiceReference/{{{DATA}}}modificationIndex")
        if abort:
            item.final_status = "ABORTED"
            item.technical.append(("ERROR", "SCHEMA_VIOLATION", "simulated validation failure"))
        elif item.number in self.accepted:
            item.final_status = "ABORTED"
            item.business.append(("ERROR", "INVOICE_NUMBER_NOT_UNIQUE", f"{item.number} already reported"))
        elif supplier != self.tax_number:
            item.final_status = "ABORTED"
            item.business.append(("ERROR", "SUPPLIER_TAX_NUMBER_MISMATCH", "supplier is not the user's taxpayer"))
        elif op in ("MODIFY", "STORNO") and reference not in self.accepted:
            item.final_status = "ABORTED"
            item.business.append(("ERROR", "INVALID_INVOICE_REFERENCE", f"{reference} is not reported"))
        elif op in ("MODIFY", "STORNO") and (reference, index) in self.modification_indexes:
            item.final_status = "ABORTED"
            item.business.append(("ERROR", "MODIFICATION_INDEX_NOT_UNIQUE", f"{reference} already has modification {index}"))
        else:
            if op in ("MODIFY", "STORNO"):
                self.modification_indexes.add((reference, index))
            # Accepted at once: a second copy in a later request must meet INVOICE_NUMBER_NOT_UNIQUE.
            self.accepted[item.number] = "pending"
        return item

    def _transaction_status(self, root: etree._Element) -> bytes:
        transaction = self.transactions.get(root.findtext(f"{{{API}}}transactionId"))
        original = root.findtext(f"{{{API}}}returnOriginalRequest") == "true"
        resp = self._response("QueryTransactionStatusResponse", root)
        if transaction is None:  # NAV answers a foreign or unknown id with a bare OK
            return _bytes(resp)
        transaction.polls += 1
        if transaction.polls > self.polls_until_final:
            for item in transaction.items:
                item.status = item.final_status
        else:
            for item in transaction.items:
                item.status = "PROCESSING"
        results = _sub(resp, "processingResults")
        for item in transaction.items:
            self._result(results, item, original)
        _sub(results, "originalRequestVersion", "3.0")
        return _bytes(resp)

    def _result(self, results: etree._Element, item: Item, original: bool) -> None:
        el = _sub(results, "processingResult")
        _sub(el, "index", str(item.index))
        _sub(el, "invoiceStatus", item.status)
        if item.status in ("DONE", "ABORTED"):
            for level, code, message in item.technical:
                tech = _sub(el, "technicalValidationMessages")
                for tag, text in (("validationResultCode", level), ("validationErrorCode", code), ("message", message)):
                    etree.SubElement(tech, f"{{{COMMON}}}{tag}").text = text
            for level, code, message in item.business:
                biz = _sub(el, "businessValidationMessages")
                _sub(biz, "validationResultCode", level)
                _sub(biz, "validationErrorCode", code)
                _sub(biz, "message", message)
        _sub(el, "compressedContentIndicator", "false")
        if original:
            _sub(el, "originalRequest", base64.b64encode(item.data).decode())

    def _transaction_list(self, root: etree._Element) -> bytes:
        start = _parse_stamp(root.findtext(f"{{{API}}}insDate/{{{API}}}dateTimeFrom"))
        end = _parse_stamp(root.findtext(f"{{{API}}}insDate/{{{API}}}dateTimeTo"))
        if end < start or end - start > timedelta(days=35):
            raise _Refused(400, "BAD_QUERY_PARAM_DATE_INTERVAL", "insDate window must be 0..35 days")
        page = int(root.findtext(f"{{{API}}}page"))
        found = [t for t in self.transactions.values() if start <= t.ins_date <= end]
        per_page = 2  # small on purpose, so clients must page
        pages = max(1, -(-len(found) // per_page))
        resp = self._response("QueryTransactionListResponse", root)
        result = _sub(resp, "transactionListResult")
        _sub(result, "currentPage", str(page))
        _sub(result, "availablePage", str(pages))
        for t in found[(page - 1) * per_page: page * per_page]:
            el = _sub(result, "transaction")
            _sub(el, "insDate", _stamp(t.ins_date))
            _sub(el, "insCusUser", self.login)
            _sub(el, "source", "MGM")
            _sub(el, "transactionId", t.transaction_id)
            final = all(i.status in ("DONE", "ABORTED") for i in t.items)
            _sub(el, "requestStatus", "FINISHED" if final else "RECEIVED")
            _sub(el, "technicalAnnulment", str(t.kind == "annulment").lower())
            _sub(el, "originalRequestVersion", "3.0")
            _sub(el, "itemCount", str(len(t.items)))
        return _bytes(resp)

    def _invoice_data(self, root: etree._Element) -> bytes:
        number = root.findtext(f"{{{API}}}invoiceNumberQuery/{{{API}}}invoiceNumber")
        resp = self._response("QueryInvoiceDataResponse", root)
        for t in self.transactions.values():
            for item in t.items:
                if item.number == number and item.final_status == "DONE":
                    result = _sub(resp, "invoiceDataResult")
                    _sub(result, "invoiceData", base64.b64encode(item.data).decode())
                    audit = _sub(result, "auditData")
                    _sub(audit, "insdate", _stamp(t.ins_date))
                    _sub(audit, "insCusUser", self.login)
                    _sub(audit, "source", "MGM")
                    _sub(audit, "transactionId", t.transaction_id)
                    _sub(audit, "index", str(item.index))
                    _sub(audit, "originalRequestVersion", "3.0")
                    _sub(result, "compressedContentIndicator", "false")
                    return _bytes(resp)
        return _bytes(resp)

    # --- response building --------------------------------------------------------------------

    def _response(self, name: str, request: etree._Element) -> etree._Element:
        resp = etree.Element(f"{{{API}}}{name}", nsmap=_NSMAP)
        self._header(resp, _c_text(request, "header", "requestId"))
        result = etree.SubElement(resp, f"{{{COMMON}}}result")
        etree.SubElement(result, f"{{{COMMON}}}funcCode").text = "OK"
        resp.append(_software())
        return resp

    def _header(self, resp: etree._Element, request_id: str | None) -> None:
        header = etree.SubElement(resp, f"{{{COMMON}}}header")
        etree.SubElement(header, f"{{{COMMON}}}requestId").text = request_id or "UNKNOWN"
        etree.SubElement(header, f"{{{COMMON}}}timestamp").text = _stamp(self.now())
        etree.SubElement(header, f"{{{COMMON}}}requestVersion").text = "3.0"
        etree.SubElement(header, f"{{{COMMON}}}headerVersion").text = "1.0"

    def _error(self, refused: _Refused, body: bytes) -> bytes:
        try:
            request_id = _c_text(etree.fromstring(body), "header", "requestId")
        except etree.XMLSyntaxError:
            request_id = None
        resp = etree.Element(f"{{{API}}}GeneralErrorResponse", nsmap=_NSMAP)
        self._header(resp, request_id if request_id and len(request_id) <= 30 else None)
        result = etree.SubElement(resp, f"{{{COMMON}}}result")
        etree.SubElement(result, f"{{{COMMON}}}funcCode").text = "ERROR"
        etree.SubElement(result, f"{{{COMMON}}}errorCode").text = refused.code
        etree.SubElement(result, f"{{{COMMON}}}message").text = refused.message
        resp.append(_software())
        return _bytes(resp)


def _handler(sim: NavSimulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            operation = self.path.rstrip("/").rsplit("/", 1)[-1]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            answer = sim.handle(operation, body)
            if answer == "close":
                self.close_connection = True
                return
            status, payload = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return Handler


def _operations(root: etree._Element) -> list[tuple[str, str]]:
    pairs = []
    for container in ("invoiceOperation", "annulmentOperation"):
        for op in root.iter(f"{{{API}}}{container}"):
            if len(op):
                payload = op.findtext(f"{{{API}}}invoiceData") or op.findtext(f"{{{API}}}invoiceAnnulment")
                pairs.append((op.findtext(f"{{{API}}}{container}"), payload))
    return pairs


def _software() -> etree._Element:
    sw = etree.Element(f"{{{API}}}software")
    for tag, text in (("softwareId", "HU00000000-NAVSIM1"), ("softwareName", "nav-simulator"),
                      ("softwareOperation", "ONLINE_SERVICE"), ("softwareMainVersion", "1"),
                      ("softwareDevName", "tests"), ("softwareDevContact", "tests@example.hu")):
        _sub(sw, tag, text)
    return sw


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{API}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _c_text(root: etree._Element, block: str, tag: str) -> str | None:
    return root.findtext(f"{{{COMMON}}}{block}/{{{COMMON}}}{tag}")


def _sha3(text: str) -> str:
    return hashlib.sha3_512(text.encode()).hexdigest().upper()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
