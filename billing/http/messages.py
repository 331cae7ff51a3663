"""The customer's messages (CONTRACT §8): an account's, and finance's list by status (the dead
ones: given up after MAIL_MAX_ATTEMPTS or refused for good by the mail server)."""
from __future__ import annotations

from typing import Callable, Literal

from fastapi import Depends, FastAPI, Query
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import invalid_field
from billing.http import auth
from billing.mail import views

MessageStatus = Literal["pending", "sending", "sent", "dead"]
MAX_LIMIT = 500


def register_message_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/accounts/{account_id}/messages", tags=["messages"])
    def get_account_messages(account_id: str, principal: auth.Principal = Depends(principal_dep),
                             session: Session = Depends(session_dep)) -> dict:
        """Every message decided for the account, by business day: `id, kind, day` (the day that
        decided it), `to, subject, status` (pending, sending, sent, dead), `sent_at, document`."""
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.account_messages(session, account_id)

    @app.get("/v1/messages", tags=["messages"])
    def list_messages(status: MessageStatus | None = Query(None), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                      cursor: str | None = Query(None, max_length=20),
                      principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)) -> dict:
        """Finance: every account's messages in outbox order, `?status=dead` for those given up on;
        `{"items", "next_cursor"}`."""
        auth.require(principal, "finance")
        if cursor is not None and not cursor.isdigit():
            raise invalid_field("cursor", "is not a cursor this list gave")
        return views.messages_by_status(session, status, limit, int(cursor) if cursor else None)
