"""Read models of the outbox: an account's messages, and every message of a status (finance's
list of dead ones)."""
from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import models as m
from billing.mail.render import subject
from billing.views.accounts import get_account

M = m.MailMessage
STATUSES = ("pending", "sending", "sent", "dead")


def message_view(row: m.MailMessage) -> dict:
    return {"id": row.id, "account_id": row.account_id, "kind": row.kind, "day": row.day.isoformat(),
            "to": row.to_address, "subject": subject(row.kind, orjson.loads(row.params), row.locale),
            "status": row.status, "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "document": row.document_number, "locale": row.locale, "attempts": row.attempts,
            "message_id": row.message_id, "last_error": row.last_error}


def account_messages(session: Session, account_id: str) -> dict:
    get_account(session, account_id)  # 404 for an unknown account
    rows = session.scalars(select(M).where(M.account_id == account_id).order_by(M.day, M.id))
    return {"account_id": account_id, "messages": [message_view(row) for row in rows]}


def messages_by_status(session: Session, status: str | None, limit: int, after: int | None) -> dict:
    query = select(M).order_by(M.id).limit(limit + 1)
    if status is not None:
        query = query.where(M.status == status)
    if after is not None:
        query = query.where(M.id > after)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [message_view(row) for row in rows], "next_cursor": str(rows[-1].id) if more else None}
