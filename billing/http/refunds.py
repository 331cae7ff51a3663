"""Refunds due after terminations: the list for finance, and executing the card parts through Stripe."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI, Query
from sqlalchemy.orm import Session, sessionmaker

from billing.dates import budapest_today
from billing.errors import InvalidInput
from billing.http import auth
from billing.http.params import as_of_param, release
from billing.payments import usecases
from billing.payments.stripe_gateway import gateway_from_env
from schemas.api import RefundPaidIn

REFUND_FILTERS = ("due", "overdue", "all")


def register_refund_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                           principal_dep: Callable) -> None:
    @app.post("/v1/refunds/execute", tags=["refunds"])
    def post_execute_refunds(principal: auth.Principal = Depends(principal_dep),
                             session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        release(session)
        return usecases.execute_due_refunds(factory, gateway_from_env())

    @app.post("/v1/refunds/{refund_id}/paid", tags=["refunds"])
    def post_refund_paid(refund_id: int, body: RefundPaidIn, principal: auth.Principal = Depends(principal_dep),
                         session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        release(session)
        view, _ = usecases.mark_refund_paid(factory, refund_id, body.paid_on, body.reference, budapest_today())
        return view

    @app.get("/v1/refunds", tags=["refunds"])
    def get_refunds(status: str = "due", as_of: str | None = Query(None),
                    principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        if status not in REFUND_FILTERS:
            raise InvalidInput("unknown refund filter", {"errors": [{"field": "status",
                                                                     "message": f"one of {REFUND_FILTERS}"}]})
        return usecases.list_refunds(session, status, as_of_param(as_of, "as_of"))
