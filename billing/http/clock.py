"""The daily cycle on demand: process everything through a day."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from fastapi import Depends, FastAPI
from sqlalchemy.orm import sessionmaker

from billing.config import Limits
from billing.cycle.run import run_cycle
from billing.dates import budapest_today
from billing.errors import InvalidInput
from billing.http import auth
from schemas.api import ClockRunIn


def register_clock_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.post("/v1/clock/run", tags=["cycle"])
    def clock_run(body: ClockRunIn, principal: auth.Principal = Depends(principal_dep)) -> dict:
        auth.require(principal, "crm", "finance")
        ahead = Limits().max_run_ahead_days
        if body.until > budapest_today() + timedelta(days=ahead):
            raise InvalidInput("until is too far ahead", {"errors": [
                {"field": "until", "message": f"at most {ahead} days after today (BILLING_MAX_RUN_AHEAD_DAYS)"}]})
        return run_cycle(factory, body.until)
