"""The frozen records of finance's modifying documents, from the invoice they modify (pure).

Both take from the modified invoice what a modification must keep: its VAT treatment (a credit
note gives back VAT at the rate it was charged, whatever the account pays today) and its exchange
rate (the HUF effect of a change is measured at the rate of the supply it changes, and no new rate
has to be fetched or guessed). A correction changes the buyer's data and nothing else.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.money import round_unit_price, to_huf
from invoices.documents import Document, DocumentLine, Party
from invoices.vat import split_gross

ZERO = Decimal(0)
# The buyer fields a correction may change, in the order a document shows them.
CORRECTABLE = ("name", "address", "tax_number", "eu_vat_number")


def address_text(party: Party) -> str:
    return ", ".join(part for part in (" ".join(p for p in (party.postal_code, party.city) if p), party.street) if part)


def _shown(party: Party, field: str) -> str:
    if field == "address":
        return address_text(party)
    return getattr(party, field) or ""


def corrected_buyer(buyer: Party, changes: dict) -> tuple[Party, tuple[tuple[str, str, str], ...]]:
    """The buyer with `changes` applied ({"name": …, "address": {postal_code, city, street},
    "tax_number": …, "eu_vat_number": …}) and what changed: (field, before, corrected) for each
    field whose value differs."""
    values: dict = {}
    for field in CORRECTABLE:
        if field not in changes:
            continue
        if field == "address":
            address = changes["address"]
            values.update(postal_code=address["postal_code"], city=address["city"], street=address["street"])
        else:
            values[field] = changes[field]
    new = replace(buyer, **values)
    diff = tuple((field, _shown(buyer, field), _shown(new, field)) for field in CORRECTABLE
                 if field in changes and _shown(buyer, field) != _shown(new, field))
    return new, diff


def correction(base: Document, *, number: str, issue_date: date, seller: Party, buyer: Party,
               corrected: tuple[tuple[str, str, str], ...], reason: str, modification_index: int,
               locale: str) -> Document:
    """A correction of `base`: its head data as issued (fulfilment, period, due date, currency,
    rate, VAT treatment), the corrected buyer, no lines and no amounts."""
    return Document(
        number=number, kind="correction", account_id=base.account_id, issue_date=issue_date,
        fulfilment_date=base.fulfilment_date, due_date=base.due_date, currency=base.currency,
        seller=seller, buyer=buyer, lines=(), net=ZERO, vat=ZERO, gross=ZERO,
        vat_treatment=base.vat_treatment, exchange_rate=base.exchange_rate,
        exchange_rate_date=base.exchange_rate_date, net_huf=ZERO, vat_huf=ZERO, gross_huf=ZERO,
        locale=locale, payment_method=base.payment_method, period_start=base.period_start,
        period_end=base.period_end, references=(base.number,), modification_index=modification_index,
        notes=tuple(n for n in (base.vat_treatment.legal_text,) if n), corrected=corrected, reason=reason)


def credit_note(base: Document, *, number: str, issue_date: date, seller: Party, buyer: Party,
                gross: Decimal, description: str, reason: str, modification_index: int,
                locale: str) -> Document:
    """A goodwill credit note of `base` for `gross` (negative): one line, net = R(gross / (1 + rate)),
    VAT = gross − net, in the invoice's currency and, at its rate, in HUF."""
    treatment = base.vat_treatment
    net, vat = split_gross(gross, treatment.rate, base.currency)
    line = DocumentLine(description=description, quantity=Decimal(-1), unit="piece",
                        unit_price_net=round_unit_price(Fraction(net) / -1, base.currency),
                        net=net, vat=vat, gross=gross)
    net_huf, vat_huf = to_huf(net, base.exchange_rate), to_huf(vat, base.exchange_rate)
    notes = [n for n in (treatment.legal_text,) if n]
    if base.currency != "HUF":
        notes.append(f"Exchange rate of the modified invoice {base.number}: {base.exchange_rate} HUF/{base.currency}"
                     f"{' (MNB, ' + base.exchange_rate_date.isoformat() + ')' if base.exchange_rate_date else ''}")
    return Document(
        number=number, kind="credit_note", account_id=base.account_id, issue_date=issue_date,
        fulfilment_date=issue_date, due_date=issue_date, currency=base.currency, seller=seller, buyer=buyer,
        lines=(line,), net=net, vat=vat, gross=gross, vat_treatment=treatment,
        exchange_rate=base.exchange_rate, exchange_rate_date=base.exchange_rate_date,
        net_huf=net_huf, vat_huf=vat_huf, gross_huf=net_huf + vat_huf, locale=locale,
        references=(base.number,), modification_index=modification_index, notes=tuple(notes), reason=reason)
