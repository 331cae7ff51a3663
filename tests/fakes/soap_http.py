"""The common part of the loopback SOAP stand-ins (tests/fakes/mnb_server.py, vies_server.py).

A real HTTP server on 127.0.0.1 (a ThreadingHTTPServer in a daemon thread) that speaks SOAP 1.1 the
way a WSDL describes it: the operations, their SOAPAction, their request and response elements and
the XML Schema of those elements are all read from the vendored WSDL files (schemas/wsdl/), never
restated here. Every request is checked against the WSDL (SOAPAction header, body element, XSD
validity) and every answer the stand-in builds is validated against the same schema, so a reply
the real service could not give never reaches the client. What the server got is kept in
`requests` (parsed) and whatever it found wrong in `problems` (tests assert it stays empty).

Outages: `down("http_500")` answers HTTP 500 with a non-SOAP HTML page (a proxy or IIS error page),
`down("fault")` answers a SOAP fault (HTTP 500, as SOAP 1.1 requires), `down("refused")` closes
the listening socket so a connection is refused; `up()` restores service on the same port.
`delay_seconds` makes every answer late by that much (a slow service, for timeouts).
Requests that arrive while down are recorded too (with `answered="down:<how>"`), except refused
ones, which never reach the server.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSAW = "http://www.w3.org/2006/05/addressing/wsdl"
XSD = "http://www.w3.org/2001/XMLSchema"
WSA10 = "http://www.w3.org/2005/08/addressing"

DOWN_MODES = ("http_500", "fault", "refused")


# --------------------------------------------------------------------------------------------
# The WSDL, read once per file set
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    name: str
    soap_action: str            # the HTTP SOAPAction the binding names ("" allowed)
    input_element: str          # Clark notation: {ns}local
    output_element: str
    input_action: str | None    # wsaw:Action of the input (WS-Addressing), if the WSDL has one
    output_action: str | None


@dataclass
class Wsdl:
    operations: dict[str, Operation]        # by operation name
    by_element: dict[str, Operation]        # by input element (Clark)
    schemas: dict[str, etree.XMLSchema]     # by target namespace
    address: str

    def validate(self, element: etree._Element) -> str | None:
        """None when `element` is valid in its namespace's schema, else the first error."""
        namespace = etree.QName(element).namespace
        schema = self.schemas.get(namespace or "")
        if schema is None:
            return f"no schema for namespace {namespace!r}"
        document = etree.ElementTree(copy.deepcopy(element))
        if schema.validate(document):
            return None
        return str(schema.error_log.last_error)


def _qname(element: etree._Element, value: str) -> str:
    """A prefixed QName attribute value in Clark notation, resolved where it is written."""
    prefix, _, local = value.rpartition(":")
    return f"{{{element.nsmap.get(prefix or None)}}}{local}"


def read_wsdl(entry: Path) -> Wsdl:
    documents: list[etree._ElementTree] = []
    pending, seen = [entry.resolve()], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = etree.parse(str(path))
        documents.append(tree)
        for imported in tree.getroot().iter(f"{{{WSDL}}}import"):
            pending.append((path.parent / imported.get("location")).resolve())

    messages: dict[str, str] = {}                     # message QName -> element QName
    port_ops: dict[str, tuple[str, str, str | None, str | None]] = {}
    soap_actions: dict[str, str] = {}
    schemas: dict[str, etree.XMLSchema] = {}
    address = ""
    for tree in documents:
        root = tree.getroot()
        target = root.get("targetNamespace")
        for message in root.iterchildren(f"{{{WSDL}}}message"):
            part = message.find(f"{{{WSDL}}}part")
            if part is not None and part.get("element"):
                messages[f"{{{target}}}{message.get('name')}"] = _qname(part, part.get("element"))
        for port_type in root.iterchildren(f"{{{WSDL}}}portType"):
            for op in port_type.iterchildren(f"{{{WSDL}}}operation"):
                given, answer = op.find(f"{{{WSDL}}}input"), op.find(f"{{{WSDL}}}output")
                port_ops[op.get("name")] = (
                    _qname(given, given.get("message")), _qname(answer, answer.get("message")),
                    given.get(f"{{{WSAW}}}Action"), answer.get(f"{{{WSAW}}}Action"))
        for binding in root.iterchildren(f"{{{WSDL}}}binding"):
            for op in binding.iterchildren(f"{{{WSDL}}}operation"):
                soap_op = op.find(f"{{{WSDL_SOAP}}}operation")
                soap_actions[op.get("name")] = soap_op.get("soapAction", "") if soap_op is not None else ""
        for soap_address in root.iter(f"{{{WSDL_SOAP}}}address"):
            address = soap_address.get("location")
        for types in root.iterchildren(f"{{{WSDL}}}types"):
            for schema_el in types.iterchildren(f"{{{XSD}}}schema"):
                if schema_el.get("targetNamespace") and len(schema_el.findall(f"{{{XSD}}}element")):
                    # an inline schema: serialised with the namespaces in scope where it is written
                    standalone = etree.fromstring(etree.tostring(schema_el))
                    schemas[schema_el.get("targetNamespace")] = etree.XMLSchema(standalone)
                for imported in schema_el.iterchildren(f"{{{XSD}}}import"):
                    location = imported.get("schemaLocation")
                    if location:
                        xsd_path = Path(tree.docinfo.URL).parent / location
                        schemas[imported.get("namespace")] = etree.XMLSchema(etree.parse(str(xsd_path)))

    operations = {}
    for name, (in_msg, out_msg, in_action, out_action) in port_ops.items():
        operations[name] = Operation(name, soap_actions.get(name, ""), messages[in_msg], messages[out_msg],
                                     in_action, out_action)
    return Wsdl(operations, {op.input_element: op for op in operations.values()}, schemas, address)


