"""From a draft of the pure core to the frozen legal document: seller and buyer, VAT split per
rate, HUF amounts at the exchange rate of the fulfilment day."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from billing.domain.records import DocumentDraft
from billing.money import round_unit_price, to_huf
from invoices.documents import Document, DocumentLine, Party, VatTreatment
from invoices.vat import split_gross, vies_note

log = logging.getLogger("billing.issuing")

# The memo of exchange_rate in a session's info: (currency, day) -> Rate, or the RateUnavailable
# MNB's answer was. One question per currency and day per transaction; the cycle seeds it with the
# rates it fetched before taking the write lock (billing/cycle/rates.py fetch_rates).
RATES = "exchange_rates"
# Rates of the documents composed in this transaction, by number: a credit note issued in the same
# transaction as its invoice (payment and termination in one run) finds the invoice's rate here.
DOCUMENT_RATES = "document_rates"


class RateUnavailable(Exception):
    """MNB gave no rate for the day: down, unreachable, or nothing published on or before it.
    Never replaced by a guess (CONTRACT §6): the invoice waits (billing/cycle/waiting.py).
    `answered`: MNB answered (and published nothing); else it did not answer at all."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True, slots=True)
class Rate:
    rate: Decimal  # HUF per one unit; 0 only on a proforma issued while MNB had no rate
    published_on: date | None
    source: str
    # Whether it can never change: the day is over, or its own fixing is out. Asked before 11:00 on
    # the day itself, MNB's answer is yesterday's rate, which that day's fixing may still replace:
    # good enough for a proforma or a report, never for an invoice (invoices/mnb.py is_final).
    final: bool = True


def rate_needs_database(currency: str) -> bool:
    """Whether exchange_rate reads (and may cache) an MNB rate: for every currency but HUF."""
    return currency != "HUF"


def exchange_rate(session: Session | None, currency: str, day: date) -> Rate:
    """MNB's official rate for `day`: the one published that day or the last one before it (a
    weekend, a holiday), from the exchange_rates table or MNB's web service (MNB_URL, default MNB's
    public one). HUF is 1 and asks nobody. Raises RateUnavailable: there is no other source."""
    currency = currency.upper()
    if currency == "HUF":
        return Rate(Decimal(1), day, "HUF")
    memo = session.info.setdefault(RATES, {}) if session is not None else {}
    found = memo.get((currency, day))
    if found is None:
        found = memo[(currency, day)] = _ask_mnb(session, currency, day)
    if isinstance(found, RateUnavailable):
        raise RateUnavailable(str(found), found.answered)
    return found


def _ask_mnb(session: Session | None, currency: str, day: date) -> Rate | RateUnavailable:
    from invoices.mnb import MnbClient

    return mnb_answer(MnbClient(), currency, day, session)


def mnb_answer(client: Any, currency: str, day: date, session: Session | None = None) -> Rate | RateUnavailable:
    """What MNB (an invoices.mnb.MnbClient; through the exchange_rates table with a session) says
    about `day`: its rate, or why there is none. The one place where MNB failing becomes "no
    rate", never a number from anywhere else (CONTRACT §6)."""
    from invoices.mnb import MnbError, MnbNoRate, cached_rate

    try:
        found = cached_rate(session, client, currency, day) if session is not None else client.rate_for(currency, day)
    except MnbError as exc:
        log.warning("MNB rate for %s on %s unavailable: %s", currency, day, exc)
        return RateUnavailable(f"no MNB rate for {currency} on {day.isoformat()}: {exc}",
                               answered=isinstance(exc, MnbNoRate))
    return Rate(found.rate, found.published_on, "MNB", final=client.is_final(day, found))


def invoice_rate(session: Session | None, currency: str, day: date) -> Rate:
    """The rate an invoice may carry: MNB's, and final. RateUnavailable otherwise."""
    rate = exchange_rate(session, currency, day)
    if not rate.final:
        raise _not_final(currency, day, rate)
    return rate


def _not_final(currency: str, day: date, rate: Rate) -> RateUnavailable:
    return RateUnavailable(f"MNB's {currency} rate for {day.isoformat()} is not final yet (its fixing comes out "
                           f"at 11:00; {rate.rate} of {rate.published_on} may still be replaced)", answered=True)


