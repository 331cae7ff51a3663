"""Exports for the accountant (invoices.csv, invoices.xlsx, nav.zip) and for finance (payouts.csv)."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from billing.dates import budapest_today, parse_day
from billing.http import auth
from billing.ops.exports import filename, load_rows, parse_range, render_csv, render_nav_zip, render_xlsx
from billing.ops.payouts import payout_rows, render_payouts_csv


def register_export_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                           principal_dep: Callable) -> None:
    media = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

    def _export(fmt_: str, date_from, date_to, proformas, principal, session) -> Response:
        auth.require(principal, "finance", "crm")
        start, end = parse_range(date_from, date_to)
        rows = load_rows(session, start, end, include_proformas=bool(proformas))
        body = render_csv(rows) if fmt_ == "csv" else render_xlsx(rows)
        return Response(body, media_type=media[fmt_], headers={
            "Content-Disposition": f'attachment; filename="{filename("invoices", start, end, fmt_)}"'})

    @app.get("/v1/exports/invoices.csv", tags=["exports"], response_class=Response,
             responses={200: {"content": {"text/csv": {}}}})
    def export_csv(date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                   proformas: int = 0, principal: auth.Principal = Depends(principal_dep),
                   session: Session = Depends(session_dep)):
        return _export("csv", date_from, date_to, proformas, principal, session)

    @app.get("/v1/exports/invoices.xlsx", tags=["exports"], response_class=Response,
             responses={200: {"content": {media["xlsx"]: {}}}})
    def export_xlsx(date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                    proformas: int = 0, principal: auth.Principal = Depends(principal_dep),
                    session: Session = Depends(session_dep)):
        return _export("xlsx", date_from, date_to, proformas, principal, session)

    @app.get("/v1/exports/nav.zip", tags=["exports"], response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})
    def export_zip(date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                   principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance", "crm")
        start, end = parse_range(date_from, date_to)
        body = render_nav_zip(session, load_rows(session, start, end))
        return Response(body, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{filename("nav", start, end, "zip")}"'})

    @app.get("/v1/exports/payouts.csv", tags=["exports"], response_class=Response,
             responses={200: {"content": {"text/csv": {}}}})
    def export_payouts(as_of: str | None = Query(None), principal: auth.Principal = Depends(principal_dep),
                       session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        today = parse_day(as_of, "as_of") if as_of else budapest_today()
        body = render_payouts_csv(payout_rows(session, today))
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="payouts_{today.isoformat()}.csv"'})
