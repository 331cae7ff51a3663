"""Days from outside and the service's own today: one parser for query dates, one clock."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from billing.errors import InvalidInput

BUDAPEST = ZoneInfo("Europe/Budapest")


def budapest_today() -> date:
    return datetime.now(BUDAPEST).date()


def parse_day(value: str, field: str) -> date:
    """A YYYY-MM-DD query value, or a 422 naming the field."""
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is YYYY-MM-DD", {"errors": [{"field": field, "message": str(exc)}]}) from exc
