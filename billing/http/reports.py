"""Reports for finance: monthly recurring revenue."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.views import lists
from billing.views.mrr import mrr_report


def register_report_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/reports/mrr", tags=["finance"])
    def get_mrr(request: Request, month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
                principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)) -> dict:
        """MRR at the end of `month` (YYYY-MM; by default the month of the last processed day), per
        currency and in HUF: over the accounts in a charging state (awaiting_payment, active,
        past_due, suspended) on the month's last day, or on the last processed day (`as_of`) while
        the month is not over, their seats in force at the end of that day × the plan's monthly
        price in force that day after the discount. `mrr` is net of VAT (the revenue), `mrr_gross`
        as charged (VAT included). Also the seats, the accounts by state, new accounts (their trial
        ended in the month), churned ones (terminated or expired in the month), accounts created
        in the month, and per currency the exchange rate used and its source."""
        auth.require(principal, "finance")
        lists.check_query(request.query_params.multi_items(), ("month",))
        return mrr_report(session, month)
