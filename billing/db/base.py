"""The declarative base shared by every package's models, with a constraint naming convention
so Alembic migrations are deterministic."""
from __future__ import annotations

from datetime import datetime, timezone

from decimal import Decimal

from sqlalchemy import JSON, DateTime, MetaData, Numeric, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AwareDateTime(TypeDecorator):
    """Stores UTC, always returns an aware datetime (SQLite forgets the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ExactDecimal(TypeDecorator):
    """Money column: NUMERIC on PostgreSQL; on SQLite a canonical string, because SQLite's NUMERIC
    goes through a binary float and would not give back the digits that were written."""

    impl = Numeric(24, 8)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(24, 8))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money is never a float")
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value)


class DecimalText(TypeDecorator):
    """A Decimal stored as its canonical string: exact on every engine (SQLite's NUMERIC would go
    through a float) and read back digit for digit as it was written."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


class JsonText(TypeDecorator):
    """A value for a JSON column that is already JSON text (json.dumps of it), bound as it is: the
    cycle serialises outside its write transaction. The column stays JSON (PostgreSQL casts to it)."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect):
        return None
