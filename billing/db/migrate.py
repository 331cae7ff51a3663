"""Schema management: Alembic migrations in billing/db/migrations, plus the triggers that make
issued documents and the ledger append-only at the database level."""
from __future__ import annotations

from sqlalchemy import Engine

IMMUTABLE_TABLES = ("journal_entries", "postings", "documents", "allocations", "refunds", "refund_status")


def load_all_models() -> None:
    """Import every package's models so they register on Base.metadata."""
    import billing.db.models  # noqa: F401
    for module in ("invoices.models", "nav_reporting.models", "billing.payments.models",
                   "billing.payments.cards", "billing.webhooks.models"):
        try:
            __import__(module)
        except ModuleNotFoundError:
            pass


def immutability_ddl(dialect: str, tables: tuple[str, ...] = IMMUTABLE_TABLES) -> list[str]:
    statements = []
    for table in tables:
        if dialect == "postgresql":
            statements.append(
                f"CREATE OR REPLACE FUNCTION forbid_change_{table}() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{table} is append-only: issued records are never changed'; END; "
                f"$$ LANGUAGE plpgsql")
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            statements.append(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION forbid_change_{table}()")
        else:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: issued records are never changed'); END")
    return statements


def upgrade(engine: Engine) -> None:
    load_all_models()
    from billing.db import alembic_runner

    alembic_runner.upgrade_head(engine)


