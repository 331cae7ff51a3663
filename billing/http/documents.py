"""Documents: the back office's list, an account's list, one document, its PDF, its NAV InvoiceData
and its derivation."""
from __future__ import annotations

from typing import Callable, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import Conflict, NotFound, invalid_field
from billing.http import auth
from billing.http.params import day_param, locale_param
from billing.views.cursors import MAX_CURSOR_CHARS
from billing.views import documents as views
from billing.views import explain
from billing.views import lists
from nav_reporting.models import STATUSES as NAV_STATUSES

DocumentKind = Literal["proforma", "invoice", "credit_note", "correction"]
DocumentStatus = Literal["paid", "open", "overdue", "void", "refunded", "partially_refunded", "issued"]
NavStatus = Literal[NAV_STATUSES]  # type: ignore[valid-type]


def register_document_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/documents", tags=["documents"])
    def list_documents(request: Request, kind: DocumentKind | None = Query(None),
                       status: DocumentStatus | None = Query(None), nav_status: NavStatus | None = Query(None),
                       date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                       limit: int = Query(lists.DEFAULT_LIMIT, ge=1, le=lists.MAX_LIMIT),
                       cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                       principal: auth.Principal = Depends(principal_dep),
                       session: Session = Depends(session_dep)) -> dict:
        """Every account's documents by (issue_date, number), each as an account's documents list
        shows it: `{"items", "next_cursor"}`. `status` as computed for that list; `nav_status` the
        NAV outbox's (a proforma has none); `from`/`to` on the issue date, inclusive. Pass
        next_cursor back as `cursor`; the list ends when it is null (a page filtered by status may
        hold fewer than `limit` items before that). A customer key gets 403: its own documents are
        GET /v1/accounts/{id}/documents."""
        auth.require(principal, "crm", "finance")
        lists.check_query(request.query_params.multi_items(),
                          ("kind", "status", "nav_status", "from", "to", "limit", "cursor"))
        day_from, day_to = day_param(date_from, "from"), day_param(date_to, "to")
        if day_from and day_to and day_to < day_from:
            raise invalid_field("to", "is before from")
        return lists.document_page(session, kind=kind, status=status, nav_status=nav_status,
                                   day_from=day_from, day_to=day_to, limit=limit, cursor=cursor)

    @app.get("/v1/accounts/{account_id}/documents", tags=["documents"])
    def get_documents(account_id: str, limit: int | None = Query(None, ge=1, le=lists.MAX_LIMIT),
                      cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                      principal: auth.Principal = Depends(principal_dep),
                      session: Session = Depends(session_dep)) -> dict:
        """The account's documents by (issue_date, number): `{"account_id", "documents",
        "next_cursor"}`. Without `limit` all of them (next_cursor null); with it a page, and
        next_cursor passed back as `cursor` gives the next one, until it is null."""
        auth.require(principal, "crm", "finance", "customer", account_id=account_id)
        return views.documents_view(session, account_id, limit, cursor or None)

    def _document_for(session: Session, number: str, principal: auth.Principal):
        row = views.get_document_row(session, number)
        auth.require(principal, "crm", "finance", "customer", account_id=row.account_id)
        return row

    # Before /v1/documents/{number}: a path parameter would take "X.pdf" as a number.
    @app.get("/v1/documents/{number}.pdf", tags=["documents"], response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
    def get_document_pdf(number: str, locale: str | None = None, principal: auth.Principal = Depends(principal_dep),
                         session: Session = Depends(session_dep)):
        _document_for(session, number, principal)
        from invoices.pdf import render_document_pdf

        pdf = render_document_pdf(views.frozen_document(session, number), locale_param(locale))
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

    @app.get("/v1/documents/{number}", tags=["documents"])
    def get_document(number: str, principal: auth.Principal = Depends(principal_dep),
                     session: Session = Depends(session_dep)) -> dict:
        _document_for(session, number, principal)
        return views.document_view(session, number)
