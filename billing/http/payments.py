"""Money coming in: a Stripe checkout for a proforma, Stripe's webhook, CAMT.053 bank statements,
and the bank credits finance assigns by hand."""
from __future__ import annotations

from typing import Callable

from starlette.concurrency import run_in_threadpool
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.http.params import release
from billing.errors import Unavailable
from billing.payments import usecases
from billing.payments.bank_import import import_bank_statement
from billing.payments.reversals import list_reversals
from billing.views.documents import get_document_row
from schemas.api import AssignIn
from billing.payments.errors import PaymentsError
from billing.payments.stripe_gateway import StripeConfig, StripeGateway, gateway_from_env

XML_TYPES = ("application/xml", "text/xml")


class UnsupportedMediaType(PaymentsError):
    status = 415
    code = "unsupported_media_type"


def _raw_body(content_type: str, schema: dict, description: str) -> dict:
    return {"requestBody": {"required": True, "description": description,
                            "content": {content_type: {"schema": schema}}}}


def register_payment_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                            principal_dep: Callable) -> None:
    @app.post("/v1/documents/{number}/checkout", tags=["payments"], status_code=201)
    def post_checkout(number: str, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)):
        # The customer key of the proforma's account may pay it; another account's proforma
        # answers 404 exactly like a missing one (auth.require).
        auth.require(principal, "crm", "finance", "customer", account_id=get_document_row(session, number).account_id)
        release(session)
        answer = usecases.create_checkout(factory, gateway_from_env(), number)
        return JSONResponse(answer.body, status_code=201 if answer.created else 200)

    @app.post("/v1/payments/stripe/webhook", tags=["payments"], openapi_extra=_raw_body(
        "application/json", {"type": "object", "required": ["id", "type", "data"],
                             "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                                            "created": {"type": "integer"}, "data": {"type": "object"}}},
        "a Stripe event, exactly as Stripe signed it (Stripe-Signature header)"))
    async def post_stripe_webhook(request: Request):
        # No bearer key: the Stripe-Signature over the raw body is the authentication.
        config = StripeConfig.from_env()
        if not config.webhook_secret:
            raise Unavailable("STRIPE_WEBHOOK_SECRET is not set; webhooks cannot be verified")
        payload = await request.body()
        return await run_in_threadpool(usecases.handle_stripe_webhook, factory, StripeGateway(config), payload,
                                       request.headers.get("stripe-signature"))

    @app.post("/v1/payments/bank-statements", tags=["payments"], openapi_extra=_raw_body(
        "application/xml", {"type": "string"}, "a CAMT.053 statement file (versions .001.02 to .001.08)"))
    async def post_bank_statement(request: Request, principal: auth.Principal = Depends(principal_dep),
                                  session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        release(session)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in XML_TYPES:
            raise UnsupportedMediaType(f"send the CAMT.053 file as the raw body with Content-Type {XML_TYPES[0]}",
                                       {"errors": [{"field": "content-type", "message": content_type or "missing"}]})
        body = await request.body()
        return await run_in_threadpool(import_bank_statement, factory, body)

    @app.get("/v1/payments/unmatched", tags=["payments"])
    def get_unmatched(principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        return usecases.unmatched(session)

    @app.get("/v1/payments/reversals", tags=["payments"])
    def get_reversals(account_id: str | None = None, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)):
        """Payments whose money went back (bank returns, refunds and disputes made in Stripe)."""
        auth.require(principal, "finance")
        return list_reversals(session, account_id)

    @app.post("/v1/payments/unmatched/{entry_id}/assign", tags=["payments"])
    def post_assign(entry_id: str, body: AssignIn, principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        release(session)
        return usecases.assign_bank_entry(factory, entry_id, body.account_id)
