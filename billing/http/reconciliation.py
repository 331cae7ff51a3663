"""The reconciliation report: the trial balance and the invariant checks as of a day."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI, Query
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import as_of_param
from billing.ops.reconciliation import reconcile


def register_reconciliation_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                                   principal_dep: Callable) -> None:
    @app.get("/v1/reconciliation", tags=["finance"])
    def get_reconciliation(as_of: str | None = Query(None), principal: auth.Principal = Depends(principal_dep),
                           session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        return reconcile(session, as_of_param(as_of, "as_of"))
