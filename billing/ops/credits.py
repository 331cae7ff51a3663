"""A goodwill credit (CONTRACT §6, §7): finance credits an account's prepaid balance, documented by
credit notes (NAV MODIFY) of the invoices it reduces, the latest first, one per invoice."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.accounts import buyer_of
from billing.db import models as m
from billing.domain import records as r
from billing.domain.adjustments import CLOSED, CREDIT_GRANTED, creditable
from billing.domain.state import AccountState
from billing.errors import Conflict, InvalidInput
from billing.money import fmt, has_currency_precision
from billing.ops.adjustments import Outcome, Request, adjust, store_document
from billing.views.documents import frozen_document
from invoices.documents import Document
from invoices.modifying import credit_note


def _amount_error(message: str) -> InvalidInput:
    return InvalidInput(f"amount: {message}", {"errors": [{"field": "amount", "message": message}]})


def grant_credit(factory: sessionmaker, account_id: str, amount: Decimal, reason: str,
                 idempotency_key: str | None) -> Outcome:
    amount_text = format(amount.normalize(), "f")  # "3000" and "3000.00" are one request
    request = {"amount": amount_text, "reason": reason}

    def check(session: Session, account: m.Account, state: AccountState | None) -> None:
        if not has_currency_precision(amount, account.currency):
            raise _amount_error(f"more decimals than {account.currency} has")
        if state is not None and state.status in CLOSED:
            raise Conflict(f"account {account.id} is {state.status}: its balance was settled, a credit "
                           "would be a payout")
        held = creditable(state) if state is not None and state.through is not None else Decimal(0)
        if amount > held:
            # gross invoiced less what earlier credit notes took (refunds, earlier credits)
            raise _amount_error(f"at most {fmt(held, account.currency)} {account.currency}: what the account's "
                                "invoices still hold")

    def issue(session: Session, account: m.Account, drafts: list[r.DocumentDraft]) -> list[Document]:
        seller, buyer = billing_config.seller(), buyer_of(account)
        issued = []
        for draft in drafts:
            doc = credit_note(frozen_document(session, draft.references[0]), number=draft.number,
                              issue_date=draft.issue_date, seller=seller, buyer=buyer, gross=draft.gross,
                              description=draft.lines[0].description, reason=reason,
                              modification_index=draft.modification_index or 0, locale=account.locale)
            store_document(session, doc, draft)
            issued.append(doc)
        return issued

    return adjust(factory, Request(account_id, CREDIT_GRANTED, f"account\n{account_id}", request,
                                   request, idempotency_key), check, issue)
