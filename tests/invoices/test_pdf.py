"""PDF renderers: every field the VAT Act asks for is in the text, in each locale's formats."""
import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pypdf
import pytest

from invoices.documents import Document, DocumentLine, Party, Statement, StatementLine
from invoices.i18n import UnsupportedLocale
from invoices.pdf import render_document_pdf, render_statement_pdf, vat_summary
from invoices.vat import decide_vat

SELLER = Party("MiniCRM Zrt.", "HU", "1117", "Budapest", "Október huszonharmadika utca 8.",
               tax_number="12345676-2-42", bank_account="11600006-00000000-12345678")
HU_BUYER = Party("Példa Őrző & Űrhajó Kft.", "HU", "6720", "Szeged", "Kárász utca 1.", tax_number="10773381-2-44")
RO_BUYER = Party("Ștefănescu Țesături SRL", "RO", "400001", "Cluj-Napoca", "Strada Memorandumului 28",
                 eu_vat_number="RO18547290")
DE_BUYER = Party("Müller Straße GmbH", "DE", "10115", "Berlin", "Große Hamburger Straße 3", eu_vat_number="DE136695976")

DOMESTIC = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None)
REVERSE = decide_vat(buyer_country="RO", eu_vat_number="RO18547290", vies_valid=True)
OUTSIDE = decide_vat(buyer_country="US", eu_vat_number=None, vies_valid=None)

# A payment of 10,312 HUF for 2 seats × 16 days (16–31 March):
# net = R(10312 / 1.27) = R(8119.69) = 8120, VAT = 10312 − 8120 = 2192, unit price 8120 / 32 = 253.75
HU_LINE = DocumentLine("MiniCRM Pro – felhasználói díj", D(32), "seat-day", D("253.75"), D(8120), D(2192), D(10312),
                       date(2026, 3, 16), date(2026, 3, 31))
INVOICE = Document(
    number="INV-2026-000001", kind="invoice", account_id="acc-7", issue_date=date(2026, 3, 18),
    fulfilment_date=date(2026, 3, 18), due_date=date(2026, 3, 18), currency="HUF", seller=SELLER, buyer=HU_BUYER,
    lines=(HU_LINE,), net=D(8120), vat=D(2192), gross=D(10312), vat_treatment=DOMESTIC, exchange_rate=D(1),
    exchange_rate_date=None, net_huf=D(8120), vat_huf=D(2192), gross_huf=D(10312), locale="hu",
    payment_method="bank_transfer", period_start=date(2026, 3, 16), period_end=date(2026, 3, 31),
)

# 2 seats × 31 days on a 12.70 EUR gross plan, reverse charge: 12.70 / 1.27 = 10 EUR a seat-month → 20.00 EUR.
# HUF at 385.12: 20 × 385.12 = 7702.40 → 7702 HUF.
EU_LINE = DocumentLine("MiniCRM Pro – seat fee", D(62), "seat-day", D("0.3226"), D("20.00"), D("0.00"), D("20.00"),
                       date(2026, 4, 1), date(2026, 4, 30))
EU_INVOICE = replace(
    INVOICE, number="INV-2026-000002", currency="EUR", buyer=RO_BUYER, lines=(EU_LINE,), net=D("20.00"),
    vat=D("0.00"), gross=D("20.00"), vat_treatment=REVERSE, exchange_rate=D("385.12"),
    exchange_rate_date=date(2026, 3, 18), net_huf=D(7702), vat_huf=D(0), gross_huf=D(7702), payment_method="card",
    locale="ro",
)


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    raw = " ".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", raw.replace("\xa0", " ").replace("\u202f", " "))


