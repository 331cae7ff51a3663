"""Finance's view of NAV reporting: rejected reports, a technical annulment, a manual push."""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import httpx
from fastapi import Depends, FastAPI
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.errors import Conflict, Unavailable
from billing.views.documents import get_document_row
from nav_reporting.errors import NavError
from schemas.api import Strict
from schemas.text import XmlText

ANNULMENT_CODES = ("ERRATIC_DATA", "ERRATIC_INVOICE_NUMBER", "ERRATIC_INVOICE_ISSUE_DATE",
                   "ERRATIC_ELECTRONIC_HASH_VALUE")


class AnnulmentIn(Strict):
    code: str = Field(pattern="^(" + "|".join(ANNULMENT_CODES) + ")$")
    reason: XmlText = Field(min_length=1, max_length=1024)


def _client():
    from nav_reporting.client import NavClient, NavConfig

    config = NavConfig.from_env()
    if not config.configured:
        raise Unavailable("NAV credentials are not configured; documents stay queued")
    return NavClient(config)


def register_nav_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/v1/nav/aborted", tags=["nav"])
    def get_aborted(principal: auth.Principal = Depends(principal_dep), session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        from nav_reporting.outbox import aborted

        return {"aborted": [asdict(report) for report in aborted(session)]}

    @app.post("/v1/nav/submit", tags=["nav"])
    def post_submit(principal: auth.Principal = Depends(principal_dep)):
        auth.require(principal, "finance")
        from nav_reporting.worker import poll, submit_pending
        from billing.db.base import utcnow

        client = _client()
        try:
            return {"submitted": submit_pending(factory, client, utcnow()), "polled": poll(factory, client)}
        except (NavError, httpx.HTTPError) as exc:
            raise Unavailable(f"NAV did not answer as expected: {exc}") from exc
        finally:
            client.close()

    @app.post("/v1/documents/{number}/annulment", tags=["nav"], status_code=202)
    def post_annulment(number: str, body: AnnulmentIn, principal: auth.Principal = Depends(principal_dep),
                       session: Session = Depends(session_dep)):
        auth.require(principal, "finance")
        get_document_row(session, number)
        from nav_reporting.outbox import OutboxError
        from nav_reporting.worker import request_annulment

        client = _client()
        try:
            transaction = request_annulment(factory, client, number, body.code, body.reason)
        except OutboxError as exc:
            raise Conflict(str(exc)) from exc
        except (NavError, httpx.HTTPError) as exc:
            raise Unavailable(f"NAV did not answer as expected: {exc}") from exc
        finally:
            client.close()
        return {"number": number, "transaction_id": transaction,
                "note": "a NAV user must approve the annulment in NAV's web interface"}
