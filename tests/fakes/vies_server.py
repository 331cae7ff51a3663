"""A loopback stand-in for the EU's VIES checkVatService
(https://ec.europa.eu/taxation_customs/vies/services/checkVatService).

It answers `checkVat` and `checkVatApprox` of schemas/wsdl/vies/checkVatService.wsdl (operations,
elements and XSD read from the WSDL) the way VIES does: SOAP 1.1 with the `env:` prefix, the
requestDate as an xsd:date with the Brussels offset (`2026-03-02+01:00`), "---" for the name and
address a member state does not share, faults as a bare faultstring code (INVALID_INPUT,
MS_UNAVAILABLE, ...) with HTTP 500. Only checkVatApprox carries a `requestIdentifier` (the
consultation number), and only when the requester's own VAT number is given; without one VIES
returns it empty.

    with FakeVies() as vies:
        vies.answer("DE136695976", valid=True)
        monkeypatch.setenv("VIES_URL", vies.url)
        ...
        [call] = vies.calls("checkVat")
        assert call.params == {"countryCode": "DE", "vatNumber": "136695976"}

Numbers not set with `answer` are `default_valid`. Down: `down("http_500" | "fault" | "refused")`
(the fault's code is `down_code`, MS_UNAVAILABLE by default), `up()`.
"""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from invoices.wsdl import VIES_WSDL
from tests.fakes.soap_http import LoopbackSoapServer, Operation, SoapFault, SoapRequest

TYPES = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"
# VIES country codes: Greece is EL, Northern Ireland XI
MEMBER_STATES = frozenset([
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"])
_VAT_NUMBER = re.compile(r"[0-9A-Za-z+*.]{2,12}")  # the pattern the WSDL's documentation gives
_BRUSSELS = ZoneInfo("Europe/Brussels")


class FakeVies(LoopbackSoapServer):
    wsdl_path = VIES_WSDL
    path = "/taxation_customs/vies/services/checkVatService"
    envelope_prefix = "env"

    def __init__(self) -> None:
        super().__init__()
        self.default_valid = True
        self.down_code = "MS_UNAVAILABLE"
        self.request_date: date | None = None  # None: today in Brussels, as VIES answers
        self.answers: dict[str, tuple[bool, str, str]] = {}  # "DE136695976" -> (valid, name, address)
        self.identifiers: list[str] = []  # consultation numbers handed out, in order
        self._serial = itertools.count(1)

    # -- switches --------------------------------------------------------------------------
    def answer(self, vat_number: str, *, valid: bool, name: str = "---", address: str = "---") -> None:
        key = re.sub(r"[^0-9A-Za-z+*.]", "", vat_number).upper()
        with self._lock:
            self.answers[key] = (valid, name, address)

    def verdict(self, country: str, number: str) -> tuple[bool, str, str]:
        with self._lock:
            return self.answers.get(f"{country}{number}".upper(), (self.default_valid, "---", "---"))

    def down_fault(self) -> SoapFault:
        return SoapFault(self.down_code, "soap:Server")

    # -- the protocol ----------------------------------------------------------------------
    def answer_xml(self, local: str, fields: list[tuple[str, str]]) -> str:
        inner = "".join(f"<ns2:{name}>{escape(value)}</ns2:{name}>" for name, value in fields)
        return f'<ns2:{local} xmlns:ns2="{TYPES}">{inner}</ns2:{local}>'

    def operation_reply(self, op: Operation, request: SoapRequest, element) -> str:
        params = request.params
        country = (params.get("countryCode") or "").strip()
        number = (params.get("vatNumber") or "").strip()
        if country not in MEMBER_STATES or not _VAT_NUMBER.fullmatch(number):
            raise SoapFault("INVALID_INPUT", "soap:Server")
        valid, name, address = self.verdict(country, number)
        if not valid:
            name, address = "---", "---"
        day = self.request_date or datetime.now(_BRUSSELS).date()
        offset = datetime(day.year, day.month, day.day, 12, tzinfo=_BRUSSELS).strftime("%z")
        request_date = f"{day.isoformat()}{offset[:3]}:{offset[3:]}"
        head = [("countryCode", country), ("vatNumber", number), ("requestDate", request_date),
                ("valid", "true" if valid else "false")]
        if op.name == "checkVat":
            return self.answer_xml("checkVatResponse", head + [("name", name), ("address", address)])
        # checkVatApprox: the consultation number is given only to a requester who names itself
        requester = (params.get("requesterCountryCode") or "", params.get("requesterVatNumber") or "")
        identifier = ""
        if all(requester):
            if requester[0] not in MEMBER_STATES or not _VAT_NUMBER.fullmatch(requester[1]):
                raise SoapFault("INVALID_REQUESTER_INFO", "soap:Server")
            identifier = f"WAPIAAAAZ{next(self._serial):07d}"
            with self._lock:
                self.identifiers.append(identifier)
        return self.answer_xml("checkVatApproxResponse", head + [
            ("traderName", name), ("traderAddress", address), ("requestIdentifier", identifier)])
