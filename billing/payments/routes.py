"""HTTP routes of the payments package and the reconciliation report. Thin: authorise, read the
body, call one use case. Wired from billing/api.py with
`register_payment_routes(app, factory, session_dep, principal_dep)`."""
from __future__ import annotations

from datetime import date
from typing import Callable

from starlette.concurrency import run_in_threadpool
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from billing import auth
from billing.http_json import read_json
from billing.dates import budapest_today, parse_day
from billing.errors import InvalidInput, Unavailable
from billing.payments import usecases
from billing.payments.errors import PaymentsError
from billing.payments.stripe_gateway import StripeConfig, StripeGateway

XML_TYPES = ("application/xml", "text/xml")
REFUND_FILTERS = ("due", "overdue", "all")


class UnsupportedMediaType(PaymentsError):
    status = 415
    code = "unsupported_media_type"


def gateway_from_env() -> StripeGateway:
    """Read at call time, so configuration changes (and tests) need no restart."""
    return StripeGateway(StripeConfig.from_env())


def _day(value: str | None, name: str) -> date:
    return budapest_today() if value is None else parse_day(value, name)


def _release(session: Session) -> None:
    """End the request session's transaction before a use case opens its own. On SQLite every
    transaction starts with BEGIN IMMEDIATE (billing.db.session), so a key looked up in the
    database would otherwise hold the write lock and the use case's write would wait on it."""
    session.close()


def _raw_body(content_type: str) -> dict:
    return {"requestBody": {"required": True, "content": {content_type: {"schema": {"type": "string"}}}}}


def register_payment_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                            principal_dep: Callable) -> None:
    @app.post("/v1/documents/{number}/checkout", tags=["payments"], status_code=201)
    def post_checkout(number: str, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)):
        from billing.views import get_document_row

        # The customer key of the proforma's account may pay it; another account's proforma
        # answers 404 exactly like a missing one (auth.require).
        auth.require(principal, "crm", "finance", "customer", account_id=get_document_row(session, number).account_id)
        _release(session)
        answer = usecases.create_checkout(factory, gateway_from_env(), number)
        return JSONResponse(answer.body, status_code=201 if answer.created else 200)

    @app.post("/v1/payments/stripe/webhook", tags=["payments"], openapi_extra=_raw_body("application/json"))
    async def post_stripe_webhook(request: Request):
        # No bearer key: the Stripe-Signature over the raw body is the authentication.
        config = StripeConfig.from_env()
        if not config.webhook_secret:
            raise Unavailable("STRIPE_WEBHOOK_SECRET is not set; webhooks cannot be verified")
        payload = await request.body()
        return await run_in_threadpool(usecases.handle_stripe_webhook, factory, StripeGateway(config), payload,
                                       request.headers.get("stripe-signature"))

    @app.post("/v1/payments/bank-statements", tags=["payments"], openapi_extra=_raw_body("application/xml"))
    async def post_bank_statement(request: Request, principal: auth.Principal = Depends(principal_dep),
                                  session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        _release(session)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in XML_TYPES:
            raise UnsupportedMediaType(f"send the CAMT.053 file as the raw body with Content-Type {XML_TYPES[0]}",
                                       {"errors": [{"field": "content-type", "message": content_type or "missing"}]})
        body = await request.body()
        return await run_in_threadpool(usecases.import_bank_statement, factory, body)

    @app.get("/v1/payments/unmatched", tags=["payments"])
    def get_unmatched(principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        return usecases.unmatched(session)

    @app.post("/v1/payments/unmatched/{entry_id}/assign", tags=["payments"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "properties": {"account_id": {"type": "string"}}, "required": ["account_id"]}}}}})
    async def post_assign(entry_id: str, request: Request, principal: auth.Principal = Depends(principal_dep),
                          session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        _release(session)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise InvalidInput("the body is {\"account_id\": ...}", {"errors": [{"field": "", "message": "an object"}]})
        return await run_in_threadpool(usecases.assign_bank_entry, factory, entry_id, body.get("account_id"))

    @app.post("/v1/refunds/execute", tags=["refunds"])
    def post_execute_refunds(principal: auth.Principal = Depends(principal_dep),
                             session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        _release(session)
        return usecases.execute_due_refunds(factory, gateway_from_env())

    @app.get("/v1/refunds", tags=["refunds"])
    def get_refunds(status: str = "due", as_of: str | None = Query(None),
                    principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        if status not in REFUND_FILTERS:
            raise InvalidInput("unknown refund filter", {"errors": [{"field": "status",
                                                                     "message": f"one of {REFUND_FILTERS}"}]})
        return usecases.list_refunds(session, status, _day(as_of, "as_of"))

    @app.get("/v1/reconciliation", tags=["finance"])
    def get_reconciliation(as_of: str | None = Query(None), principal: auth.Principal = Depends(principal_dep),
                           session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        from billing.reconciliation import reconcile

        return reconcile(session, _day(as_of, "as_of"))
