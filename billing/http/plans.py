"""Plans: define one, or a new price version of one."""
from __future__ import annotations

from typing import Callable

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.orm import sessionmaker

from billing.http import auth
from billing.plans import define_plan
from schemas.api import PlanIn


def register_plan_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.post("/v1/plans", tags=["plans"], status_code=201)
    def post_plan(body: PlanIn, principal: auth.Principal = Depends(principal_dep)):
        auth.require(principal, "crm", "finance")
        with factory.begin() as session:
            plan, created = define_plan(session, body)
        return JSONResponse(plan, status_code=201 if created else 200)
