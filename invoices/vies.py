"""VIES adapter: is this EU VAT number registered, and the proof that we asked.

A VIES fault (member state down, too many concurrent requests, timeout) means "unknown", never
"invalid": it raises `ViesUnavailable` and the VAT decision waits (`invoices.vat.VatPending`).
Only real answers are cached, for `cache_ttl_seconds`, so a burst of documents for one buyer asks
VIES once.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from invoices.taxnumbers import EU_VAT_NUMBER, InvalidTaxNumber
from invoices.wsdl import VIES_WSDL

OFFICIAL_URL = "https://ec.europa.eu/taxation_customs/vies/services/checkVatService"
_BINDING = "{urn:ec.europa.eu:taxud:vies:services:checkVat}checkVatBinding"


class ViesError(Exception):
    pass


class InvalidVatNumber(ViesError):
    """The number is malformed: caught offline (no call) or refused by VIES as INVALID_INPUT."""


class ViesUnavailable(ViesError):
    """VIES or the member state's register did not answer; the number's status is unknown."""


class ViesUnreachable(ViesUnavailable):
    """No answer from VIES at all (refused, no DNS, timeout, not SOAP): asking about another number
    now would fail the same way."""


@dataclass(frozen=True, slots=True)
class ViesResult:
    valid: bool
    name: str | None
    address: str | None
    request_date: date
    request_identifier: str | None  # consultation number; only with a requester VAT number


class ViesClient:
    def __init__(
        self,
        url: str | None = None,
        transport: Transport | None = None,
        *,
        requester_vat_number: str | None = None,
        cache_ttl_seconds: float = 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url or os.environ.get("VIES_URL") or OFFICIAL_URL
        # Short: a check waits for this at most once per number and run (the WSDL is a local file,
        # so only operation_timeout applies); VIES itself gives up on a member state after ~20 s.
        transport = transport or Transport(timeout=5, operation_timeout=float(os.environ.get("VIES_TIMEOUT_S", "8")))  # float ok: seconds
        client = zeep.Client(wsdl=str(VIES_WSDL), transport=transport)
        self._service = client.create_service(_BINDING, self.url)
        # With our own VAT number VIES returns a consultation number: the evidence of the check.
        self._requester = EU_VAT_NUMBER.split(requester_vat_number) if requester_vat_number else None
        self._ttl = cache_ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, ViesResult]] = {}
        self._lock = threading.Lock()

    def check(self, vat_number: str) -> ViesResult:
        try:
            country, rest = EU_VAT_NUMBER.split(vat_number)
        except InvalidTaxNumber as exc:
            raise InvalidVatNumber(f"{vat_number!r}: {exc.reason}") from exc
        key = country + rest
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > self._clock():
                return hit[1]
        result = self._ask(country, rest)
        with self._lock:
            self._cache[key] = (self._clock() + self._ttl, result)
        return result

    def _ask(self, country: str, rest: str) -> ViesResult:
        try:
            if self._requester:
                reply = self._service.checkVatApprox(
                    countryCode=country, vatNumber=rest,
                    requesterCountryCode=self._requester[0], requesterVatNumber=self._requester[1],
                )
            else:
                reply = self._service.checkVat(countryCode=country, vatNumber=rest)
        except zeep.exceptions.Fault as fault:
            code = (fault.message or "").strip()
            if code == "INVALID_INPUT":
                raise InvalidVatNumber(f"VIES refused {country}{rest}: INVALID_INPUT") from fault
            # SERVICE_UNAVAILABLE, MS_UNAVAILABLE, TIMEOUT, *_MAX_CONCURRENT_REQ, SERVER_BUSY, and
            # anything unknown: the number's status is unknown, not invalid.
            raise ViesUnavailable(f"VIES fault {code or 'without a code'}") from fault
        except (requests.RequestException, zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError) as exc:
            raise ViesUnreachable(f"VIES unreachable: {exc}") from exc
        return _result(reply, approx=self._requester is not None)


def _result(reply, *, approx: bool) -> ViesResult:
    name = reply["traderName"] if approx else reply["name"]
    address = reply["traderAddress"] if approx else reply["address"]
    return ViesResult(
        valid=bool(reply["valid"]),
        name=_shared(name),
        address=_shared(address),
        request_date=_as_date(reply["requestDate"]),
        request_identifier=reply["requestIdentifier"] if approx else None,
    )


def _shared(text: str | None) -> str | None:
    # Member states that do not share the data (e.g. DE) answer "---".
    if text is None or text.strip() in ("", "---"):
        return None
    return text.strip()


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
