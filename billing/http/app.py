"""The FastAPI application: the body limit, the one place errors become HTTP answers, the request
dependencies (a read-only session, the caller's key), and every route from billing.http.routes."""
from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

from billing.config import Limits, check_seller
from billing.db.session import create_schema, make_engine, make_read_factory, make_session_factory
from billing.errors import BillingError
from billing.http import auth
from billing.http.limits import PublicRateLimit
from billing.http.observe import RequestObserver
from billing.http.routes import openapi_components, register_all
from billing.ops.metrics import make_registry

log = logging.getLogger("billing.service")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over the limit, counted as it arrives (a chunked upload has no length)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": "payload_too_large", "message": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    errors = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        errors.append({"field": ".".join(loc), "message": error.get("msg", "invalid")})
    return errors


def create_app(database_url: str | None = None, *, migrate: bool = True) -> FastAPI:
    check_seller()  # a seller tax number or IBAN failing its check digits would be on every invoice
    engine = make_engine(database_url)
    if migrate:
        create_schema(engine)
    factory = make_session_factory(engine)
    app = FastAPI(title="Seat billing", version="0.1.0",
                  description="Per-seat subscription billing with NAV Online Számla 3.0 reporting")
    app.state.factory = factory
    app.state.engine = engine
    read_factory = make_read_factory(engine)
    app.state.read_factory = read_factory
    app.state.metrics_registry, http_metrics = make_registry(read_factory)
    # Outermost last: the observer sees every answer, the 413 and 429 of the guards included.
    app.add_middleware(BodyLimit, limit=Limits().max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(PublicRateLimit)  # type: ignore[arg-type]
    app.add_middleware(RequestObserver, metrics=http_metrics)  # type: ignore[arg-type]

    @app.exception_handler(BillingError)
    async def _billing_error(_request, exc: BillingError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        return JSONResponse({"error": "invalid_input", "message": "the request is not valid",
                             "details": {"errors": _validation_errors(exc)}}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_down(_request, exc: OperationalError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        return JSONResponse({"error": "unavailable", "message": "the database is not reachable; retry"},
                            status_code=503)

    @app.exception_handler(DBAPIError)
    async def _db_error(_request, exc: DBAPIError):
        if exc.connection_invalidated:
            return JSONResponse({"error": "unavailable", "message": "the database connection was lost; retry"},
                                status_code=503)
        log.exception("database error")
        return JSONResponse({"error": "internal", "message": "internal error"}, status_code=500)

    def session_dep():
        # A read-only session per request; use cases that write open their own transaction.
        with read_factory() as session:
            yield session

    def principal_dep(request: Request) -> auth.Principal:
        with read_factory() as session:
            principal = auth.authenticate(session, request.headers.get("authorization"))
        request.state.key_id = principal.key_id  # for the request's log line
        return principal

    register_all(app, factory, session_dep, principal_dep)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(openapi_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
