"""When a saved card is charged for a proforma (CONTRACT §8): on its issue day and, if declined,
again on issue + 3 and issue + 7; after that only the messages ask for payment. Pure: days in,
attempt numbers out.

A run through day D makes every attempt whose day is on or before D that was not made yet, one
per attempt day, so what a proforma goes through does not depend on how the days were split into
runs (a catch-up through several days makes the attempts that are due, never two for one day).
A run whose day is past the last attempt day makes none: it would be a charge after issue + 7.
"""
from __future__ import annotations

from datetime import date, timedelta

# Calendar days after the issue day: business days are calendar days in the account's time zone
# (CONTRACT §1), and the issue date and the run's day are both such days.
ATTEMPT_OFFSETS_DAYS = (0, 3, 7)
# A final answer: the next attempt day tries again. Anything else (sending, succeeded,
# processing, unknown) means the proforma is being or has been paid, or may have been.
RETRYABLE = frozenset({"declined", "refused"})


def attempt_day(issue_date: date, attempt: int) -> date:
    """Attempts are numbered from 1. (At the calendar's end, the last day there is.)"""
    offset = timedelta(days=ATTEMPT_OFFSETS_DAYS[attempt - 1])
    return issue_date + offset if issue_date <= date.max - offset else date.max


def attempts_due(issue_date: date, today: date, made: dict[int, str]) -> list[int]:
    """The attempts to make now, in order, given `made` (attempt -> status of the ones already
    made). The caller makes them one after another and stops at the first that is not declined."""
    if today > attempt_day(issue_date, len(ATTEMPT_OFFSETS_DAYS)):
        return []
    if any(status not in RETRYABLE for status in made.values()):
        return []
    return [attempt for attempt in range(1, len(ATTEMPT_OFFSETS_DAYS) + 1)
            if attempt not in made and attempt_day(issue_date, attempt) <= today]


def earliest_issue_charged(today: date) -> date:
    """Proformas issued before this day have no attempt left on `today`."""
    window = timedelta(days=ATTEMPT_OFFSETS_DAYS[-1])
    return today - window if today >= date.min + window else date.min
