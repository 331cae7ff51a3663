"""Days from outside and the service's own today: one parser for query dates, one clock."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
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


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(instant: datetime, timezone: str) -> date:
    """The business day an instant falls on in the account's time zone (CONTRACT §1)."""
    return instant.astimezone(_zone(timezone)).date()