# --------------------------------------------------------------------------------------------
# Requests and faults
# --------------------------------------------------------------------------------------------
@dataclass
class SoapRequest:
    operation: str | None
    params: dict[str, str | None]       # child element local name -> text
    soap_action: str | None             # the HTTP header, quotes removed
    addressing: dict[str, str]          # WS-Addressing headers by local name (Action, To, MessageID)
    headers: dict[str, str]
    body: bytes
    path: str
    answered: str = ""                  # "ok", "fault:<code>", "down:<how>", "rejected:<why>"


class SoapFault(Exception):
    """Raised by an operation handler: answered as a SOAP 1.1 Fault with HTTP 500."""

    def __init__(self, faultstring: str, faultcode: str = "soap:Server", detail: str | None = None):
        super().__init__(faultstring)
        self.faultstring, self.faultcode, self.detail = faultstring, faultcode, detail


def envelope(body: str, header: str = "", prefix: str = "soap", extra_ns: str = "") -> bytes:
    head = f"<{prefix}:Header>{header}</{prefix}:Header>" if header else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><{prefix}:Envelope xmlns:{prefix}="{SOAP11}"{extra_ns}>'
            f"{head}<{prefix}:Body>{body}</{prefix}:Body></{prefix}:Envelope>").encode()


def _fault_xml(fault: SoapFault, prefix: str) -> str:
    code = fault.faultcode.replace("soap:", f"{prefix}:")
    detail = f"<detail>{fault.detail}</detail>" if fault.detail else ""
    return (f"<{prefix}:Fault><faultcode>{escape(code)}</faultcode>"
            f"<faultstring>{escape(fault.faultstring)}</faultstring>{detail}</{prefix}:Fault>")


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------
class LoopbackSoapServer:
    """Subclasses set `wsdl_path`, `path`, `envelope_prefix`, and implement `operation_reply(op, request,
    element) -> str` (the response element's XML) and `down_fault() -> SoapFault`."""

    wsdl_path: Path
    path = "/"
    envelope_prefix = "soap"
    _wsdl_cache: ClassVar[dict[Path, Wsdl]] = {}

    def __init__(self) -> None:
        if self.wsdl_path not in self._wsdl_cache:
            self._wsdl_cache[self.wsdl_path] = read_wsdl(self.wsdl_path)
        self.wsdl = self._wsdl_cache[self.wsdl_path]
        self.requests: list[SoapRequest] = []
        self.problems: list[str] = []
        self.mode = "up"
        self.delay_seconds = 0.0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LoopbackSoapServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint address to configure (MNB_URL, VIES_URL)."""
        assert self._port, "start() the server first"
        return f"http://127.0.0.1:{self._port}{self.path}"

    # -- switches --------------------------------------------------------------------------
    def down(self, how: str = "fault") -> None:
        if how not in DOWN_MODES:
            raise ValueError(f"down how? one of {DOWN_MODES}")
        with self._lock:
            self.mode = how
        if how == "refused":
            self.stop()  # nothing listens on the port any more: the client's connect is refused

    def up(self) -> None:
        with self._lock:
            refused = self.mode == "refused"
            self.mode = "up"
        if refused:
            self.start()  # same port (SO_REUSEADDR), so the configured URL works again

    # -- what was asked --------------------------------------------------------------------
    def calls(self, operation: str | None = None) -> list[SoapRequest]:
        with self._lock:
            return [r for r in self.requests if operation is None or r.operation == operation]

    # -- to implement ----------------------------------------------------------------------
    def operation_reply(self, op: Operation, request: SoapRequest, element: etree._Element) -> str:
        raise NotImplementedError

    def down_fault(self) -> SoapFault:
        return SoapFault("Service unavailable")

    def response_header(self, op: Operation, request: SoapRequest) -> tuple[str, str]:
        """(SOAP header XML, extra namespace declarations) of an answer; none by default."""
        return "", ""

    def check_request(self, op: Operation, request: SoapRequest) -> str | None:
        """A protocol problem the real service would refuse the request for, or None."""
        return None

    # -- HTTP -> SOAP ----------------------------------------------------------------------
    def handle_http(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        soap_action = headers.get("SOAPAction")
        if soap_action is not None:
            soap_action = soap_action.strip().strip('"')
        request = SoapRequest(None, {}, soap_action, {}, headers, body, path)
        with self._lock:
            self.requests.append(request)
            mode, delay = self.mode, self.delay_seconds
        if delay:
            time.sleep(delay)
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            return self._reject(request, f"not XML: {exc}", 400)
        body_el = root.find(f"{{{SOAP11}}}Body")
        if root.tag != f"{{{SOAP11}}}Envelope" or body_el is None or len(body_el) != 1:
            return self._reject(request, f"not a SOAP 1.1 envelope with one body element: {root.tag}", 400)
        element = body_el[0]
        header_el = root.find(f"{{{SOAP11}}}Header")
        if header_el is not None:
            for child in header_el:
                if etree.QName(child).namespace == WSA10:
                    request.addressing[etree.QName(child).localname] = (child.text or "").strip()
        op = self.wsdl.by_element.get(element.tag)
        request.operation = op.name if op else None
        request.params = {etree.QName(child).localname: child.text for child in element}
        if op is None:
            return self._reject(request, f"no operation takes {element.tag}", 500)
        if path.split("?")[0] != self.path:
            return self._reject(request, f"posted to {path}, the endpoint is {self.path}", 404)
        if not (headers.get("Content-Type") or "").startswith("text/xml"):
            return self._reject(request, f"SOAP 1.1 wants text/xml, got {headers.get('Content-Type')!r}", 415)
        if soap_action != op.soap_action:
            return self._reject(request, f"SOAPAction {soap_action!r}, the WSDL says {op.soap_action!r}", 500)
        invalid = self.wsdl.validate(element)
        if invalid:
            return self._reject(request, f"{op.name} request does not validate: {invalid}", 500)
        protocol = self.check_request(op, request)
        if protocol:
            return self._reject(request, protocol, 500)

        if mode == "http_500":
            request.answered = "down:http_500"
            return 500, "text/html; charset=utf-8", (
                b"<html><head><title>500 - Internal server error.</title></head>"
                b"<body><h1>Server Error</h1></body></html>")
        try:
            if mode == "fault":
                raise self.down_fault()
            answer_xml = self.operation_reply(op, request, element)
        except SoapFault as fault:
            request.answered = f"fault:{fault.faultstring}" if mode == "up" else "down:fault"
            return 500, "text/xml; charset=utf-8", envelope(_fault_xml(fault, self.envelope_prefix),
                                                             prefix=self.envelope_prefix)
        answer_el = etree.fromstring(answer_xml)
        invalid = self.wsdl.validate(answer_el)
        if answer_el.tag != op.output_element or invalid:
            self._problem(f"the stand-in built an answer the WSDL does not allow: {answer_el.tag} {invalid}")
        header, extra_ns = self.response_header(op, request)
        request.answered = "ok"
        return 200, "text/xml; charset=utf-8", envelope(answer_xml, header, self.envelope_prefix, extra_ns)

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def _reject(self, request: SoapRequest, why: str, status: int) -> tuple[int, str, bytes]:
        self._problem(why)
        request.answered = f"rejected:{why}"
        fault = SoapFault(why, "soap:Client")
        return status, "text/xml; charset=utf-8", envelope(_fault_xml(fault, self.envelope_prefix),
                                                           prefix=self.envelope_prefix)


def _handler_for(server: LoopbackSoapServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, content_type, reply = server.handle_http(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(reply)))
            # One request per connection: a switch to "refused" never leaves a live connection behind.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply)
            self.close_connection = True

        def do_GET(self) -> None:
            # The service reads its WSDL from disk (invoices/wsdl.py); a fetch here is a finding.
            server._problem(f"GET {self.path}: the client tried to fetch something over HTTP")
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

    return Handler
