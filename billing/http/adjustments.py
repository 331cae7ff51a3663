"""Finance's adjustments (CONTRACT §6, §7): a correction of an issued invoice's buyer data and a
goodwill credit to an account's balance. Each answers 201 with what it issued, or 200 with what an
earlier copy of the same request issued (an Idempotency-Key header, or the same request on the
same business day)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Callable

from fastapi import Depends, FastAPI, Header, Response
from pydantic import AfterValidator, Field, field_validator, model_validator
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import release
from billing.ops import corrections, credits
from billing.ops.adjustments import Outcome, idempotency_key
from billing.views import documents as views
from billing.views.accounts import account_view
from invoices.taxnumbers import EU_VAT_NUMBER, HU_TAX_NUMBER, InvalidTaxNumber
from schemas.api import DecimalString, Strict

# XML 1.0 characters only: every text here goes into a PDF and NAV's XML.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    if _NOT_XML.search(value):
        raise ValueError("contains a character no document can hold (a control character)")
    return value


def _checked(face, formatter=None):
    def check(value: str) -> str:
        try:
            compact = face.validate(value)
        except InvalidTaxNumber as exc:
            raise ValueError(exc.reason) from exc
        return formatter(compact) if formatter else compact
    return AfterValidator(check)


Text = Annotated[str, AfterValidator(_xml_text)]
# Check digits by python-stdnum (invoices/taxnumbers.py): 12345676-2-41 passes, 12345678-1-42 does not.
TaxNumber = Annotated[str, Field(pattern=r"^\d{8}-[1-5]-\d{2}$", examples=["12345676-2-42"]),
                      _checked(HU_TAX_NUMBER, HU_TAX_NUMBER.format)]
VatNumber = Annotated[str, Field(pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,13}$", examples=["RO18547290"]),
                      _checked(EU_VAT_NUMBER)]
Reason = Annotated[Text, Field(min_length=1, max_length=500, description="why, in finance's words: printed on the "
                                                                        "document and sent to NAV")]


class CorrectedAddress(Strict):
    """The address as it should have been, whole."""
    postal_code: Annotated[Text, Field(max_length=16)]
    city: Annotated[Text, Field(min_length=1, max_length=100)]
    street: Annotated[Text, Field(min_length=1, max_length=200)]


class CorrectedBuyer(Strict):
    """The buyer fields to correct, at least one; a field left out stays as issued."""
    name: Annotated[Text, Field(min_length=1, max_length=300)] | None = None
    address: CorrectedAddress | None = None
    tax_number: TaxNumber | None = None
    eu_vat_number: VatNumber | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> "CorrectedBuyer":
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        if not given:
            raise ValueError("give at least one of name, address, tax_number, eu_vat_number")
        return self

    def changes(self) -> dict:
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}


class CorrectionIn(Strict):
    buyer: CorrectedBuyer
    reason: Reason


class CreditIn(Strict):
    amount: Annotated[DecimalString, Field(description="gross, in the account's currency and its precision, > 0")]
    reason: Reason

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Decimal) -> Decimal:
        if amount <= 0:
            raise ValueError("must be more than 0")
        return amount


IDEMPOTENCY = Header(None, alias="Idempotency-Key", max_length=200,
                     description="a retry with the same key gets the first answer (200), never a second document")
REPEAT = {200: {"description": "a repeat of an earlier request: what it issued, nothing new"}}


def _answer(session_factory, outcome: Outcome, response: Response) -> list[dict]:
    response.status_code = 201 if outcome.created else 200
    with session_factory() as session:
        return [views.document_view(session, number) for number in outcome.numbers]


def register_adjustment_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                               principal_dep: Callable) -> None:
    read_factory = app.state.read_factory

    @app.post("/v1/documents/{number}/corrections", tags=["adjustments"], status_code=201, responses=REPEAT)
    def post_correction(number: str, body: CorrectionIn, response: Response,
                        key: str | None = IDEMPOTENCY, principal: auth.Principal = Depends(principal_dep),
                        session: Session = Depends(session_dep)) -> dict:
        """A correction (kind `correction`, series COR) of an invoice issued with wrong buyer data:
        the corrected data, no amount, the next modification of the invoice's NAV chain (MODIFY).
        The account's own data is not changed (that is `account.updated`). A proforma: 409."""
        auth.require(principal, "finance")
        release(session)
        outcome = corrections.correct_invoice(factory, number, body.buyer.changes(), body.reason,
                                              idempotency_key(key))
        [document] = _answer(read_factory, outcome, response)
        return document

    @app.post("/v1/accounts/{account_id}/credits", tags=["adjustments"], status_code=201, responses=REPEAT)
    def post_credit(account_id: str, body: CreditIn, response: Response,
                    key: str | None = IDEMPOTENCY, principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)) -> dict:
        """A goodwill credit to the prepaid balance: credit notes (NAV MODIFY) of the invoices it
        reduces, the latest first, one per invoice; `amount` (gross) at most what those invoices
        still hold. The answer is the (first) credit note, all of them under `credit_notes`, and
        the account's balance after it."""
        auth.require(principal, "finance")
        release(session)
        outcome = credits.grant_credit(factory, account_id, Decimal(body.amount), body.reason, idempotency_key(key))
        notes = _answer(read_factory, outcome, response)
        with read_factory() as read:
            balance = account_view(read, account_id)["balance"]
        return {**notes[0], "credit_notes": [{k: v for k, v in n.items() if k != "document"} for n in notes],
                "balance": balance}
