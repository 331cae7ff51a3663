"""Liveness, readiness (the database answers and its schema is at the migrations' head) and the
Prometheus metrics (finance key)."""
from __future__ import annotations

import logging
from typing import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from billing.db.alembic_runner import current_revision, head_revision
from billing.http import auth

log = logging.getLogger("billing.health")


def register_health_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    head = head_revision()

    @app.get("/health", tags=["ops"])
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "database down or not migrated"}})
    def ready(request: Request):
        try:
            with request.app.state.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                revision = current_revision(connection)
        except SQLAlchemyError as exc:
            log.warning("not ready: database unreachable (%s)", exc.__class__.__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        if revision != head:
            return JSONResponse({"status": "unavailable", "database": "ok", "revision": revision, "head": head},
                                status_code=503)
        return {"status": "ready", "database": "ok", "revision": revision}

    @app.get("/metrics", tags=["ops"], response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(request: Request, principal: auth.Principal = Depends(principal_dep)):
        auth.require(principal, "finance")
        return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
