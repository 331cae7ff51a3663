"""The customer portal: one server-rendered page per account with its documents and statements.

A visitor gets in with a short-lived signed link (`?token=`, see billing/portal/tokens.py) or with a bearer key
that may see the account. Every link on the page carries a token, so PDFs open from a plain
browser. Anything not signed for this account answers 404, exactly like a missing account.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from billing.http import auth
from billing.views.accounts import get_account
from billing.views.cursors import MAX_CURSOR_CHARS
from billing.views.documents import frozen_document
from billing.views.statements import statement
from billing.db.models import DocumentRow
from billing.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from billing.payments.stripe_gateway import gateway_from_env
from schemas.api import PortalLinkIn
from billing.payments.saved_cards import complete_pending_cards, remove_card
from billing.payments.usecases import create_checkout
from billing.portal.labels import LOCALES
from billing.portal.page import page_model, render_page
from billing.portal.tokens import TokenExpired, check_token, make_token

# The page and its PDFs are private: never cached, never sent on as a Referer (the URL holds the
# token), never framed. Forms may go to Stripe after our redirect, so form-action stays open.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                       "frame-ancestors 'none'; base-uri 'none'"}


# A row id both engines can bind (BIGINT); a larger number in the path is a 422, not a driver error.
MAX_ROW_ID = 2**63 - 1


def checkout_use_case() -> Callable[[sessionmaker, str], str] | None:
    """`(factory, proforma_number) -> Stripe checkout URL`, or None when Stripe is not configured:
    then the page shows no card button."""
    gateway = gateway_from_env()
    if not gateway.configured:
        return None
    return lambda factory, number: create_checkout(factory, gateway, number).body["url"]


def _credentials(request: Request, session: Session, account_id: str) -> str:
    """The token that the page's links carry; raises unless the caller may see `account_id`."""
    token = request.query_params.get("token")
    if token is not None:
        try:
            genuine = check_token(account_id, token)
        except TokenExpired:
            raise Forbidden("this portal link has expired; ask for a new one") from None
        if not genuine:
            raise NotFound("not found")
        return token
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("a portal link (?token=) or an Authorization: Bearer key is required")
    auth.require(auth.authenticate(session, header), "crm", "finance", "customer", account_id=account_id)
    return make_token(account_id)[0]


def _linker(account_id: str, token: str, lang: str | None) -> Callable[..., str]:
    """`link(path, **query)`: the portal URL of `path` ("" for the page itself) with the caller's
    token, the page's language and `query`."""
    base = f"/portal/{quote(account_id, safe='')}"

    def link(path: str, **query: str) -> str:
        text = urlencode({"token": token, **({"lang": lang} if lang else {}), **query})
        return f"{base}/{path}?{text}" if path else f"{base}?{text}"

    return link


def _lang(value: str | None) -> str | None:
    if value is not None and value not in LOCALES:
        raise InvalidInput("unsupported language", {"errors": [{"field": "lang", "message": f"one of {LOCALES}"}]})
    return value


def _public_base(request: Request) -> str:
    return os.environ.get("BILLING_PUBLIC_URL", str(request.base_url)).rstrip("/")


def _pdf(body: bytes, filename: str) -> Response:
    return Response(body, media_type="application/pdf",
                    headers={**_HEADERS, "Content-Disposition": f'inline; filename="{filename}"'})


def _own_document(session: Session, account_id: str, number: str):
    row = session.get(DocumentRow, number)
    if row is None or row.account_id != account_id:
        raise NotFound("not found")  # another account's document looks like no document
    return row


