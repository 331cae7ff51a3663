"""The HTTP routes of CONTRACT.md §7. Each route: authorise, validate, call one use case."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import dataclasses

from billing import auth, explain, views
from billing.http_json import read_json
from billing.accounts import account_from_event
from billing.config import Limits
from billing.dates import budapest_today, parse_day
from billing.cycle import run_cycle
from billing.errors import Conflict, InvalidInput, NotFound
from billing.events import ingest
from billing.plans import define_plan
from schemas.api import ClockRunIn, PlanIn

LOCALES = ("hu", "ro", "en", "de")


def _locale(value: str | None) -> str | None:
    if value is not None and value not in LOCALES:
        raise InvalidInput("unsupported locale", {"errors": [{"field": "locale", "message": f"one of {LOCALES}"}]})
    return value


def _date(value: str | None, name: str) -> date | None:
    return None if value is None else parse_day(value, name)


def register_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/health", tags=["ops"])
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/v1/plans", tags=["plans"], status_code=201)
    def post_plan(body: PlanIn, principal: auth.Principal = Depends(principal_dep)):
        auth.require(principal, "crm", "finance")
        with factory.begin() as session:
            plan, created = define_plan(session, body)
        return JSONResponse(plan, status_code=201 if created else 200)

    @app.post("/v1/events", tags=["events"], status_code=201,
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "description": "one event, or {\"events\": [...]} with up to 1,000"}}}}})
    async def post_events(request: Request, principal: auth.Principal = Depends(principal_dep)):
        auth.require(principal, "crm")
        payload = await read_json(request)
        batch = isinstance(payload, dict) and "events" in payload and set(payload) == {"events"}
        items = payload["events"] if batch else [payload]
        if not isinstance(items, list):
            raise InvalidInput("events is a list", {"errors": [{"index": None, "field": "events",
                                                               "message": "must be a list"}]})
        # The database work runs in the thread pool: never block the event loop (other requests).
        results = await run_in_threadpool(_ingest_with_retry, factory, items)
        accepted = sum(1 for r in results if r.status == "accepted")
        body: dict[str, Any] = {"accepted": accepted, "duplicates": len(results) - accepted,
                                "results": [{"id": r.id, "status": r.status} for r in results]}
        if not batch:
            body.update(id=results[0].id, status=results[0].status)
        return JSONResponse(body, status_code=201 if accepted else 200)

    @app.post("/v1/clock/run", tags=["cycle"])
    def clock_run(body: ClockRunIn, principal: auth.Principal = Depends(principal_dep)) -> dict:
        auth.require(principal, "crm", "finance")
        ahead = Limits().max_run_ahead_days
        if body.until > budapest_today() + timedelta(days=ahead):
            raise InvalidInput("until is too far ahead", {"errors": [
                {"field": "until", "message": f"at most {ahead} days after today (BILLING_MAX_RUN_AHEAD_DAYS)"}]})
        return run_cycle(factory, body.until)

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
                   principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.ledger_view(session, account_id, _date(date_from, "from"), _date(date_to, "to"))

    @app.get("/v1/accounts/{account_id}/documents", tags=["documents"])
    def get_documents(account_id: str, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.documents_view(session, account_id)

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
        pdf = render_statement_pdf(st, _locale(locale), explain=bool(with_explain))
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="statement-{account_id}-{month}.pdf"'})

    @app.get("/v1/accounts/{account_id}/statements/{month}", tags=["statements"])
    def get_statement(account_id: str, month: str, principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.statement_json(views.statement(session, account_id, month))

    def _document_for(session: Session, number: str, principal: auth.Principal):
        row = views.get_document_row(session, number)
        auth.require(principal, "crm", "finance", "customer", account_id=row.account_id)
        return row

    @app.get("/v1/documents/{number}.pdf", tags=["documents"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
    def get_document_pdf(number: str, locale: str | None = None, principal: auth.Principal = Depends(principal_dep),
                         session: Session = Depends(session_dep)):
        _document_for(session, number, principal)
        from invoices.pdf import render_document_pdf

        pdf = render_document_pdf(views.frozen_document(session, number), _locale(locale))
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})

    @app.get("/v1/documents/{number}/nav.xml", tags=["documents"], response_class=Response,
             responses={200: {"content": {"application/xml": {}}}})
    def get_document_xml(number: str, principal: auth.Principal = Depends(principal_dep),
                         session: Session = Depends(session_dep)):
        row = _document_for(session, number, principal)
        if row.kind == "proforma":
            raise NotFound("a proforma is not an invoice and is never reported to NAV")
        from nav_reporting.xml import build_invoice_data

        try:
            xml = build_invoice_data(views.frozen_document(session, number))
        except ValueError as exc:
            raise Conflict(f"{number} cannot be expressed as NAV InvoiceData: {exc}") from exc
        return Response(xml, media_type="application/xml")

    @app.get("/v1/documents/{number}/explain", tags=["explain"])
    def get_document_explain(number: str, principal: auth.Principal = Depends(principal_dep),
                             session: Session = Depends(session_dep)) -> dict:
        _document_for(session, number, principal)
        return explain.explain_document(session, number)

    @app.get("/v1/accounts/{account_id}/explain", tags=["explain"])
    def get_account_explain(account_id: str, date_: str = Query(..., alias="date"),
                            principal: auth.Principal = Depends(principal_dep),
                            session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return explain.explain_day(session, account_id, _date(date_, "date"))

    @app.get("/v1/accounts/{account_id}/preview", tags=["explain"])
    def get_preview(account_id: str, until: str = Query(...), principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return explain.preview(session, account_id, _date(until, "until"))

    @app.get("/v1/documents/{number}", tags=["documents"])
    def get_document(number: str, principal: auth.Principal = Depends(principal_dep),
                     session: Session = Depends(session_dep)) -> dict:
        _document_for(session, number, principal)
        return views.document_view(session, number)



def register_all(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    """The contract's routes and every package's own."""
    register_routes(app, factory, session_dep, principal_dep)
    from billing.exports import register_export_routes
    from billing.portal import register_portal_routes
    from billing.webhooks import register_webhook_routes

    register_export_routes(app, factory, session_dep, principal_dep)
    register_webhook_routes(app, factory, session_dep, principal_dep)
    register_portal_routes(app, factory, session_dep, principal_dep)
    from billing.gdpr import register_gdpr_routes
    from billing.nav_routes import register_nav_routes
    from billing.payouts import register_payout_routes

    register_nav_routes(app, factory, session_dep, principal_dep)
    register_gdpr_routes(app, factory, session_dep, principal_dep)
    register_payout_routes(app, factory, session_dep, principal_dep)
    try:
        from billing.payments.routes import register_payment_routes
    except ImportError:
        return
    register_payment_routes(app, factory, session_dep, principal_dep)


def _ingest_with_retry(factory: sessionmaker, items: list) -> list:
    # Two requests racing with the same event id: the unique key stops the second insert; the
    # retry then sees the stored event and answers duplicate (or 409 for another body).
    for attempt in range(3):
        try:
            with factory.begin() as session:
                return ingest(session, items, account_from_event)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
