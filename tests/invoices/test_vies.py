from datetime import date

import pytest

from invoices.vies import InvalidVatNumber, ViesClient, ViesResult, ViesUnavailable
from tests.invoices.soap_fakes import CannedTransport, refuse, soap11, soap_fault

TYPES = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"


def check_vat_reply(country, number, valid=True, name="SC EXAMPLE SRL", address="STR. X 1, CLUJ"):
    return 200, soap11(
        f'<checkVatResponse xmlns="{TYPES}"><countryCode>{country}</countryCode>'
        f"<vatNumber>{number}</vatNumber><requestDate>2026-03-02+01:00</requestDate>"
        f"<valid>{'true' if valid else 'false'}</valid><name>{name}</name><address>{address}</address>"
        "</checkVatResponse>"
    )


def client_with(handler, **kw):
    transport = CannedTransport(handler)
    return ViesClient(url="https://vies.test/checkVatService", transport=transport, **kw), transport


def test_valid_number_returns_name_address_and_date():
    client, transport = client_with(lambda a, b, h: check_vat_reply("RO", "18547290"))
    result = client.check("RO 18547290")
    assert result == ViesResult(True, "SC EXAMPLE SRL", "STR. X 1, CLUJ", date(2026, 3, 2), None)
    address, body, _ = transport.requests[0]
    assert address == "https://vies.test/checkVatService"
    assert b"<ns0:countryCode>RO</ns0:countryCode>" in body and b"18547290</ns0:vatNumber>" in body


def test_unregistered_number_is_invalid_and_unshared_data_is_none():
    client, _ = client_with(lambda a, b, h: check_vat_reply("DE", "136695976", False, "---", "---"))
    result = client.check("DE136695976")
    assert (result.valid, result.name, result.address) == (False, None, None)


def test_greek_number_is_sent_with_el():
    client, transport = client_with(lambda a, b, h: check_vat_reply("EL", "094259216"))
    assert client.check("GR094259216").valid
    assert b">EL</ns0:countryCode>" in transport.requests[0][1]


def test_bad_format_never_calls_vies():
    client, transport = client_with(refuse)
    for bad in ["RO18547291", "18547290", "XX1234", ""]:
        with pytest.raises(InvalidVatNumber):
            client.check(bad)
    assert transport.requests == []


@pytest.mark.parametrize(
    "code",
    ["SERVICE_UNAVAILABLE", "MS_UNAVAILABLE", "TIMEOUT", "GLOBAL_MAX_CONCURRENT_REQ",
     "MS_MAX_CONCURRENT_REQ", "SERVER_BUSY", "IP_BLOCKED"],
)
def test_faults_mean_unknown_not_invalid(code):
    client, _ = client_with(lambda a, b, h: soap_fault(code))
    with pytest.raises(ViesUnavailable, match=code):
        client.check("RO18547290")


def test_invalid_input_fault_is_an_invalid_number():
    client, _ = client_with(lambda a, b, h: soap_fault("INVALID_INPUT"))
    with pytest.raises(InvalidVatNumber):
        client.check("RO18547290")


def test_connection_error_is_unavailable():
    client, _ = client_with(refuse)
    with pytest.raises(ViesUnavailable):
        client.check("RO18547290")


def test_answers_are_cached_for_the_ttl_and_faults_are_not():
    now = [1000.0]
    replies = [soap_fault("MS_UNAVAILABLE"), check_vat_reply("RO", "18547290"), check_vat_reply("RO", "18547290", False)]
    client, transport = client_with(lambda a, b, h: replies[len(transport.requests) - 1], cache_ttl_seconds=60, clock=lambda: now[0])
    with pytest.raises(ViesUnavailable):
        client.check("RO18547290")
    assert client.check("RO18547290").valid  # the fault was not cached: asked again
    now[0] += 59
    assert client.check("ro-18547290").valid  # same compact number, inside the TTL: no call
    assert len(transport.requests) == 2
    now[0] += 2  # 61 s after the answer: expired
    assert client.check("RO18547290").valid is False
    assert len(transport.requests) == 3


def test_requester_number_gives_a_consultation_identifier():
    def approx(address, body, headers):
        assert b"checkVatApprox" in body and b"<ns0:requesterCountryCode>HU</ns0:requesterCountryCode>" in body
        return 200, soap11(
            f'<checkVatApproxResponse xmlns="{TYPES}"><countryCode>AT</countryCode><vatNumber>U13585627</vatNumber>'
            "<requestDate>2026-03-02</requestDate><valid>true</valid><traderName>EXAMPLE GMBH</traderName>"
            "<traderAddress>WIEN</traderAddress><requestIdentifier>WAPIAAAAXYZ123</requestIdentifier>"
            "</checkVatApproxResponse>"
        )

    client, _ = client_with(approx, requester_vat_number="HU12345676")
    result = client.check("ATU13585627")
    assert result == ViesResult(True, "EXAMPLE GMBH", "WIEN", date(2026, 3, 2), "WAPIAAAAXYZ123")


def test_url_from_environment(monkeypatch):
    monkeypatch.setenv("VIES_URL", "http://localhost:9/vies")
    assert ViesClient(transport=CannedTransport(refuse)).url == "http://localhost:9/vies"
    monkeypatch.delenv("VIES_URL")
    assert ViesClient(transport=CannedTransport(refuse)).url.startswith("https://ec.europa.eu/")


def test_the_default_address_is_the_wsdls_service_over_https():
    # VIES_URL unset: the EU's public endpoint, as the WSDL's soap:address names it, over TLS (the
    # WSDL still says http://; ec.europa.eu redirects that, and a redirected POST would be lost).
    import re
    from urllib.parse import urlsplit

    from invoices.vies import OFFICIAL_URL
    from invoices.wsdl import VIES_WSDL

    [location] = re.findall(r'soap:address location="([^"]+)"', VIES_WSDL.read_text())
    official, declared = urlsplit(OFFICIAL_URL), urlsplit(location)
    assert (official.scheme, official.netloc, official.path) == ("https", declared.netloc, declared.path)
