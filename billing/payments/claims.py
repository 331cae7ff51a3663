"""Claiming an outside identifier once: the unique key decides, not an `if` two requests could both pass."""
from __future__ import annotations

from sqlalchemy.orm import Session


def insert_new(session: Session, model, values: dict) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True if this call inserted the row (the claim)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # RETURNING gives a row only when this statement inserted (rowcount is not reliable for
    # ON CONFLICT DO NOTHING across drivers); SQLite has RETURNING since 3.35.
    inserted = session.execute(insert(model).values(**values).on_conflict_do_nothing()
                               .returning(model.id)).first()
    return inserted is not None
