from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from lxml import etree

from nav_reporting import crypto, envelopes
from nav_reporting.client import (
    InvoiceOperation, NavClient, NavConfig, NavConfigError, NavRequestError, NavTechnicalError, is_valid_envelope,
)
from nav_reporting.errors import classify
from nav_reporting.xml import build_invoice_data
from tests.fakes.nav_simulator import NavSimulator
from tests.nav.documents import credit_note, domestic_invoice, eu_reverse_charge_invoice

T0 = datetime(2024, 4, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def sim():
    with NavSimulator() as simulator:
        yield simulator


@pytest.fixture
def client(sim):
    c = NavClient(replace(NavConfig.from_env(sim.env()), timeout_s=0.5))
    yield c
    c.close()


def test_config_from_env_defaults_and_configured():
    config = NavConfig.from_env({})
    assert config.base_url == "https://api-test.onlineszamla.nav.gov.hu/invoiceService/v3"
    assert config.configured is False
    assert len(config.software.software_id) == 18
    full = NavConfig.from_env({"NAV_LOGIN": "a", "NAV_PASSWORD": "pw-SECRET", "NAV_SIGNATURE_KEY": "sig-SECRET",
                               "NAV_EXCHANGE_KEY": "exc-SECRET", "NAV_TAX_NUMBER": "12345678-2-42"})
    assert full.configured is True and full.taxpayer_id == "12345678"
    assert NavConfig.from_env({**{"NAV_LOGIN": "a"}, "NAV_PASSWORD": ""}).configured is False
    assert "SECRET" not in repr(full)  # secrets stay out of logs
    with pytest.raises(NavConfigError):
        NavClient(config)
    with pytest.raises(ValueError):
        NavConfig.from_env({"NAV_SOFTWARE_ID": "too-short"})


def _config():
    return NavConfig(login="testlogin01", password="pw", signature_key="k" * 32,
                     exchange_key="0123456789abcdef", tax_number="12345678-2-42")


@pytest.mark.parametrize("build", [
    lambda c: envelopes.envelope("tokenExchange", c, "RID1", T0),
    lambda c: envelopes.manage_invoice_request(c, "RID2", T0, "token", [
        InvoiceOperation("CREATE", build_invoice_data(domestic_invoice())),
        InvoiceOperation("MODIFY", build_invoice_data(credit_note()))]),
    lambda c: envelopes.manage_annulment_request(c, "RID3", T0, "token",
                                                 [envelopes.invoice_annulment("INV-1", "ERRATIC_DATA", "typo", T0)]),
    lambda c: envelopes.query_transaction_status_request(c, "RID4", T0, "ABCDEF", True),
    lambda c: envelopes.query_transaction_list_request(c, "RID5", T0, T0 - timedelta(minutes=10), T0, 1),
    lambda c: envelopes.query_invoice_data_request(c, "RID6", T0, "INV-1", "OUTBOUND"),
])
def test_every_envelope_is_valid_against_invoice_api_xsd(build):
    xml = etree.tostring(build(_config()))
    assert is_valid_envelope(xml)


def test_envelope_header_and_signature_fields():
    root = envelopes.envelope("queryTransactionStatus", _config(), "RID1", T0)
    c = "{http://schemas.nav.gov.hu/NTCA/1.0/common}"
    assert root.findtext(f"{c}header/{c}timestamp") == "2024-04-01T10:00:00.000Z"
    assert root.findtext(f"{c}user/{c}taxNumber") == "12345678"
    assert root.findtext(f"{c}user/{c}requestSignature") == crypto.sha3_512_hex("RID1" + "20240401100000" + "k" * 32)
    assert root.find(f"{c}user/{c}passwordHash").get("cryptoType") == "SHA-512"


def test_a_broken_envelope_is_not_valid():
    root = envelopes.envelope("tokenExchange", _config(), "bad id with spaces", T0)
    assert not is_valid_envelope(etree.tostring(root))


def test_token_exchange_decrypts(sim, client):
    token = client.token_exchange()
    assert len(token) == 48 and token in sim._tokens


def test_manage_invoice_then_status_done(sim, client):
    tid = client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice())),
                                 InvoiceOperation("CREATE", build_invoice_data(eu_reverse_charge_invoice()))])
    results = client.query_transaction_status(tid)
    assert [(r.index, r.status, r.messages) for r in results] == [(1, "DONE", ()), (2, "DONE", ())]
    assert sim.numbers_sent() == ["INV-2024-0001", "INV-2024-0002"]


def test_duplicate_number_is_aborted_with_reason(sim, client):
    xml = build_invoice_data(domestic_invoice())
    client.manage_invoice([InvoiceOperation("CREATE", xml)])
    tid = client.manage_invoice([InvoiceOperation("CREATE", xml)])
    (result,) = client.query_transaction_status(tid)
    assert result.status == "ABORTED"
    assert [(m.kind, m.level, m.code) for m in result.messages] == [("business", "ERROR", "INVOICE_NUMBER_NOT_UNIQUE")]


def test_status_with_original_request_and_unknown_transaction(sim, client):
    xml = build_invoice_data(domestic_invoice())
    tid = client.manage_invoice([InvoiceOperation("CREATE", xml)])
    (result,) = client.query_transaction_status(tid, return_original_request=True)
    assert result.original_request == xml
    assert client.query_transaction_status("NOSUCHTRANSACTION") == ()