# Hand-written per locale: labels and Babel's formats of 18 March 2026, 10,312 HUF and 27 %.
EXPECTED = {
    "hu": {"title": "SZÁMLA", "date": "2026. 03. 18.", "gross": "10 312 Ft", "net": "8 120", "vat": "2 192",
           "unit_price": "253,75", "rate": "27%", "labels": ["Eladó", "Vevő", "Adószám", "Teljesítés dátuma",
           "Kiállítás dátuma", "Nettó egységár", "ÁFA-összeg", "Bruttó összesen", "fő-nap",
           "ÁFA-összesítő kulcsonként", "átutalás"]},
    "ro": {"title": "FACTURĂ", "date": "18.03.2026", "gross": "10.312 HUF", "net": "8.120", "vat": "2.192",
           "unit_price": "253,75", "rate": "27 %", "labels": ["Furnizor", "Cumpărător", "Cod fiscal", "Data prestării",
           "Data emiterii", "Preț unitar fără TVA", "Valoare TVA", "Total cu TVA", "utilizator-zi",
           "Sinteză TVA pe cote", "transfer bancar"]},
    "en": {"title": "INVOICE", "date": "3/18/2026", "gross": "HUF10,312", "net": "8,120", "vat": "2,192",
           "unit_price": "253.75", "rate": "27%", "labels": ["Seller", "Buyer", "Tax number", "Fulfilment date",
           "Issue date", "Net unit price", "VAT amount", "Gross total", "seat-day", "VAT summary by rate",
           "bank transfer"]},
    "de": {"title": "RECHNUNG", "date": "18.03.2026", "gross": "10.312 HUF", "net": "8.120", "vat": "2.192",
           "unit_price": "253,75", "rate": "27 %", "labels": ["Leistungserbringer", "Leistungsempfänger",
           "Steuernummer", "Leistungsdatum", "Rechnungsdatum", "Einzelpreis netto", "USt-Betrag", "Summe brutto",
           "Nutzer-Tag", "USt-Übersicht nach Steuersatz", "Überweisung"]},
}


@pytest.mark.parametrize("locale", ["hu", "ro", "en", "de"])
def test_domestic_invoice_has_every_mandatory_field(locale):
    text = text_of(render_document_pdf(INVOICE, locale))
    exp = EXPECTED[locale]
    for needle in [
        exp["title"], "INV-2026-000001",
        "MiniCRM Zrt.", "1117 Budapest, Október huszonharmadika utca 8.", "12345676-2-42",  # seller
        "Példa Őrző & Űrhajó Kft.", "6720 Szeged, Kárász utca 1.", "10773381-2-44",  # buyer
        exp["date"],  # issue and fulfilment date
        "MiniCRM Pro – felhasználói díj",
        "32", exp["unit_price"], exp["rate"], exp["net"], exp["vat"], exp["gross"],
        "11600006-00000000-12345678",
    ] + exp["labels"]:
        assert needle in text, (locale, needle)
    # the billed period 16–31 March in the locale's date format
    start = {"hu": "2026. 03. 16.", "ro": "16.03.2026", "en": "3/16/2026", "de": "16.03.2026"}[locale]
    assert f"{start} – " in text
    assert "HUF" in text or "Ft" in text
    assert "MNB" not in text  # a HUF invoice needs no exchange rate


def test_default_locale_is_the_documents():
    assert "SZÁMLA" in text_of(render_document_pdf(INVOICE))
    assert "FACTURĂ" in text_of(render_document_pdf(replace(INVOICE, locale="ro")))
    with pytest.raises(UnsupportedLocale):
        render_document_pdf(INVOICE, "fr")


@pytest.mark.parametrize(
    "locale,rate_line,huf_net,amount",
    [
        ("hu", "MNB árfolyam: 1 EUR = 385,12 HUF (árfolyam napja: 2026. 03. 18.)", "7 702 Ft", "20,00 EUR"),
        ("ro", "Curs MNB: 1 EUR = 385,12 HUF (data cursului: 18.03.2026)", "7.702 HUF", "20,00 EUR"),
        ("en", "MNB exchange rate: 1 EUR = 385.12 HUF (rate date: 3/18/2026)", "HUF7,702", "€20.00"),
        ("de", "MNB-Kurs: 1 EUR = 385,12 HUF (Kursdatum: 18.03.2026)", "7.702 HUF", "20,00 €"),
    ],
)
def test_eu_reverse_charge_invoice_in_euro(locale, rate_line, huf_net, amount):
    text = text_of(render_document_pdf(EU_INVOICE, locale))
    assert "Fordított adózás / Reverse charge" in text  # the statutory wording, in every locale
    assert "RO18547290" in text  # buyer's EU VAT number
    assert "HU12345676" in text  # seller's EU VAT number, mandatory on reverse-charge invoices
    assert "Ștefănescu Țesături SRL" in text
    assert rate_line in text
    assert huf_net in text and amount in text
    assert "0,3226" in text or "0.3226" in text
    if locale == "ro":
        assert "taxare inversă" in text


