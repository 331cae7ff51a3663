"""The audit trail: who changed what, through which request (finance)."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI, Query
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import day_param
from billing.views.audit import audit_page
from billing.views.cursors import MAX_CURSOR_CHARS

MAX_LIMIT = 500


def register_audit_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/audit", tags=["finance"])
    def get_audit(date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                  limit: int = Query(50, ge=1, le=MAX_LIMIT), cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                  principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        return audit_page(session, day_param(date_from, "from"), day_param(date_to, "to"), limit, cursor)
