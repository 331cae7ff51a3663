"""Accounts: the back office's list, one account's state, its ledger, how a day was derived, what
the cycle would do, customer keys, and the erasure of its personal data."""
from __future__ import annotations

from typing import Callable, Literal

from fastapi import Depends, FastAPI, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import day_param, release
from billing.ops.gdpr import erase_personal_data
from billing.views.cursors import MAX_CURSOR_CHARS
from billing.views import accounts as views
from billing.views import explain
from billing.views import lists

AccountState = Literal["trialing", "awaiting_payment", "active", "past_due", "suspended", "terminated", "expired"]


def register_account_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/accounts", tags=["accounts"])
    def list_accounts(request: Request, state: AccountState | None = Query(None),
                      q: str | None = Query(None, max_length=200),
                      limit: int = Query(lists.DEFAULT_LIMIT, ge=1, le=lists.MAX_LIMIT),
                      cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                      principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)) -> dict:
        """Every account, by id, each as GET /v1/accounts/{id} shows it: `{"items", "next_cursor"}`.
        `state` as that view shows it; `q` a case-insensitive part of the id or the name. Pass
        next_cursor back as `cursor` for the next page; the list ends when it is null (a filtered
        page may hold fewer than `limit` items before that). A customer key gets 403: its own
        account is GET /v1/accounts/{id}."""
        auth.require(principal, "crm", "finance")
        lists.check_query(request.query_params.multi_items(), ("state", "q", "limit", "cursor"))
        return lists.account_page(session, state=state, q=q or None, limit=limit, cursor=cursor)

    @app.get("/v1/accounts/{account_id}", tags=["accounts"])
    def get_account(account_id: str, principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.account_view(session, account_id)

    @app.post("/v1/accounts/{account_id}/keys", tags=["accounts"], status_code=201)
    def post_key(account_id: str, principal: auth.Principal = Depends(principal_dep)) -> dict:
        auth.require(principal, "crm")
        with factory.begin() as session:
            views.get_account(session, account_id)
            key = auth.create_key(session, "customer", account_id)
        return {"key": key, "account_id": account_id, "scope": "customer"}

    @app.get("/v1/accounts/{account_id}/ledger", tags=["accounts"])
    def get_ledger(account_id: str, date_from: str | None = Query(None, alias="from"),
                   date_to: str | None = Query(None, alias="to"),
                   limit: int | None = Query(None, ge=1, le=lists.MAX_LIMIT),
                   cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                   principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        """The customer's entries by (day, id), `from`/`to` inclusive: `{"account_id", "currency",
        "entries", "next_cursor"}`; each `balance_after` is the balance from the account's first
        entry on. Without `limit` every entry in the range (next_cursor null); with it a page, and
        next_cursor passed back as `cursor` (with the same from/to) gives the next one."""
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.ledger_view(session, account_id, day_param(date_from, "from"), day_param(date_to, "to"),
                                 limit, cursor or None)

    @app.get("/v1/accounts/{account_id}/explain", tags=["explain"])
    def get_account_explain(account_id: str, date_: str = Query(..., alias="date"),
                            principal: auth.Principal = Depends(principal_dep),
                            session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return explain.explain_day(session, account_id, day_param(date_, "date"))

    @app.get("/v1/accounts/{account_id}/preview", tags=["explain"])
    def get_preview(account_id: str, until: str = Query(...), principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return explain.preview(session, account_id, day_param(until, "until"))

    @app.delete("/v1/accounts/{account_id}/personal-data", tags=["accounts"])
    def delete_personal_data(account_id: str, principal: auth.Principal = Depends(principal_dep),
                             session: Session = Depends(session_dep)) -> dict:
        """Erase the account's personal data; issued documents, their PDFs and NAV XML stay as issued.
        409 while the account is live (terminate it first)."""
        auth.require(principal, "crm")
        release(session)
        return erase_personal_data(factory, account_id)
