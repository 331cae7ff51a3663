"""The InvoiceData writer builds text, so its escaping is checked the hard way: any text a buyer's
name, address or a line description can hold is parsed back by lxml unchanged (as XML normalises
it), and the document still validates against the official XSD."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from nav_reporting.xml import build_invoice_data, validate_invoice_data
from tests.nav.documents import domestic_invoice

DATA = "{http://schemas.nav.gov.hu/OSA/3.0/data}"
BASE = "{http://schemas.nav.gov.hu/OSA/3.0/base}"
# Characters XML 1.0 can carry, with the awkward ones made likely.
xml_char = st.one_of(
    st.sampled_from(list("&<>\"'\r\t]]>;#") + ["ő", "ű", "ș", "ț", "ß", "€", "𝄞"]),
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff",
                  min_codepoint=0x20),
)
# NAV's simple texts must hold a non-space character; keep one at the front.
text = st.text(xml_char, min_size=0, max_size=60).map(lambda t: "x" + t)


@settings(max_examples=150, deadline=None)
@given(name=text, city=text, street=text, description=text)
def test_any_text_round_trips_through_the_writer(name, city, street, description):
    base = domestic_invoice()
    doc = replace(base, buyer=replace(base.buyer, name=name, city=city, street=street),
                  lines=(replace(base.lines[0], description=description),))
    xml = build_invoice_data(doc)
    validate_invoice_data(xml)
    root = etree.fromstring(xml)
    one_line = lambda s: " ".join(s.split())  # NAV texts are single-line and single-spaced
    assert root.findtext(f".//{DATA}customerName") == one_line(name)
    assert root.findtext(f".//{DATA}customerAddress/{BASE}simpleAddress/{BASE}city") == one_line(city)
    assert root.findtext(f".//{DATA}customerAddress/{BASE}simpleAddress/{BASE}additionalAddressDetail") == \
        one_line(street)
    assert root.findtext(f".//{DATA}lineDescription") == one_line(description)[:512]
