"""Which messages a step of the cycle decides (CONTRACT §8), as a pure function of what the engine
returned: the account state before and after the step and its Outcome (documents, state changes,
refunds, allocations with their days). No database, no clock, no rendering.

Every message carries the business day that decided it and a key unique within the account (its
kind and the document or day it is about), which the outbox's unique constraint makes exactly
once: a rerun of a day decides the same keys again and inserts nothing.

A catch-up run over several days decides each day's messages with the day they belong to: the
status of a past day is the status before the step with the step's state changes of that day and
earlier applied, and what a proforma still asked for on a day is what it asks for now plus what
was allocated to it after that day.

Cheap on purpose (the daily cycle runs it for 100,000 accounts): a fully paid proforma is skipped
at once when the step allocated nothing, and only proformas whose reminder or overdue days fall
in the step's days are looked at.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing.domain.records import Outcome, StateChange
from billing.domain.state import AccountState, ProformaState
from invoices.documents import Document

TRIAL_ENDING_DAYS = 3     # before the conversion day
REMINDER_DAYS = 3         # before a proforma's due date
OVERDUE_STEPS = (1, 15, 25)  # days after the due date, while unpaid
SUSPENSION_AFTER_DAYS = 31   # the day lateness exceeds 30 days (CONTRACT §3): named by the last overdue
ASKING_STATES = frozenset({"awaiting_payment", "active", "past_due", "suspended"})
FULL_ACCESS = frozenset({"active", "past_due"})

DOCUMENT_KINDS = {"proforma": "proforma_issued", "invoice": "invoice_issued",
                  "credit_note": "credit_note_issued", "correction": "correction_issued"}
KINDS = ("trial_ending", "proforma_issued", "payment_reminder", "overdue", "suspended", "access_restored",
         "invoice_issued", "credit_note_issued", "correction_issued", "terminated")


@dataclass(frozen=True, slots=True)
class MessageDraft:
    kind: str
    key: str                 # unique within the account
    day: date                # the business day that decided it
    document: str | None     # the document it is about (its PDF is attached for *_issued)
    params: dict[str, str]   # what the text names: amounts as decimal strings, dates ISO, numbers


def for_document(doc: Document) -> MessageDraft:
    """The message of an issued document, dated its issue day; for a proforma its bank details
    (the seller's account, the number as payment reference)."""
    kind = DOCUMENT_KINDS[doc.kind]
    params = {"number": doc.number, "amount": str(abs(doc.gross)), "currency": doc.currency,
              "issue_date": doc.issue_date.isoformat()}
    if doc.kind == "proforma":
        params["due_date"] = doc.due_date.isoformat()
    if doc.references:
        params["references"] = ", ".join(doc.references)
    return MessageDraft(kind, f"{kind}:{doc.number}", doc.issue_date, doc.number, params)


def for_step(before: AccountState, after: AccountState, outcome: Outcome, created_day: date,
             currency: str, payment_terms_days: int) -> list[MessageDraft]:
    """The time- and state-driven messages of one step (documents are for_document's): the
    days it processed are after `before.through` through `after.through` (none on a rerun of a
    processed day, whose state changes still count)."""
    first = created_day if before.through is None else before.through + timedelta(days=1)
    last = after.through
    changes = outcome.state_changes
    status_on = _status_on(before.status, changes)
    messages: list[MessageDraft] = []
    if last is not None and first <= last:
        messages += _trial_ending(after, first, last, created_day, status_on)
        messages += _proforma_reminders(after, outcome, first, last, currency, status_on)
    for change in changes:
        message = _state_message(change, after, outcome, currency, payment_terms_days)
        if message is not None:
            messages.append(message)
    return messages


def _status_on(start: str, changes: tuple[StateChange, ...]):
    def status(day: date) -> str:
        current = start
        for change in changes:  # in the order the engine made them, so by day
            if change.day > day:
                break
            current = change.new
        return current
    return status


def _trial_ending(after: AccountState, first: date, last: date, created_day: date, status_on) -> list[MessageDraft]:
    day = after.conversion_day - timedelta(days=TRIAL_ENDING_DAYS)
    if not (max(first, created_day) <= day <= last) or status_on(day) != "trialing":
        return []
    return [MessageDraft("trial_ending", f"trial_ending:{after.conversion_day.isoformat()}", day, None, {
        "conversion_day": after.conversion_day.isoformat(),
        "trial_ends_on": (after.conversion_day - timedelta(days=1)).isoformat()})]


def _proforma_reminders(after: AccountState, outcome: Outcome, first: date, last: date, currency: str,
                        status_on) -> list[MessageDraft]:
    earliest_due = first - _LOOK_BACK
    latest_due = last + _LOOK_AHEAD
    allocated = bool(outcome.allocations)
    messages = []
    for proforma in after.proformas:
        if not earliest_due <= proforma.due_date <= latest_due:
            continue
        if proforma.unpaid <= 0 and not allocated:
            continue  # paid before this step: nothing to ask (the common case)
        for kind, offset, after_due in ASKS:
            day = proforma.due_date + after_due
            if not first <= day <= last or day < proforma.issue_date:
                continue
            key = _ask_key(kind, offset, proforma.number)
            status = status_on(day)
            unpaid = _unpaid_on(proforma, outcome, day)
            if status not in ASKING_STATES or unpaid <= 0:
                continue
            params = {"number": proforma.number, "amount": str(unpaid), "currency": currency,
                      "due_date": proforma.due_date.isoformat()}
            if offset == OVERDUE_STEPS[-1]:
                # the last one names the day lateness exceeds 30 days: suspension, or, while no
                # payment ever formed the contract, expiry (CONTRACT §3); an older proforma still
                # unpaid that day makes it come sooner
                oldest = min((p.due_date for p in after.proformas if p.due_date <= proforma.due_date
                              and _unpaid_on(p, outcome, day) > 0), default=proforma.due_date)
                params["suspension_day"] = (oldest + timedelta(days=SUSPENSION_AFTER_DAYS)).isoformat()
                params["consequence"] = "expiry" if status == "awaiting_payment" else "suspension"
            messages.append(MessageDraft(kind, key, day, proforma.number, params))
    return messages


# The days around a step's days whose due dates can have a reminder or overdue notice in them.
_LOOK_BACK, _LOOK_AHEAD = timedelta(days=OVERDUE_STEPS[-1]), timedelta(days=REMINDER_DAYS)
# What an unpaid proforma asks for, (kind, days from its due date, the same as a timedelta): a
# reminder, then the overdue steps.
ASKS = tuple((kind, offset, timedelta(days=offset))
             for kind, offset in (("payment_reminder", -REMINDER_DAYS), *(("overdue", step) for step in OVERDUE_STEPS)))


def _ask_key(kind: str, offset: int, number: str) -> str:
    return f"payment_reminder:{number}" if kind == "payment_reminder" else f"overdue:{number}:due+{offset}"


def _unpaid_on(proforma: ProformaState, outcome: Outcome, day: date) -> Decimal:
    """What the proforma still asked for at the end of `day`: now, plus what was allocated to it
    later in the step (a reversal's negative allocation takes back accordingly)."""
    later = sum((a.amount for a in outcome.allocations if a.proforma_number == proforma.number and a.day > day),
                Decimal(0))
    return proforma.amount - proforma.paid + later


def _state_message(change: StateChange, after: AccountState, outcome: Outcome, currency: str,
                   payment_terms_days: int) -> MessageDraft | None:
    day = change.day.isoformat()
    if change.new == "suspended":
        overdue = [p for p in after.proformas if not p.void and p.due_date < change.day]
        owed = [(p, _unpaid_on(p, outcome, change.day)) for p in overdue]
        owed = [(p, amount) for p, amount in owed if amount > 0]
        params = {"day": day, "currency": currency,
                  "amount": str(sum((amount for _, amount in owed), Decimal(0))),
                  "number": ", ".join(p.number for p, _ in owed)}
        return MessageDraft("suspended", f"suspended:{day}", change.day, owed[0][0].number if owed else None, params)
    if change.old == "suspended" and change.new in FULL_ACCESS:
        return MessageDraft("access_restored", f"access_restored:{day}", change.day, None, {"day": day})
    if change.new == "terminated":
        return _terminated(change, after, outcome, currency, payment_terms_days)
    return None


def _terminated(change: StateChange, after: AccountState, outcome: Outcome, currency: str,
                payment_terms_days: int) -> MessageDraft:
    """The refund and the day it is paid by (§5: within 30 days), or the debt left and the day it
    is asked for by (the payment terms of a proforma issued that day)."""
    ended = after.terminated_on or change.day
    params = {"terminated_on": ended.isoformat(), "currency": currency}
    refund = next((order for order in outcome.refunds if order.day == change.day), None)
    if refund is not None:
        params.update(refund=str(refund.amount), due_by=refund.due_date.isoformat())
    elif after.balance < 0:
        params.update(debt=str(-after.balance), due_by=(change.day + timedelta(days=payment_terms_days)).isoformat())
    return MessageDraft("terminated", f"terminated:{change.day.isoformat()}", change.day, None, params)
