"""The CRM's webhook endpoints: register, list, disable; the dead letters and their retry."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Annotated, Any, Callable

from fastapi import Depends, FastAPI, Path
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.db.models import Notice
from billing.errors import NotFound
from billing.http import auth
from schemas.api import WebhookEndpointIn
from billing.webhooks.models import DEAD, DELIVERED, PENDING, WebhookDelivery, WebhookEndpoint

# A row id from a path: bounded, so a huge number is a 422 and never reaches the database driver.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _endpoint_json(session: Session, endpoint: WebhookEndpoint) -> dict[str, Any]:
    counts = dict(session.execute(select(WebhookDelivery.status, func.count()).where(
        WebhookDelivery.endpoint_id == endpoint.id).group_by(WebhookDelivery.status)).all())
    return {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description, "active": endpoint.active,
            "created_at": endpoint.created_at.isoformat(), "start_after_notice_id": endpoint.start_after_notice_id,
            "deliveries": {s: counts.get(s, 0) for s in (PENDING, DELIVERED, DEAD)}}


def _dead_letter_json(row: WebhookDelivery, notice: Notice, endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": row.id, "endpoint_id": endpoint.id, "url": endpoint.url, "event_id": notice.event_id,
            "topic": notice.topic, "account_id": notice.account_id, "attempts": row.attempts,
            "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
            "last_status_code": row.last_status_code, "last_error": row.last_error}


def register_webhook_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable,
                            principal_dep: Callable) -> None:
    @app.post("/v1/webhooks/endpoints", tags=["webhooks"], status_code=201)
    def post_endpoint(body: WebhookEndpointIn, principal: auth.Principal = Depends(principal_dep)) -> dict:
        """The secret (made when not given) is in this answer only."""
        auth.require(principal, "crm")
        return _create_endpoint(body.url, body.secret, body.description, body.deliver_history)

    def _create_endpoint(url, secret, description, history) -> dict:
        secret = secret or "whsec_" + secrets.token_urlsafe(32)
        with factory.begin() as session:
            start = 0 if history else (session.scalar(select(func.max(Notice.id))) or 0)
            endpoint = WebhookEndpoint(url=url, secret=secret, description=description, active=True,
                                       start_after_notice_id=start)
            session.add(endpoint)
            session.flush()
            return {**_endpoint_json(session, endpoint), "secret": secret}

    @app.get("/v1/webhooks/endpoints", tags=["webhooks"])
    def list_endpoints(principal: auth.Principal = Depends(principal_dep),
                       session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm")
        rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
        return {"endpoints": [_endpoint_json(session, e) for e in rows]}

    @app.delete("/v1/webhooks/endpoints/{endpoint_id}", tags=["webhooks"])
    def disable_endpoint(endpoint_id: RowId, principal: auth.Principal = Depends(principal_dep)) -> dict:
        """Stops new fan-out to it; its rows stay for the record."""
        auth.require(principal, "crm")
        with factory.begin() as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None:
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            endpoint.active = False
            return _endpoint_json(session, endpoint)

    @app.get("/v1/webhooks/dead-letters", tags=["webhooks"])
    def dead_letters(principal: auth.Principal = Depends(principal_dep),
                     session: Session = Depends(session_dep)) -> dict:
        auth.require(principal, "crm")
        rows = session.execute(select(WebhookDelivery, Notice, WebhookEndpoint)
                               .join(Notice, Notice.id == WebhookDelivery.notice_id)
                               .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                               .where(WebhookDelivery.status == DEAD).order_by(WebhookDelivery.id)).all()
        return {"dead_letters": [_dead_letter_json(*row) for row in rows]}

    @app.post("/v1/webhooks/dead-letters/{delivery_id}/retry", tags=["webhooks"])
    def retry_dead_letter(delivery_id: RowId, principal: auth.Principal = Depends(principal_dep)) -> dict:
        """Back to pending with a fresh attempt budget, due at once."""
        auth.require(principal, "crm")
        with factory.begin() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None or row.status != DEAD:
                raise NotFound(f"no dead letter {delivery_id}")
            row.status, row.attempts = PENDING, 0
            row.next_attempt_at = datetime.now(timezone.utc)
            return {"id": row.id, "status": row.status}