def test_transaction_list_pages(sim, client):
    for factory in (domestic_invoice, eu_reverse_charge_invoice):
        client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(factory()))])
    client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice("INV-X")))])
    now = datetime.now(timezone.utc)
    first = client.query_transaction_list(now - timedelta(minutes=10), now + timedelta(minutes=1))
    second = client.query_transaction_list(now - timedelta(minutes=10), now + timedelta(minutes=1), page=2)
    assert (first.current_page, first.available_page, len(first.transactions)) == (1, 2, 2)
    assert (second.current_page, len(second.transactions)) == (2, 1)
    assert set(sim.transactions) == {t.transaction_id for t in first.transactions + second.transactions}


def test_query_invoice_data(sim, client):
    xml = build_invoice_data(domestic_invoice())
    client.query_transaction_status(client.manage_invoice([InvoiceOperation("CREATE", xml)]))
    assert client.query_invoice_data("INV-2024-0001") == xml
    assert client.query_invoice_data("INV-NOPE") is None


def test_manage_annulment(sim, client):
    client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice()))])
    tid = client.manage_annulment([("INV-2024-0001", "ERRATIC_DATA", "wrong buyer address")])
    assert sim.transactions[tid].kind == "annulment"


def test_500_is_technical_and_not_delivered(sim, client):
    sim.fail_next("manageInvoice", "500")
    with pytest.raises(NavTechnicalError) as err:
        client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice()))])
    assert (err.value.code, err.value.http_status, err.value.maybe_delivered) == ("OPERATION_FAILED", 500, False)
    assert sim.manage_invoice_count() == 0


def test_signature_error_is_configuration(sim, client):
    sim.fail_next("tokenExchange", "signature")
    with pytest.raises(NavConfigError) as err:
        client.token_exchange()
    assert err.value.code == "INVALID_REQUEST_SIGNATURE"


def test_wrong_signature_key_is_detected_by_the_simulator(sim):
    bad = NavClient(replace(NavConfig.from_env(sim.env()), signature_key="wrong-key"))
    with pytest.raises(NavConfigError) as err:
        bad.token_exchange()
    assert err.value.code == "INVALID_REQUEST_SIGNATURE"


def test_wrong_password_is_configuration(sim):
    bad = NavClient(replace(NavConfig.from_env(sim.env()), password="nope"))
    with pytest.raises(NavConfigError) as err:
        bad.token_exchange()
    assert (err.value.code, err.value.http_status) == ("INVALID_SECURITY_USER", 401)


def test_lost_response_is_maybe_delivered(sim, client):
    sim.fail_next("manageInvoice", "lost_response")
    with pytest.raises(NavTechnicalError) as err:
        client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice()))])
    assert err.value.maybe_delivered is True
    assert sim.manage_invoice_count() == 1  # NAV has it although we never heard back


def test_timeout_is_maybe_delivered(sim, client):
    sim.fail_next("manageInvoice", "timeout")
    with pytest.raises(NavTechnicalError) as err:
        client.manage_invoice([InvoiceOperation("CREATE", build_invoice_data(domestic_invoice()))])
    assert err.value.maybe_delivered is True


def test_connection_refused_is_not_delivered():
    config = replace(_config(), base_url="http://127.0.0.1:9/invoiceService/v3")
    with pytest.raises(NavTechnicalError) as err:
        NavClient(config).token_exchange()
    assert err.value.maybe_delivered is False


def test_token_is_single_use(sim, client):
    token = client.token_exchange()
    xml = build_invoice_data(domestic_invoice())
    req = envelopes.manage_invoice_request(client.config, "RIDA", datetime.now(timezone.utc), token,
                                           [InvoiceOperation("CREATE", xml)])
    body = etree.tostring(req)
    url = f"{sim.base_url}/manageInvoice"
    assert httpx.post(url, content=body).status_code == 200
    req2 = envelopes.manage_invoice_request(client.config, "RIDB", datetime.now(timezone.utc), token,
                                            [InvoiceOperation("CREATE", xml)])
    second = httpx.post(url, content=etree.tostring(req2))
    assert second.status_code == 400 and b"INVALID_EXCHANGE_TOKEN" in second.content


def test_clock_skew_is_configuration(sim):
    skewed = NavClient(NavConfig.from_env(sim.env()), clock=lambda: datetime.now(timezone.utc) - timedelta(days=2))
    with pytest.raises(NavConfigError) as err:
        skewed.token_exchange()
    assert err.value.code == "INVALID_TIMESTAMP"


def test_over_100_operations_refused_before_sending(client):
    op = InvoiceOperation("CREATE", b"<x/>")
    with pytest.raises(ValueError):
        client.manage_invoice([op] * 101)


@pytest.mark.parametrize("code,status,kind", [
    ("OPERATION_FAILED", 500, NavTechnicalError),
    ("MAINTENANCE_MODE", 503, NavTechnicalError),
    ("INVALID_EXCHANGE_TOKEN", 400, NavTechnicalError),
    ("INVALID_SECURITY_USER", 401, NavConfigError),
    ("INVALID_PASSWORD_HASH_CRYPTO", 400, NavConfigError),
    ("INVALID_REQUEST", 400, NavRequestError),
    ("BAD_QUERY_PARAM_X", 400, NavRequestError),
    ("SOMETHING_NEW_2026", 503, NavTechnicalError),  # unknown: by level
    ("SOMETHING_NEW_2026", 400, NavConfigError),
])
def test_error_classification(code, status, kind):
    error = classify(code, "m", status)
    assert type(error) is kind
