"""Runs Alembic programmatically against an Engine (the service migrates itself at start-up)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def config_for(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade_head(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(config_for(connection), "head")