def register_portal_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                           principal_dep: Callable) -> None:
    @app.post("/v1/accounts/{account_id}/portal-link", tags=["portal"], status_code=201)
    async def post_portal_link(account_id: str, request: Request, body: PortalLinkIn | None = None,
                               principal: auth.Principal = Depends(principal_dep)) -> dict:
        """A signed link to the account's portal, valid `ttl_minutes` (default 120, at most 7 days)."""
        auth.require(principal, "crm")
        ttl = (body or PortalLinkIn()).ttl_minutes

        def known() -> None:
            with factory() as session:
                get_account(session, account_id)

        await run_in_threadpool(known)
        token, expires = make_token(account_id, ttl * 60)
        return {"account_id": account_id, "url": f"{_public_base(request)}/portal/{quote(account_id, safe='')}?token={token}",
                "expires_at": datetime.fromtimestamp(expires, timezone.utc).isoformat()}

    @app.get("/portal/{account_id}", tags=["portal"], response_class=HTMLResponse)
    def portal_page(account_id: str, request: Request, lang: str | None = None,
                    before: str | None = Query(None, max_length=MAX_CURSOR_CHARS),
                    session: Session = Depends(session_dep)):
        """The account's page: the latest documents (`before`, from the page's link to older ones:
        the documents before that one) and the latest months' statements."""
        token = _credentials(request, session, account_id)
        gateway = gateway_from_env()
        if gateway.configured:
            # A card saved by a Checkout minutes ago shows at once. Stripe is asked with no
            # transaction open: the read snapshot ends first (and the page reads what was written).
            session.rollback()
            complete_pending_cards(factory, gateway, account_id)
        model = page_model(session, account_id, _lang(lang), _linker(account_id, token, lang),
                           can_pay=checkout_use_case() is not None, before=before or None)
        return HTMLResponse(render_page(model), headers=_HEADERS)

    @app.get("/portal/{account_id}/documents/{number}.pdf", tags=["portal"], response_class=Response)
    def portal_document_pdf(account_id: str, number: str, request: Request, lang: str | None = None,
                            session: Session = Depends(session_dep)):
        _credentials(request, session, account_id)
        from invoices.pdf import render_document_pdf

        _own_document(session, account_id, number)
        return _pdf(render_document_pdf(frozen_document(session, number), _lang(lang)), f"{number}.pdf")

    @app.get("/portal/{account_id}/statements/{month}.pdf", tags=["portal"], response_class=Response)
    def portal_statement_pdf(account_id: str, month: str, request: Request, lang: str | None = None,
                             session: Session = Depends(session_dep)):
        _credentials(request, session, account_id)
        from invoices.pdf import render_statement_pdf

        st = statement(session, account_id, month)
        return _pdf(render_statement_pdf(st, _lang(lang), explain=False), f"statement-{month}.pdf")

    @app.post("/portal/{account_id}/documents/{number}/pay", tags=["portal"])
    def portal_pay(account_id: str, number: str, request: Request, session: Session = Depends(session_dep)):
        # The token in the query is also what stops cross-site form posts: another site cannot know it.
        _credentials(request, session, account_id)
        start_checkout = checkout_use_case()
        row = _own_document(session, account_id, number)
        if start_checkout is None or row.kind != "proforma":
            raise NotFound("card payment is not available for this document")
        session.close()  # the use case opens its own transactions
        url = start_checkout(factory, number)
        return RedirectResponse(url, status_code=303, headers=_HEADERS)

    @app.post("/portal/{account_id}/cards/{card_id}/remove", tags=["portal"])
    def portal_remove_card(account_id: str, request: Request, card_id: int = Path(ge=1, le=MAX_ROW_ID),
                           lang: str | None = None,
                           session: Session = Depends(session_dep)):
        """The customer removes the card on file: it is never charged again, and Stripe detaches
        it. Back to the page (303), which no longer shows it. The token in the query is what stops
        cross-site posts, as for the pay button."""
        token = _credentials(request, session, account_id)
        session.close()  # the use case opens its own transactions and calls Stripe outside them
        if not remove_card(factory, gateway_from_env(), account_id, card_id):
            raise NotFound("no such card on file")  # another account's card looks like no card
        query = urlencode({"token": token, **({"lang": _lang(lang)} if lang else {})})
        return RedirectResponse(f"/portal/{quote(account_id, safe='')}?{query}", status_code=303, headers=_HEADERS)
