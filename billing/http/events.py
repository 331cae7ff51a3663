"""Events from the CRM: one, or a batch of up to 1,000 stored all or nothing."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from billing.accounts import account_from_event, answers_for_batch
from billing.errors import InvalidInput
from billing.events import ingest
from billing.http import auth
from billing.http.body import read_json
from schemas.api import events_body_schema

# The body as the OpenAPI document shows it: one schema per event type (billing.http.app adds the
# definitions to the document's components).
EVENTS_BODY, COMPONENTS = events_body_schema("#/components/schemas/{model}")


def register_event_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.post("/v1/events", tags=["events"], status_code=201,
              openapi_extra={"requestBody": {"required": True, "description": "one event, or {\"events\": [...]} with up "
                             "to 1,000 stored all or nothing", "content": {"application/json": {"schema": EVENTS_BODY}}}})
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


def _ingest_with_retry(factory: sessionmaker, items: list) -> list:
    # Two requests racing with the same event id: the unique key stops the second insert; the
    # retry then sees the stored event and answers duplicate (or 409 for another body).
    # VIES first, before the transaction: a member state may take seconds, and the write lock
    # (SQLite's one writer) must not wait for it. account.created then reads these answers.
    answers = answers_for_batch(factory, items)
    for attempt in range(3):
        try:
            with factory.begin() as session:
                return ingest(session, items, partial(account_from_event, vies_answers=answers))
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
