"""The loopback MNB and VIES themselves: they answer what the WSDLs describe to a plain zeep client
over HTTP, refuse what the real services would refuse, and their outages look like outages to the
service's clients (invoices/mnb.py, invoices/vies.py). No database: these run once."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import requests
import zeep

from invoices.mnb import ExchangeRate, MnbClient, MnbUnavailable, parse_rates
from invoices.vies import InvalidVatNumber, ViesClient, ViesUnavailable
from invoices.wsdl import MNB_WSDL, VIES_WSDL
from tests.fakes.mnb_server import FakeMnb
from tests.fakes.vies_server import FakeVies

MNB_BINDING = "{http://tempuri.org/}CustomBinding_MNBArfolyamServiceSoap"
VIES_BINDING = "{urn:ec.europa.eu:taxud:vies:services:checkVat}checkVatBinding"


def PAST() -> date:  # "today" for MnbClient: every March day is over, so every answer is final
    return date(2026, 12, 31)


def test_mnb_answers_all_six_operations_of_its_wsdl():
    with FakeMnb() as mnb:
        mnb.publish(date(2026, 3, 6), EUR="401.57", JPY="245.67")
        mnb.publish(date(2026, 3, 9), EUR="405.55")
        service = zeep.Client(wsdl=str(MNB_WSDL)).create_service(MNB_BINDING, mnb.url)
        rates = service.GetExchangeRates(startDate="2026-03-01", endDate="2026-03-31", currencyNames="EUR,JPY")
        assert rates.startswith("<MNBExchangeRates><Day date=\"2026-03-09\">")  # newest day first
        assert parse_rates(rates) == {(date(2026, 3, 9), "EUR"): Decimal("405.55"),
                                      (date(2026, 3, 6), "EUR"): Decimal("401.57"),
                                      (date(2026, 3, 6), "JPY"): Decimal("2.4567")}  # per 100
        assert service.GetExchangeRates(startDate="2026-03-07", endDate="2026-03-08",
                                        currencyNames="EUR") == "<MNBExchangeRates />"  # a weekend
        assert "<Curr>JPY</Curr>" in service.GetCurrencies()
        assert '<Unit curr="JPY">100</Unit>' in service.GetCurrencyUnits(currencyNames="JPY")
        assert 'enddate="2026-03-09"' in service.GetDateInterval()
        assert "<LastDate>2026-03-09</LastDate>" in service.GetInfo()
        assert 'curr="EUR">405,55<' in service.GetCurrentExchangeRates()
        assert [r.answered for r in mnb.calls()] == ["ok"] * 7 and mnb.problems == []


def test_mnb_refuses_a_request_without_the_ws_addressing_action_wcf_wants():
    with FakeMnb() as mnb:
        body = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                '<GetInfo xmlns="http://www.mnb.hu/webservices/"/></s:Body></s:Envelope>')
        reply = requests.post(mnb.url, data=body, timeout=5, headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"http://www.mnb.hu/webservices/MNBArfolyamServiceSoap/GetInfo"'})
        assert reply.status_code == 500 and b"ActionNotSupported" in reply.content
        assert len(mnb.problems) == 1 and "wsa:Action None" in mnb.problems[0]


def test_mnb_client_gets_the_last_fixing_and_the_answer_carries_ws_addressing():
    with FakeMnb() as mnb:
        mnb.publish(date(2026, 3, 6), EUR="401.57")
        client = MnbClient(url=mnb.url, today=PAST)
        assert client.rate_for("EUR", date(2026, 3, 8)) == ExchangeRate(Decimal("401.57"), date(2026, 3, 6))
        [call] = mnb.calls()
        assert call.addressing["Action"] == "http://www.mnb.hu/webservices/MNBArfolyamServiceSoap/GetExchangeRates"
        assert call.addressing["MessageID"].startswith("urn:uuid:") and call.addressing["To"] == mnb.url
        assert mnb.problems == []


def test_vies_answers_check_vat_and_check_vat_approx():
    with FakeVies() as vies:
        vies.answer("DE136695976", valid=True)
        vies.answer("ATU13585627", valid=True, name="EXAMPLE GMBH", address="WIEN")
        vies.request_date = date(2026, 3, 2)
        result = ViesClient(url=vies.url).check("DE136695976")
        assert (result.valid, result.name, result.address, result.request_date) == (True, None, None, date(2026, 3, 2))
        approx = ViesClient(url=vies.url, requester_vat_number="HU12345676").check("ATU13585627")
        assert (approx.valid, approx.name, approx.request_identifier) == (True, "EXAMPLE GMBH", vies.identifiers[0])
        vies.answer("DE136695976", valid=False)
        assert ViesClient(url=vies.url).check("DE136695976").valid is False
        # what the offline format check would stop never reaches VIES from the client; sent raw, it
        # is VIES's own INVALID_INPUT
        service = zeep.Client(wsdl=str(VIES_WSDL)).create_service(VIES_BINDING, vies.url)
        with pytest.raises(zeep.exceptions.Fault, match="INVALID_INPUT"):
            service.checkVat(countryCode="US", vatNumber="123")
        assert [r.answered for r in vies.calls()] == ["ok", "ok", "ok", "fault:INVALID_INPUT"]
        assert vies.problems == []
        with pytest.raises(InvalidVatNumber):
            ViesClient(url=vies.url).check("DE136695977")  # check digit: caught offline
        assert len(vies.calls()) == 4


@pytest.mark.parametrize("how", ["http_500", "fault", "refused"])
def test_outages_are_unavailable_to_the_service_clients_and_up_restores_the_same_url(how):
    with FakeMnb() as mnb, FakeVies() as vies:
        mnb.publish(date(2026, 3, 6), EUR="401.57")
        urls = (mnb.url, vies.url)
        mnb.down(how)
        vies.down(how)
        with pytest.raises(MnbUnavailable):
            MnbClient(url=mnb.url, today=PAST).rate_for("EUR", date(2026, 3, 8))
        with pytest.raises(ViesUnavailable):
            ViesClient(url=vies.url).check("DE136695976")
        mnb.up()
        vies.up()
        assert (mnb.url, vies.url) == urls
        assert MnbClient(url=mnb.url, today=PAST).rate_for("EUR", date(2026, 3, 8)).rate == Decimal("401.57")
        assert ViesClient(url=vies.url).check("DE136695976").valid
        expected_down = [] if how == "refused" else [f"down:{how}"]
        assert [r.answered for r in mnb.calls()] == expected_down + ["ok"]
        assert [r.answered for r in vies.calls()] == expected_down + ["ok"]
        assert mnb.problems == vies.problems == []
