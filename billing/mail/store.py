"""Outbox rows of decided messages, written in the transaction that decides them.

Inside a cycle chunk the rows wait in the chunk's row buffer (billing/cycle/write.py add_row) and
are written with the chunk's other rows; a prepared step's rows carry its proformas' placeholder
numbers, which the chunk replaces in every text (key, document, params) when it numbers them.
They are inserted with ON CONFLICT (account_id, key) DO NOTHING: on PostgreSQL a second
transaction inserting the same key waits for the first and then inserts nothing; on SQLite the
writer is alone (BEGIN IMMEDIATE) and OR IGNORE does the same."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from billing.db import bulk
from billing.db import models as m
from billing.domain.records import Outcome
from billing.domain.state import AccountState
from billing.mail.decide import MessageDraft, for_document, for_step
from invoices.documents import Document

TABLE = m.MailMessage.__table__
PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


def message_row(account_id: str, to: str | None, locale: str, draft: MessageDraft, now: datetime) -> tuple[Any, dict]:
    return TABLE, {"account_id": account_id, "key": draft.key, "kind": draft.kind, "day": draft.day,
                   "document_number": draft.document, "to_address": to, "locale": locale or "hu",
                   "params": orjson.dumps(draft.params).decode(), "status": PENDING, "attempts": 0,
                   "next_attempt_at": now, "claimed_until": None, "message_id": None, "sent_at": None,
                   "last_error": None, "created_at": now}


def document_message_row(doc: Document, now: datetime) -> tuple[Any, dict]:
    """The message of an issued document, to the buyer's e-mail as the document states it."""
    return message_row(doc.account_id, doc.buyer.email, doc.locale, for_document(doc), now)


def step_message_rows(account, before: AccountState, after: AccountState, outcome: Outcome,
                      payment_terms_days: int, now: datetime) -> list[tuple[Any, dict]]:
    """`account`: the account row (ORM or Core) as the step used it: its e-mail and language."""
    drafts = for_step(before, after, outcome, account.created_day, account.currency, payment_terms_days)
    return [message_row(account.id, account.email, account.locale, draft, now) for draft in drafts]


def insert_messages(session: Session, rows: list[dict]) -> None:
    bulk.insert_new_rows(session, TABLE, rows, ("account_id", "key"))
