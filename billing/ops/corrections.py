"""A correction of an issued invoice's buyer data (CONTRACT §6, §7; Áfa tv. 170. §): a modifying
document of its own (kind `correction`, series COR), reported to NAV as the next MODIFY of the
invoice's chain, with the corrected data and no amount. The invoice itself never changes, nor does
the account: new buyer data for later documents is `account.updated`."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.db import models as m
from billing.db.session import make_read_factory
from billing.domain import records as r
from billing.domain.adjustments import INVOICE_CORRECTED, invoice_of
from billing.domain.state import AccountState
from billing.errors import Conflict, InvalidInput, NotFound, invalid_field
from billing.ops.adjustments import Outcome, Request, adjust, store_document
from invoices.documents import Document, Party
from invoices.modifying import corrected_buyer, correction
from invoices.taxnumbers import EU_VAT_NUMBER, HU_TAX_NUMBER, InvalidTaxNumber
from invoices.vat import vat_prefix


def _invalid(field: str, message: str) -> InvalidInput:
    return invalid_field(field, message, f"{field}: {message}")


def correctable_invoice(session: Session, number: str) -> Document:
    """The invoice as issued. Only an invoice is corrected: a proforma is no tax document, and NAV
    keeps one modification chain per invoice, so a credit note's or a correction's buyer is
    corrected by correcting the invoice they modify."""
    row = session.get(m.DocumentRow, number)
    if row is None:
        raise NotFound(f"no document {number}")
    if row.kind == "proforma":
        raise Conflict(f"{number} is a proforma, a payment request and not an invoice: there is nothing to correct")
    if row.kind != "invoice":
        modified = ", ".join(row.body.get("references", [])) or "its invoice"
        raise Conflict(f"{number} is a {row.kind}: correct the invoice it modifies ({modified}), whose chain it is in")
    return Document.from_json(row.body)


def _core(tax_number: str | None) -> str | None:
    """The 8-digit core (törzsszám) that names the taxpayer, or None."""
    try:
        return HU_TAX_NUMBER.validate(tax_number)[:8] if tax_number else None
    except InvalidTaxNumber:
        return None


def check_buyer(base: Document, buyer: Party, changes: dict[str, Any]) -> None:
    """The corrected buyer must fit the invoice as issued: a correction changes no amount, so it
    cannot change the VAT treatment the amounts were computed with."""
    if "tax_number" in changes:
        if base.vat_treatment.kind != "domestic":
            treatment = base.vat_treatment.kind.replace("_", " ")
            raise _invalid("buyer.tax_number", f"the invoice was issued with {treatment}; a Hungarian tax number "
                                               "would change its VAT: credit it and invoice again")
        if _core(billing_config.seller().tax_number) == _core(buyer.tax_number):
            raise _invalid("buyer.tax_number", "is the seller's own tax number")
    if "eu_vat_number" in changes:
        prefix = EU_VAT_NUMBER.compact(buyer.eu_vat_number or "")[:2]
        if prefix != vat_prefix(buyer.country):
            raise _invalid("buyer.eu_vat_number", f"does not belong to the buyer's country {buyer.country}")


def buyer_now(session: Session, invoice: Document) -> Party:
    """The buyer as the invoice's chain states it now: the latest correction's, else the invoice's.
    A correction is sent whole to NAV, so a second one must carry what the first corrected."""
    latest = None
    for row in session.scalars(select(m.DocumentRow).where(
            m.DocumentRow.account_id == invoice.account_id, m.DocumentRow.kind == "correction")
            .order_by(m.DocumentRow.issue_date, m.DocumentRow.number)):
        if (row.body.get("references") or [None])[0] == invoice.number:
            latest = row
    return Party(**latest.body["buyer"]) if latest is not None else invoice.buyer


def correct_invoice(factory: sessionmaker, number: str, changes: dict[str, Any], reason: str,
                    idempotency_key: str | None) -> Outcome:
    with make_read_factory(factory.kw["bind"])() as session:  # no lock: an issued document never changes
        base = correctable_invoice(session, number)
    request = {"number": number, "buyer": changes, "reason": reason}
    corrected: dict[str, Any] = {}

    def check(session: Session, account: m.Account, state: AccountState | None) -> dict[str, Any]:
        if state is None or invoice_of(state, number) is None:
            raise Conflict(f"{number} is not among the invoices of account {account.id}")
        # Under the lock: an earlier correction of this invoice is what this one corrects.
        buyer, diff = corrected_buyer(buyer_now(session, base), changes)
        check_buyer(base, buyer, changes)
        if not diff:
            raise _invalid("buyer", f"nothing differs from what {number} states now")
        corrected.update(buyer=buyer, diff=diff)
        # No buyer data in the event: the log outlives an erasure of personal data; the document keeps it.
        return {"fields": [field for field, _, _ in diff]}

    def issue(session: Session, account: m.Account, drafts: list[r.DocumentDraft]) -> list[Document]:
        [draft] = drafts
        doc = correction(base, number=draft.number, issue_date=draft.issue_date, seller=billing_config.seller(),
                         buyer=corrected["buyer"], corrected=corrected["diff"], reason=reason,
                         modification_index=draft.modification_index or 0, locale=account.locale)
        store_document(session, doc, draft)
        return [doc]

    return adjust(factory, Request(base.account_id, INVOICE_CORRECTED, f"invoice\n{number}", request,
                                   {"invoice": number, "reason": reason}, idempotency_key), check, issue)
