"""The monthly statement of an account, as JSON and as PDF."""
from __future__ import annotations

import dataclasses
from typing import Callable

from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import locale_param
from billing.views import explain
from billing.views import statements as views


def register_statement_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    # Before .../{month}: a path parameter would take "2026-03.pdf" as a month.
    @app.get("/v1/accounts/{account_id}/statements/{month}.pdf", tags=["statements"],
             response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
    def get_statement_pdf(account_id: str, month: str, locale: str | None = None,
                          with_explain: int = Query(0, alias="explain"),
                          principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        from invoices.pdf import render_statement_pdf

        st = views.statement(session, account_id, month)
        if with_explain:
            st = dataclasses.replace(st, explain=tuple(explain.explain_month(session, account_id, month)))
        pdf = render_statement_pdf(st, locale_param(locale), explain=bool(with_explain))
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="statement-{account_id}-{month}.pdf"'})

    @app.get("/v1/accounts/{account_id}/statements/{month}", tags=["statements"])
    def get_statement(account_id: str, month: str, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.statement_json(views.statement(session, account_id, month))
