"""The audit trail for finance: oldest first, a page at a time (the cursor is the last id seen,
so rows written while someone pages are never skipped or repeated)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.dates import BUDAPEST
from billing.db.models import AuditEntry
from billing.errors import invalid_field
from billing.views.cursors import decode_cursor, encode_cursor

def audit_page(session: Session, day_from: date | None, day_to: date | None, limit: int,
               cursor: str | None) -> dict[str, Any]:
    query = select(AuditEntry).order_by(AuditEntry.id).limit(limit + 1)
    if day_from is not None:  # business days in Budapest, both ends inclusive
        query = query.where(AuditEntry.at >= datetime.combine(day_from, time(), BUDAPEST))
    if day_to is not None:
        query = query.where(AuditEntry.at < datetime.combine(day_to + timedelta(days=1), time(), BUDAPEST))
    if cursor is not None:
        [last_id] = decode_cursor(cursor, "audit", 1)
        if not last_id.isdigit():
            raise invalid_field("cursor", "not a cursor this list gave", "invalid cursor")
        query = query.where(AuditEntry.id > int(last_id))
    rows = list(session.scalars(query))
    page = rows[:limit]
    return {"items": [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                       "target": r.target, "request_id": r.request_id} for r in page],
            "next_cursor": encode_cursor("audit", str(page[-1].id)) if len(rows) > limit else None}
