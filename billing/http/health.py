"""Liveness."""
from __future__ import annotations

from typing import Callable

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker


def register_health_routes(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    @app.get("/health", tags=["ops"])
    def health() -> dict:
        return {"status": "ok"}
