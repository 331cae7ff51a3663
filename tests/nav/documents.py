"""Hand-built issued documents for the NAV tests; every amount carries its arithmetic."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from invoices.documents import Document, DocumentLine, Party, VatTreatment

SELLER = Party(
    name="Seatly Kft.", country="HU", postal_code="1061", city="Budapest", street="Andrássy út 1.",
    tax_number="12345678-2-42", bank_account="11111111-22222222-33333333", email="billing@seatly.hu",
)
DOMESTIC_BUYER = Party(
    name="Vevő Zrt.", country="HU", postal_code="6720", city="Szeged", street="Kárász utca 2.",
    tax_number="87654321-2-06",
)
EU_BUYER = Party(
    name="Client SRL", country="RO", postal_code="010011", city="București", street="Str. Lipscani 5",
    eu_vat_number="RO18547290",
)
US_BUYER = Party(
    name="Client Inc.", country="US", postal_code="", city="Austin", street="1 Congress Ave",
    third_country_id="12-3456789",
)
DOMESTIC = VatTreatment(kind="domestic", rate=D("0.27"))


def domestic_invoice(number: str = "INV-2024-0001") -> Document:
    # 310 seat-days (10 seats × 31 days) × 100 HUF = 31 000; VAT 31 000 × 0.27 = 8 370.
    line = DocumentLine(
        description="Seats, March 2024", quantity=D("310"), unit="seat-day", unit_price_net=D("100"),
        net=D("31000"), vat=D("8370"), gross=D("39370"),
        period_start=date(2024, 3, 1), period_end=date(2024, 3, 31),
    )
    return Document(
        number=number, kind="invoice", account_id="acc-1",
        issue_date=date(2024, 4, 1), fulfilment_date=date(2024, 3, 31), due_date=date(2024, 4, 9),
        currency="HUF", seller=SELLER, buyer=DOMESTIC_BUYER, lines=(line,),
        net=D("31000"), vat=D("8370"), gross=D("39370"), vat_treatment=DOMESTIC,
        exchange_rate=D("1"), exchange_rate_date=None,
        net_huf=D("31000"), vat_huf=D("8370"), gross_huf=D("39370"),
        payment_method="bank_transfer", period_start=date(2024, 3, 1), period_end=date(2024, 3, 31),
    )


def eu_reverse_charge_invoice(number: str = "INV-2024-0002") -> Document:
    rc = VatTreatment(
        kind="reverse_charge", rate=D("0"), nav_case="EUFAD37",
        legal_text="Fordított adózás / Reverse charge", vies_reference="WAPIAAAAW1", vies_checked_on=date(2024, 4, 1),
    )
    lines = (
        # 31 × 3.23 = 100.13 EUR
        DocumentLine("Seats, team A", D("31"), "seat-day", D("3.23"), D("100.13"), D("0"), D("100.13")),
        # 62 × 3.23 = 200.26 EUR
        DocumentLine("Seats, team B", D("62"), "seat-day", D("3.23"), D("200.26"), D("0"), D("200.26")),
        DocumentLine("Onboarding", D("1"), "piece", D("33.33"), D("33.33"), D("0"), D("33.33")),
    )
    # 100.13 + 200.26 + 33.33 = 333.72 EUR; × 392.15 = 130 868.298 -> 130 868 HUF (whole forints).
    return Document(
        number=number, kind="invoice", account_id="acc-2",
        issue_date=date(2024, 4, 1), fulfilment_date=date(2024, 3, 31), due_date=date(2024, 4, 15),
        currency="EUR", seller=SELLER, buyer=EU_BUYER, lines=lines,
        net=D("333.72"), vat=D("0"), gross=D("333.72"), vat_treatment=rc,
        exchange_rate=D("392.15"), exchange_rate_date=date(2024, 3, 29),
        net_huf=D("130868"), vat_huf=D("0"), gross_huf=D("130868"),
        payment_method="card", period_start=date(2024, 3, 1), period_end=date(2024, 3, 31),
    )


def non_eu_invoice(number: str = "INV-2024-0003") -> Document:
    ho = VatTreatment(kind="out_of_scope", rate=D("0"), nav_case="HO", legal_text="Outside the scope of Hungarian VAT")
    # 10 seats × 9.90 USD = 99.00 USD; × 360.5 = 35 689.5 -> 35 690 HUF.
    line = DocumentLine("Seats, April 2024 (prepaid)", D("10"), "piece", D("9.90"), D("99.00"), D("0"), D("99.00"))
    return Document(
        number=number, kind="invoice", account_id="acc-3",
        issue_date=date(2024, 4, 1), fulfilment_date=date(2024, 4, 1), due_date=date(2024, 4, 1),
        currency="USD", seller=SELLER, buyer=US_BUYER, lines=(line,),
        net=D("99.00"), vat=D("0"), gross=D("99.00"), vat_treatment=ho,
        exchange_rate=D("360.5"), exchange_rate_date=date(2024, 3, 29),
        net_huf=D("35690"), vat_huf=D("0"), gross_huf=D("35690"), payment_method=None,
    )


def credit_note(number: str = "CN-2024-0001", base: str = "INV-2024-0001") -> Document:
    # Refund of 31 seat-days: -31 × 100 = -3 100 HUF; VAT -3 100 × 0.27 = -837.
    line = DocumentLine(
        "Refund: 1 seat, March 2024", D("-31"), "seat-day", D("100"), D("-3100"), D("-837"), D("-3937"),
        period_start=date(2024, 3, 1), period_end=date(2024, 3, 31),
    )
    return replace(
        domestic_invoice(number), kind="credit_note", lines=(line,),
        issue_date=date(2024, 4, 5), net=D("-3100"), vat=D("-837"), gross=D("-3937"),
        net_huf=D("-3100"), vat_huf=D("-837"), gross_huf=D("-3937"),
        references=(base,), modification_index=1,
    )
