"""A loopback stand-in for MNB's exchange-rate web service (http://www.mnb.hu/arfolyamok.asmx).

It answers the six operations of schemas/wsdl/mnb/ (read from the WSDL: SOAPAction, wsaw:Action,
request and response elements, XSD) the way the WCF service does: SOAP 1.1, WS-Addressing 1.0
headers on the answer (Action of the output, RelatesTo the request's MessageID), each result one
xsd:string that holds an XML document with decimal commas:

    <MNBExchangeRates><Day date="2026-03-06"><Rate unit="1" curr="EUR">401,57</Rate></Day>...

newest day first, only the days in [startDate, endDate] on which MNB fixed a requested currency.
A request whose wsa:Action is not the operation's is refused with WCF's ActionNotSupported fault,
one addressed elsewhere (wsa:To) with DestinationUnreachable. Rates are what the test publishes:

    with FakeMnb() as mnb:
        mnb.publish(date(2026, 3, 6), EUR="401.57")
        monkeypatch.setenv("MNB_URL", mnb.url)
        ...
        [call] = mnb.rate_requests(end=date(2026, 3, 8))
        assert call.params["currencyNames"] == "EUR"

Down: `down("http_500" | "fault" | "refused")`, `up()` (see tests/fakes/soap_http.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

from invoices.wsdl import MNB_WSDL
from tests.fakes.soap_http import (
    WSA10,
    LoopbackSoapServer,
    Operation,
    SoapFault,
    SoapRequest,
)

# MNB quotes these per 100 units (GetCurrencyUnits); everything else per 1.
UNITS_OF_100 = frozenset({"JPY", "IDR", "KRW", "ISK"})
_SERIALIZATION = "http://schemas.microsoft.com/2003/10/Serialization/"


@dataclass(frozen=True)
class RateCall:
    start: date
    end: date
    currencies: tuple[str, ...]


class FakeMnb(LoopbackSoapServer):
    wsdl_path = MNB_WSDL
    path = "/arfolyamok.asmx"
    envelope_prefix = "s"  # what WCF writes

    def __init__(self) -> None:
        super().__init__()
        self.published: dict[date, dict[str, Decimal]] = {}  # HUF per `unit` units, as MNB quotes
        self.units: dict[str, int] = {}

    # -- what MNB published ----------------------------------------------------------------
    def publish(self, day: date, **rates: str | Decimal) -> None:
        """The fixing of `day`: publish(date(2026, 3, 6), EUR="401.57", JPY="245.67") — JPY per 100."""
        with self._lock:
            for currency, value in rates.items():
                self.published.setdefault(day, {})[currency.upper()] = Decimal(str(value).replace(",", "."))

    def withdraw(self, day: date) -> None:
        with self._lock:
            self.published.pop(day, None)

    def unit_of(self, currency: str) -> int:
        return self.units.get(currency, 100 if currency in UNITS_OF_100 else 1)

    # -- what was asked --------------------------------------------------------------------
    def rate_requests(self, *, end: date | None = None, answered_only: bool = False) -> list[RateCall]:
        found = []
        for request in self.calls("GetExchangeRates"):
            if answered_only and request.answered != "ok":
                continue
            call = RateCall(date.fromisoformat(request.params["startDate"]),
                            date.fromisoformat(request.params["endDate"]),
                            tuple((request.params.get("currencyNames") or "").split(",")))
            if end is None or call.end == end:
                found.append(call)
        return found

    # -- the protocol ----------------------------------------------------------------------
    def check_request(self, op: Operation, request: SoapRequest) -> str | None:
        action = request.addressing.get("Action")
        if action != op.input_action:
            # WCF: a:ActionNotSupported ("The message with Action '…' cannot be processed at the receiver")
            return f"wsa:Action {action!r}, the WSDL says {op.input_action!r} (ActionNotSupported)"
        to = request.addressing.get("To")
        if to is not None and to != self.url:
            return f"wsa:To {to!r} is not this endpoint {self.url!r} (DestinationUnreachable)"
        return None

    def response_header(self, op: Operation, request: SoapRequest) -> tuple[str, str]:
        header = f'<a:Action s:mustUnderstand="1">{escape(op.output_action or "")}</a:Action>'
        if request.addressing.get("MessageID"):
            header += f"<a:RelatesTo>{escape(request.addressing['MessageID'])}</a:RelatesTo>"
        return header, f' xmlns:a="{WSA10}"'

    def down_fault(self) -> SoapFault:
        return SoapFault("Az MNB szolgáltatás átmenetileg nem érhető el.", "soap:Server",
                         f'<string xmlns="{_SERIALIZATION}">Service temporarily unavailable</string>')

    def operation_reply(self, op: Operation, request: SoapRequest, element) -> str:
        result = getattr(self, f"_{op.name}")(request.params)
        local = op.output_element.split("}")[1]
        return (f'<{local} xmlns="http://www.mnb.hu/webservices/" '
                f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
                f"<{op.name}Result>{escape(result)}</{op.name}Result></{local}>")

    # -- the operations: each returns the XML document MNB puts in the result string -------
    def _GetExchangeRates(self, params: dict) -> str:
        try:
            start = date.fromisoformat((params.get("startDate") or "").strip())
            end = date.fromisoformat((params.get("endDate") or "").strip())
        except ValueError as exc:
            raise SoapFault(f"Hibás dátum: {exc}", "soap:Client") from exc
        wanted = [c.strip().upper() for c in (params.get("currencyNames") or "").split(",") if c.strip()]
        with self._lock:
            days = sorted((d for d in self.published if start <= d <= end), reverse=True)
            text = ""
            for day in days:
                rates = "".join(self._rate(c, v) for c, v in sorted(self.published[day].items()) if c in wanted)
                if rates:
                    text += f'<Day date="{day.isoformat()}">{rates}</Day>'
        return f"<MNBExchangeRates>{text}</MNBExchangeRates>" if text else "<MNBExchangeRates />"

    def _GetCurrentExchangeRates(self, params: dict) -> str:
        with self._lock:
            if not self.published:
                return "<MNBCurrentExchangeRates />"
            day = max(self.published)
            rates = "".join(self._rate(c, v) for c, v in sorted(self.published[day].items()))
        return f'<MNBCurrentExchangeRates><Day date="{day.isoformat()}">{rates}</Day></MNBCurrentExchangeRates>'

    def _GetCurrencies(self, params: dict) -> str:
        curr = "".join(f"<Curr>{c}</Curr>" for c in ["HUF", *self._currencies()])
        return f"<MNBCurrencies><Currencies>{curr}</Currencies></MNBCurrencies>"

    def _GetCurrencyUnits(self, params: dict) -> str:
        wanted = [c.strip().upper() for c in (params.get("currencyNames") or "").split(",") if c.strip()]
        units = "".join(f'<Unit curr="{c}">{self.unit_of(c)}</Unit>' for c in wanted)
        return f"<MNBCurrencyUnits><Units>{units}</Units></MNBCurrencyUnits>"

    def _GetDateInterval(self, params: dict) -> str:
        with self._lock:
            first, last = (min(self.published), max(self.published)) if self.published else (None, None)
        if first is None:
            return "<MNBStoredInterval />"
        return (f'<MNBStoredInterval><DateInterval startdate="{first.isoformat()}" '
                f'enddate="{last.isoformat()}" /></MNBStoredInterval>')

    def _GetInfo(self, params: dict) -> str:
        with self._lock:
            first, last = (min(self.published), max(self.published)) if self.published else (None, None)
        curr = "".join(f"<Curr>{c}</Curr>" for c in self._currencies())
        dates = f"<FirstDate>{first.isoformat()}</FirstDate><LastDate>{last.isoformat()}</LastDate>" if first else ""
        return f"<MNBExchangeRatesQueryValues>{dates}<Currencies>{curr}</Currencies></MNBExchangeRatesQueryValues>"

    def _currencies(self) -> list[str]:
        with self._lock:
            return sorted({c for rates in self.published.values() for c in rates})

    def _rate(self, currency: str, value: Decimal) -> str:
        return f'<Rate unit="{self.unit_of(currency)}" curr="{currency}">{str(value).replace(".", ",")}</Rate>'
