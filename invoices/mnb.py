"""MNB adapter: the official HUF exchange rate that applies on a day.

MNB fixes its rates at 11:00 on working days; a fixing is valid until the next one, so the rate of
a weekend or holiday is the last one published before it (the VAT Act's "last published rate").
The service answers with one string of XML: HUF per `unit` units, decimal comma.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Callable
from zoneinfo import ZoneInfo

import requests
import zeep
import zeep.exceptions
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session
from zeep.transports import Transport

from invoices.models import ExchangeRateRow
from invoices.sqlutil import insert_if_absent
from invoices.wsdl import MNB_WSDL

DEFAULT_URL = "http://www.mnb.hu/arfolyamok.asmx"
_BINDING = "{http://tempuri.org/}CustomBinding_MNBArfolyamServiceSoap"
# Longest run of non-publishing days is a long holiday with its weekends (Christmas: 4–5 days).
LOOKBACK_DAYS = 10
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 3.0, 20.0
_BUDAPEST = ZoneInfo("Europe/Budapest")


class MnbError(Exception):
    pass


class MnbUnavailable(MnbError):
    """The MNB service did not answer (and nothing was cached)."""


class MnbNoRate(MnbError):
    """MNB answered but published no rate for the currency in the look-back window."""


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    rate: Decimal  # HUF per 1 unit of the currency
    published_on: date


def _budapest_today() -> date:
    return datetime.now(_BUDAPEST).date()


class MnbClient:
    def __init__(
        self,
        url: str | None = None,
        transport: Transport | None = None,
        *,
        today: Callable[[], date] = _budapest_today,
    ):
        self.url = url or os.environ.get("MNB_URL") or DEFAULT_URL
        # (connect, read) seconds: MNB not answering at all (no route, a dropped SYN) is known in
        # 3 s, so the invoice waits at once instead of holding the cycle; a slow answer gets 20 s.
        transport = transport or Transport(timeout=10, operation_timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        # The WSDL carries wsaw:Action, so zeep adds the WS-Addressing headers the WCF service wants.
        client = zeep.Client(wsdl=str(MNB_WSDL), transport=transport)
        self._service = client.create_service(_BINDING, self.url)
        self._today = today
        self._cache: dict[tuple[str, date], ExchangeRate] = {}
        self._lock = threading.Lock()

    def rate_for(self, currency: str, day: date) -> ExchangeRate:
        currency = currency.upper()
        if currency == "HUF":
            return ExchangeRate(Decimal(1), day)
        with self._lock:
            hit = self._cache.get((currency, day))
        if hit:
            return hit
        published = parse_rates(self._fetch(currency, day - timedelta(days=LOOKBACK_DAYS), day))
        candidates = [(d, r) for (d, c), r in published.items() if c == currency and d <= day]
        if not candidates:
            raise MnbNoRate(f"MNB published no {currency} rate from {day - timedelta(days=LOOKBACK_DAYS)} to {day}")
        published_on, rate = max(candidates)
        result = ExchangeRate(rate, published_on)
        if self.is_final(day, result):
            with self._lock:
                self._cache[(currency, day)] = result
        return result

    def is_final(self, day: date, rate: ExchangeRate) -> bool:
        """Whether the answer for `day` can never change: the day is over, or its own fixing is out.
        (Asked before 11:00 today, the answer is yesterday's rate, which today's fixing replaces.)"""
        return rate.published_on == day or day < self._today()

    def _fetch(self, currency: str, start: date, end: date) -> str:
        try:
            return self._service.GetExchangeRates(
                startDate=start.isoformat(), endDate=end.isoformat(), currencyNames=currency
            ) or ""
        except zeep.exceptions.Fault as fault:
            raise MnbUnavailable(f"MNB fault: {fault.message}") from fault
        except (requests.RequestException, zeep.exceptions.TransportError, zeep.exceptions.XMLSyntaxError) as exc:
            raise MnbUnavailable(f"MNB unreachable: {exc}") from exc


def parse_rates(xml_text: str) -> dict[tuple[date, str], Decimal]:
    """{(day, currency): HUF per 1 unit} from MNB's <MNBExchangeRates> document."""
    if not xml_text.strip():
        return {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml_text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise MnbUnavailable(f"MNB answered unreadable XML: {exc}") from exc
    rates: dict[tuple[date, str], Decimal] = {}
    for day_el in root.iter("Day"):
        day = date.fromisoformat(day_el.get("date"))
        for rate_el in day_el.iter("Rate"):
            try:
                value = Decimal((rate_el.text or "").strip().replace(",", "."))
                unit = Decimal(rate_el.get("unit") or "1")
            except InvalidOperation as exc:
                raise MnbUnavailable(f"MNB rate not a number: {rate_el.text!r}") from exc
            rates[(day, rate_el.get("curr").upper())] = value / unit
    return rates


def cached_rate(session: Session, client: MnbClient, currency: str, day: date) -> ExchangeRate:
    """The rate for `day` from the exchange_rates table, asking MNB (and storing the answer) only on
    a miss. Runs in the caller's transaction and never commits."""
    currency = currency.upper()
    if currency == "HUF":
        return ExchangeRate(Decimal(1), day)
    row = session.execute(
        select(ExchangeRateRow).where(ExchangeRateRow.currency == currency, ExchangeRateRow.day == day)
    ).scalar_one_or_none()
    if row is not None:
        return ExchangeRate(row.rate, row.published_on)
    result = client.rate_for(currency, day)  # MnbUnavailable propagates: nothing cached
    if client.is_final(day, result):
        # Another transaction may store the same day at the same moment; a published rate never
        # changes, so whichever row lands first is the right one.
        insert_if_absent(
            session, ExchangeRateRow,
            {"currency": currency, "day": day, "rate": result.rate, "published_on": result.published_on},
        )
    return result