def test_out_of_scope_wording():
    doc = replace(EU_INVOICE, buyer=replace(RO_BUYER, country="US", eu_vat_number=None, third_country_id="12-3456789"),
                  vat_treatment=OUTSIDE)
    text = text_of(render_document_pdf(doc, "en"))
    assert "Outside the scope of Hungarian VAT" in text and "out of scope" not in text.lower().replace("outside the scope", "")
    assert "12-3456789" in text


@pytest.mark.parametrize(
    "locale,title",
    [("hu", "DÍJBEKÉRŐ – nem számla"), ("ro", "FACTURĂ PROFORMĂ – nu este factură fiscală"),
     ("en", "PROFORMA – not an invoice"), ("de", "PROFORMA-RECHNUNG – keine Rechnung")],
)
def test_proforma_says_it_is_not_an_invoice(locale, title):
    doc = replace(INVOICE, number="PRO-2026-000003", kind="proforma", due_date=date(2026, 3, 26), payment_method=None)
    text = text_of(render_document_pdf(doc, locale))
    assert title in text
    assert "PRO-2026-000003" in text
    due = {"hu": "2026. 03. 26.", "ro": "26.03.2026", "en": "3/26/2026", "de": "26.03.2026"}[locale]
    assert due in text


@pytest.mark.parametrize(
    "locale,label",
    [("hu", "Módosított számla sorszáma"), ("ro", "Factura corectată"), ("en", "Modifies invoice"),
     ("de", "Korrigierte Rechnung")],
)
def test_credit_note_names_the_invoice_it_modifies(locale, label):
    # refund of 8 unused seat-days: −(8 × 253.75) = −2030 net, 27 % → −548.10 → −548 VAT, −2578 gross
    line = DocumentLine("Visszatérítés", D(-8), "seat-day", D("253.75"), D(-2030), D(-548), D(-2578))
    doc = replace(INVOICE, number="CRN-2026-000001", kind="credit_note", lines=(line,), net=D(-2030), vat=D(-548),
                  gross=D(-2578), references=("INV-2026-000001",), modification_index=1)
    text = text_of(render_document_pdf(doc, locale))
    assert f"{label} INV-2026-000001" in text
    assert "CRN-2026-000001" in text
    assert {"hu": "-2 578 Ft", "ro": "-2.578 HUF", "en": "-HUF2,578", "de": "-2.578 HUF"}[locale] in text


@pytest.mark.parametrize("locale,quantity,unit,advance", [
    ("hu", "29,0931", "fő-nap", "Előleg (Áfa tv. 59. §)"),
    ("en", "29.0931", "seat-day", "Advance payment (Hungarian VAT Act, s. 59)"),
    ("ro", "29,0931", "utilizator-zi", "Avans (legea maghiară a TVA, art. 59)"),
    ("de", "29,0931", "Nutzer-Tag", "Anzahlung (§ 59 ungar. UStG)"),
])
def test_a_part_of_a_line_and_an_advance(locale, quantity, unit, advance):
    # 20,000 against 10,312 (proforma 1, 32 seat-days) and 9,688 of April's 19,980 (60 seat-days at
    # 9,990 / 30 = 333 gross, 333 / 1.27 = 262.2047… → 262.20 net): 60 × 9,688 / 19,980 = 29.0931
    # seat-days, net R(9,688 / 1.27) = 7,628, VAT 2,060; then 1,000 beyond the proformas: an advance,
    # net R(1,000 / 1.27) = 787, VAT 213
    april = DocumentLine("MiniCRM Pro – felhasználói díj", D("29.0931"), "seat-day", D("262.20"), D(7628),
                         D(2060), D(9688), date(2026, 4, 1), date(2026, 4, 30))
    extra = DocumentLine("Előleg", D(1), "piece", D(787), D(787), D(213), D(1000), advance=True)
    doc = replace(INVOICE, lines=(HU_LINE, april, extra), net=D(16535), vat=D(4465), gross=D(21000),
                  net_huf=D(16535), vat_huf=D(4465), gross_huf=D(21000), period_end=date(2026, 4, 30))
    text = text_of(render_document_pdf(doc, locale))
    assert quantity in text and unit in text and advance in text
    assert {"hu": "262,2", "en": "262.2", "ro": "262,2", "de": "262,2"}[locale] in text  # up to 2 more decimals
    assert text.count(advance) == 1  # only the advance line says it