def known_reason(session: Session, currency: str, day: date) -> str | None:
    """Why this transaction already knows an invoice of `day` has no rate, asking nobody; None
    when it does not know of a reason."""
    answer = session.info.get(RATES, {}).get((currency.upper(), day))
    if isinstance(answer, RateUnavailable):
        return str(answer)
    if isinstance(answer, Rate) and not answer.final:
        return str(_not_final(currency.upper(), day, answer))
    return None


def rate_known(session: Session | None, currency: str, day: date) -> bool:
    """Whether an invoice of `day` can be issued now: MNB's final rate is known."""
    try:
        invoice_rate(session, currency, day)
    except RateUnavailable:
        return False
    return True


def document_rate(session: Session, draft: DocumentDraft) -> Rate:
    """The rate a draft is composed with. An invoice: MNB's for its fulfilment day, or
    RateUnavailable (the cycle never numbers an invoice without its rate). A credit note: the rate
    of the invoice it modifies, as that invoice states it (a modifying document converts at the
    rate of the original supply, as invoices/modifying.py does). A proforma: MNB's, and without
    one no HUF amounts at all (a payment request is no tax document; its invoice will state them)."""
    if draft.currency == "HUF":
        return Rate(Decimal(1), draft.fulfilment_date, "HUF")
    if draft.kind == "credit_note" and draft.references:
        base = _rate_of_invoice(session, draft.references[0])
        if base is not None:
            return base
    if draft.kind != "proforma":
        return invoice_rate(session, draft.currency, draft.fulfilment_date)
    try:
        return exchange_rate(session, draft.currency, draft.fulfilment_date)
    except RateUnavailable:
        return Rate(Decimal(0), None, "none")


def _rate_of_invoice(session: Session, number: str) -> Rate | None:
    composed = session.info.get(DOCUMENT_RATES, {}).get(number)
    if composed is not None:
        return composed
    from billing.db.models import DocumentRow

    row = session.get(DocumentRow, number)
    if row is None:
        return None
    published = row.body.get("exchange_rate_date")
    return Rate(Decimal(row.body["exchange_rate"]), date.fromisoformat(published) if published else None,
                f"the modified invoice {number}")


def remember_rate(session: Session, number: str, rate: Rate) -> None:
    session.info.setdefault(DOCUMENT_RATES, {})[number] = rate


def _split_lines(draft: DocumentDraft, vat: VatTreatment, total_net: Decimal) -> list[DocumentLine]:
    """The draft's lines with their net and VAT: each line's gross split at the rate, the last
    one taking what is left of the document's net (rounded once, from its gross), so the lines
    add up to the totals exactly. A seat-day's net unit price is the price of one seat for one
    day, exact gross / (1 + rate), rounded to two more decimals than the currency: quantity ×
    unit price then differs from the line's net by that rounding (and the net's own), which is
    normal on Hungarian invoices and far inside NAV's tolerance (1 % of the net, at least 1 unit,
    INCORRECT_LINE_CALCULATION_NET_AMOUNT). A lump sum's unit price is its net."""
    lines = []
    net_left = total_net
    for position, line in enumerate(draft.lines):
        if position == len(draft.lines) - 1:
            net = net_left  # the lines add up to the per-rate total, which was rounded once
        else:
            net, _ = split_gross(line.gross, vat.rate, draft.currency)
        net_left -= net
        quantity = line.quantity if line.quantity else Decimal(1)
        if line.unit_gross is not None:
            unit_price = line.unit_gross / (1 + Fraction(vat.rate))
        else:
            unit_price = Fraction(net) / Fraction(quantity)
        lines.append(DocumentLine(
            description=line.description, quantity=quantity, unit=line.unit,
            unit_price_net=round_unit_price(unit_price, draft.currency),
            net=net, vat=line.gross - net, gross=line.gross,
            period_start=line.period_start, period_end=line.period_end, advance=line.advance))
    return lines


def compose(draft: DocumentDraft, seller: Party, buyer: Party, vat: VatTreatment, rate: Rate,
            locale: str) -> Document:
    net, vat_amount = split_gross(draft.gross, vat.rate, draft.currency)
    notes = []
    if vat.legal_text:
        notes.append(vat.legal_text)
    if vat.vies_reference:  # the proof that VIES confirmed the buyer's VAT number (CONTRACT §6)
        notes.append(vies_note(vat))
    if draft.currency != "HUF" and not rate.rate:  # a proforma only (document_rate)
        notes.append(f"No MNB exchange rate was available on {draft.issue_date.isoformat()}: "
                     f"the HUF amounts are stated on the invoice")
    elif draft.currency != "HUF":
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


