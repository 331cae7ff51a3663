import re
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from billing.db.base import Base
from invoices.mnb import ExchangeRate, MnbClient, MnbNoRate, MnbUnavailable, cached_rate, parse_rates
from invoices.models import ExchangeRateRow
from tests.invoices.soap_fakes import CannedTransport, refuse, soap11, soap_fault

# Made-up fixings around Easter 2026 (Good Friday 3 April … Easter Monday 6 April: no fixing).
PUBLISHED = {
    date(2026, 3, 13): [("1", "EUR", "400,50"), ("100", "JPY", "245,67")],  # Friday
    date(2026, 3, 16): [("1", "EUR", "401,00"), ("100", "JPY", "246,00")],  # Monday
    date(2026, 4, 2): [("1", "EUR", "385,12")],  # Maundy Thursday
    date(2026, 4, 7): [("1", "EUR", "386,40")],  # Tuesday after Easter Monday
}


def mnb_reply(published):
    def handler(address, body, headers):
        start = date.fromisoformat(re.search(rb"startDate>([\d-]+)<", body).group(1).decode())
        end = date.fromisoformat(re.search(rb"endDate>([\d-]+)<", body).group(1).decode())
        wanted = re.search(rb"currencyNames>([A-Z,]+)<", body).group(1).decode().split(",")
        days = ""
        for day in sorted(published, reverse=True):  # MNB lists the newest day first
            if start <= day <= end:
                rates = "".join(
                    f'<Rate unit="{u}" curr="{c}">{v}</Rate>' for u, c, v in published[day] if c in wanted
                )
                days += f'<Day date="{day.isoformat()}">{rates}</Day>'
        inner = f"<MNBExchangeRates>{days}</MNBExchangeRates>"
        return 200, soap11(
            '<GetExchangeRatesResponse xmlns="http://www.mnb.hu/webservices/">'
            f"<GetExchangeRatesResult>{escape(inner)}</GetExchangeRatesResult></GetExchangeRatesResponse>"
        )

    return handler


def make_client(handler, today=date(2026, 12, 31)):
    transport = CannedTransport(handler)
    return MnbClient(url="http://mnb.test/arfolyamok.asmx", transport=transport, today=lambda: today), transport


def test_working_day_rate_and_the_request_shape():
    client, transport = make_client(mnb_reply(PUBLISHED))
    assert client.rate_for("eur", date(2026, 3, 16)) == ExchangeRate(Decimal("401.00"), date(2026, 3, 16))
    address, body, headers = transport.requests[0]
    assert address == "http://mnb.test/arfolyamok.asmx"
    assert headers["SOAPAction"] == '"http://www.mnb.hu/webservices/MNBArfolyamServiceSoap/GetExchangeRates"'
    # WS-Addressing headers the WCF endpoint expects
    assert b"<wsa:Action>http://www.mnb.hu/webservices/MNBArfolyamServiceSoap/GetExchangeRates</wsa:Action>" in body
    assert b"<wsa:To>http://mnb.test/arfolyamok.asmx</wsa:To>" in body
    # the look-back window: 16 March − 10 days = 6 March
    assert b"startDate>2026-03-06<" in body and b"endDate>2026-03-16<" in body


def test_weekend_takes_fridays_rate():
    client, _ = make_client(mnb_reply(PUBLISHED))
    assert client.rate_for("EUR", date(2026, 3, 14)) == ExchangeRate(Decimal("400.50"), date(2026, 3, 13))
    assert client.rate_for("EUR", date(2026, 3, 15)) == ExchangeRate(Decimal("400.50"), date(2026, 3, 13))


def test_easter_holiday_takes_the_last_rate_before_it():
    client, _ = make_client(mnb_reply(PUBLISHED))
    for day in (3, 4, 5, 6):
        assert client.rate_for("EUR", date(2026, 4, day)) == ExchangeRate(Decimal("385.12"), date(2026, 4, 2))
    assert client.rate_for("EUR", date(2026, 4, 7)).rate == Decimal("386.40")