def test_vat_summary_is_the_sum_of_the_lines():
    second = replace(HU_LINE, quantity=D(31), net=D(7866), vat=D(2124), gross=D(9990))
    doc = replace(INVOICE, lines=(HU_LINE, second))
    # 8120 + 7866 = 15986; 2192 + 2124 = 4316; 10312 + 9990 = 20302
    assert vat_summary(doc) == [(D("0.27"), D(15986), D(4316), D(20302))]


def test_same_document_same_bytes_and_the_font_is_embedded():
    first, second = render_document_pdf(INVOICE, "hu"), render_document_pdf(INVOICE, "hu")
    assert first == second
    assert first.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(first))
    fonts = [str(f.get_object()["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("DejaVuSans" in name for name in fonts)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


STATEMENT = Statement(
    account_id="acc-7", month="2026-03", currency="HUF", buyer=DE_BUYER, seller=SELLER,
    opening_balance=D(0),
    lines=(
        # 2 seats × 9,990 × 16/31 = 10,312.26 → 10,312 (cumulative rounding, 16–31 March)
        StatementLine(date(2026, 3, 16), date(2026, 3, 31), "charge", "MiniCRM Pro", D(-10312), 2, D(9990)),
        StatementLine(date(2026, 3, 18), date(2026, 3, 18), "payment", "Átutalás", D(10312), reference="PRO-2026-000001"),
    ),
    payments=D(10312), charges=D(10312), refunds=D(0), closing_balance=D(0), locale="de",
    explain=({"day": date(2026, 3, 16), "seats": 2, "exact_charge": D("644.5161290323")},),
)


@pytest.mark.parametrize(
    "locale,labels,month,days,payment",
    [
        ("hu", ["EGYENLEGKIVONAT", "Nyitó egyenleg", "Befizetések", "Díjak", "Visszatérítések", "Záró egyenleg"],
         "2026. március", "2026. 03. 16. – 2026. 03. 31.", "10 312 Ft"),
        ("ro", ["EXTRAS DE CONT", "Sold inițial", "Plăți", "Taxe", "Rambursări", "Sold final"],
         "martie 2026", "16.03.2026 – 31.03.2026", "10.312 HUF"),
        ("en", ["ACCOUNT STATEMENT", "Opening balance", "Payments", "Charges", "Refunds", "Closing balance"],
         "March 2026", "3/16/2026 – 3/31/2026", "HUF10,312"),
        ("de", ["KONTOAUSZUG", "Anfangssaldo", "Zahlungen", "Gebühren", "Erstattungen", "Endsaldo"],
         "März 2026", "16.03.2026 – 31.03.2026", "10.312 HUF"),
    ],
)
def test_statement(locale, labels, month, days, payment):
    text = text_of(render_statement_pdf(STATEMENT, locale))
    for needle in labels + [month, days, payment, "Müller Straße GmbH", "PRO-2026-000001", "acc-7"]:
        assert needle in text, (locale, needle)
    assert {"hu": "-10 312", "ro": "-10.312", "en": "-10,312", "de": "-10.312"}[locale] in text
    assert {"hu": "9 990", "ro": "9.990", "en": "9,990", "de": "9.990"}[locale] in text
    assert "exact_charge" not in text  # the appendix only on request


def test_statement_explain_appendix():
    text = text_of(render_statement_pdf(STATEMENT, explain=True))  # default: the statement's locale (de)
    assert "KONTOAUSZUG" in text and "Berechnungsdetails" in text
    assert "exact_charge: 644,5161290323" in text and "day: 16.03.2026" in text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
def test_first_page_rasterises(tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(render_document_pdf(EU_INVOICE, "ro"))
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    pngs = list(tmp_path.glob("page*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes().startswith(b"\x89PNG")
