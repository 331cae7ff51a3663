"""From a draft of the pure core to the frozen legal document: seller and buyer, VAT split per
rate, HUF amounts at the exchange rate of the fulfilment day."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy.orm import Session

from billing.domain.records import DocumentDraft
from billing.money import round_unit_price, to_huf
from invoices.documents import Document, DocumentLine, Party, VatTreatment
from invoices.vat import split_gross, vies_note

log = logging.getLogger("billing.issuing")

# Used only when MNB_URL is unset (the offline demo) or MNB and the cache both fail: the document
# says which rate it used and where it came from (README: exchange rates).
_FALLBACK_RATES = {"EUR": Decimal("400.00"), "RON": Decimal("80.00"), "USD": Decimal("370.00")}


@dataclass(frozen=True, slots=True)
class Rate:
    rate: Decimal
    published_on: date | None
    source: str


def fallback_rates() -> dict[str, Decimal]:
    configured = os.environ.get("BILLING_FALLBACK_RATES")
    if not configured:
        return _FALLBACK_RATES
    pairs = (item.split("=") for item in configured.split(",") if "=" in item)
    return {k.strip().upper(): Decimal(v.strip()) for k, v in pairs}


def rate_needs_database(currency: str) -> bool:
    """Whether exchange_rate may read and cache an MNB rate (else it needs no session)."""
    return currency != "HUF" and bool(os.environ.get("MNB_URL"))


def exchange_rate(session: Session | None, currency: str, day: date) -> Rate:
    if currency == "HUF":
        return Rate(Decimal(1), day, "HUF")
    if rate_needs_database(currency):
        from invoices.mnb import MnbClient, MnbError, cached_rate

        try:
            found = cached_rate(session, MnbClient(), currency, day)
            return Rate(found.rate, found.published_on, "MNB")
        except MnbError as exc:
            log.warning("MNB rate for %s on %s unavailable: %s", currency, day, exc)
    return Rate(fallback_rates().get(currency, Decimal(1)), None, "fallback (MNB not reachable)")


def _split_lines(draft: DocumentDraft, vat: VatTreatment, total_net: Decimal) -> list[DocumentLine]:
    lines = []
    net_left = total_net
    for position, line in enumerate(draft.lines):
        if position == len(draft.lines) - 1:
            net = net_left  # the lines add up to the per-rate total, which was rounded once
        else:
            net, _ = split_gross(line.gross, vat.rate, draft.currency)
        net_left -= net
        quantity = line.quantity if line.quantity else Decimal(1)
        lines.append(DocumentLine(
            description=line.description, quantity=quantity, unit=line.unit,
            unit_price_net=round_unit_price(Fraction(net) / Fraction(quantity), draft.currency),
            net=net, vat=line.gross - net, gross=line.gross,
            period_start=line.period_start, period_end=line.period_end))
    return lines


def compose(draft: DocumentDraft, seller: Party, buyer: Party, vat: VatTreatment, rate: Rate,
            locale: str) -> Document:
    net, vat_amount = split_gross(draft.gross, vat.rate, draft.currency)
    notes = []
    if vat.legal_text:
        notes.append(vat.legal_text)
    if vat.vies_reference:  # the proof that VIES confirmed the buyer's VAT number (CONTRACT §6)
        notes.append(vies_note(vat))
    if draft.currency != "HUF":
        notes.append(f"Exchange rate: {rate.rate} HUF/{draft.currency} ({rate.source}"
                     f"{', ' + rate.published_on.isoformat() if rate.published_on else ''})")
    return Document(
        number=draft.number, kind=draft.kind, account_id=draft.account_id, issue_date=draft.issue_date,
        fulfilment_date=draft.fulfilment_date, due_date=draft.due_date, currency=draft.currency,
        seller=seller, buyer=buyer, lines=tuple(_split_lines(draft, vat, net)),
        net=net, vat=vat_amount, gross=draft.gross, vat_treatment=vat, exchange_rate=rate.rate,
        exchange_rate_date=rate.published_on,
        net_huf=to_huf(net, rate.rate), vat_huf=to_huf(vat_amount, rate.rate),
        gross_huf=to_huf(net, rate.rate) + to_huf(vat_amount, rate.rate),
        locale=locale, payment_method=draft.payment_method, period_start=draft.period_start,
        period_end=draft.period_end, references=draft.references,
        modification_index=draft.modification_index, notes=tuple(notes))