def test_jpy_is_quoted_per_100_units():
    client, _ = make_client(mnb_reply(PUBLISHED))
    # 245,67 HUF per 100 JPY → 2.4567 HUF per 1 JPY
    assert client.rate_for("JPY", date(2026, 3, 13)).rate == Decimal("2.4567")


def test_huf_is_one_without_a_call():
    client, transport = make_client(refuse)
    assert client.rate_for("HUF", date(2026, 3, 14)) == ExchangeRate(Decimal(1), date(2026, 3, 14))
    assert transport.requests == []


def test_memory_cache_answers_without_calling():
    client, transport = make_client(mnb_reply(PUBLISHED))
    client.rate_for("EUR", date(2026, 3, 14))
    transport.handler = refuse
    assert client.rate_for("EUR", date(2026, 3, 14)).rate == Decimal("400.50")
    assert len(transport.requests) == 1


def test_todays_answer_before_the_fixing_is_not_cached():
    early = {d: v for d, v in PUBLISHED.items() if d < date(2026, 4, 7)}
    client, transport = make_client(mnb_reply(early), today=date(2026, 4, 7))
    assert client.rate_for("EUR", date(2026, 4, 7)).published_on == date(2026, 4, 2)  # 9:00, no fixing yet
    transport.handler = mnb_reply(PUBLISHED)  # 11:00: today's fixing is out
    assert client.rate_for("EUR", date(2026, 4, 7)) == ExchangeRate(Decimal("386.40"), date(2026, 4, 7))


@pytest.mark.parametrize("handler", [refuse, lambda a, b, h: soap_fault("Internal error"), lambda a, b, h: (503, "down")])
def test_service_down_is_unavailable(handler):
    client, _ = make_client(handler)
    with pytest.raises(MnbUnavailable):
        client.rate_for("EUR", date(2026, 3, 16))


def test_currency_without_rates_is_no_rate():
    client, _ = make_client(mnb_reply(PUBLISHED))
    with pytest.raises(MnbNoRate):
        client.rate_for("XAU", date(2026, 3, 16))


def test_parse_rates_reads_decimal_comma_and_units():
    xml = '<MNBExchangeRates><Day date="2025-01-03"><Rate unit="1" curr="EUR">411,35</Rate><Rate unit="100" curr="JPY">251,2</Rate></Day></MNBExchangeRates>'
    assert parse_rates(xml) == {
        (date(2025, 1, 3), "EUR"): Decimal("411.35"),
        (date(2025, 1, 3), "JPY"): Decimal("2.512"),  # 251.2 / 100
    }
    assert parse_rates("") == {}


def test_cached_rate_reads_and_writes_the_table(db_url):
    engine = create_engine(db_url)
    Base.metadata.create_all(engine, tables=[ExchangeRateRow.__table__])
    client, transport = make_client(mnb_reply(PUBLISHED))
    with Session(engine) as session, session.begin():
        assert cached_rate(session, client, "JPY", date(2026, 3, 15)) == ExchangeRate(Decimal("2.4567"), date(2026, 3, 13))
    with Session(engine) as session:
        row = session.execute(select(ExchangeRateRow)).scalar_one()
        assert (row.currency, row.day, row.rate, row.published_on) == ("JPY", date(2026, 3, 15), Decimal("2.4567"), date(2026, 3, 13))
    # a new process (empty memory cache) with MNB down still gets the stored rate, without a call
    down, down_transport = make_client(refuse)
    with Session(engine) as session, session.begin():
        assert cached_rate(session, down, "JPY", date(2026, 3, 15)).rate == Decimal("2.4567")
        with pytest.raises(MnbUnavailable):
            cached_rate(session, down, "EUR", date(2026, 3, 15))  # nothing cached for EUR
        assert cached_rate(session, down, "HUF", date(2026, 3, 15)).rate == 1
    assert down_transport.requests and all(b"EUR" in body for _, body, _ in down_transport.requests)
    engine.dispose()
