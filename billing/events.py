"""Storing events once: validate the whole batch, then insert all of it or nothing.

Idempotency is the unique key on the event id: the same body again is a no-op reported as a
duplicate, another body under a used id is a conflict.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing import config as billing_config
from billing.db.base import utcnow
from billing.db.queries import among
from billing.db.models import Account, Event, PendingEvent, Plan
from billing.dates import local_day
from billing.errors import Conflict, InvalidInput
from billing.money import has_currency_precision
from invoices.taxnumbers import EU_VAT_NUMBER, HU_TAX_NUMBER
from invoices.vat import is_eu, vat_prefix
from schemas.api import EVENT_BATCH, EVENT_TAGS, EventIn

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Accepted:
    id: str
    status: str  # "accepted" | "duplicate"


def body_hash(event: EventIn) -> str:
    """The event as validated, in the models' field order: the same event always hashes the same.
    The bytes are those of event.model_dump_json(), taken from the model's serializer without the
    wrapper and the str round trip (tests/unit/test_event_hash.py pins the stored values)."""
    return hashlib.sha256(type(event).__pydantic_serializer__.to_json(event)).hexdigest()


def _field(loc: tuple, prefix: str = "") -> str:
    return prefix + ".".join(str(part) for part in loc)


def _batch_errors(exc: ValidationError) -> list[dict]:
    """pydantic's locations are (index, type tag, field...): report the index and the field."""
    errors = []
    for error in exc.errors():
        index, *rest = error["loc"]
        if rest and rest[0] in EVENT_TAGS:
            rest = rest[1:]
        field = _field(tuple(rest))
        if error["type"].startswith("union_tag"):
            field = "type"
        errors.append({"index": index, "field": field, "message": error["msg"]})
    return errors


def parse_batch(items: list[Any]) -> list[tuple[EventIn, Any, dict]]:
    if not items:
        raise InvalidInput("no events given", {"errors": [{"index": None, "field": "events",
                                                            "message": "at least one event"}]})
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} events per batch", {"errors": [
            {"index": None, "field": "events", "message": f"{len(items)} events, at most {MAX_BATCH}"}]})
    try:
        events = EVENT_BATCH.validate_python(items)
    except ValidationError as exc:
        raise InvalidInput("invalid events; nothing of the batch was stored", {"errors": _batch_errors(exc)}) from exc
    return [(event, event.data, raw) for event, raw in zip(events, items)]


class _BatchView:
    """What the batch may rely on: stored accounts and plans plus those created earlier in it.
    Only the columns the checks read are loaded (no ORM objects: nothing here is written)."""

    def __init__(self, session: Session, parsed) -> None:
        account_ids = list({e.account_id for e, _, _ in parsed})
        # (created instant, time zone, currency) per stored account, read once: every event asks.
        rows = session.execute(select(Account.id, Account.created_at_instant, Account.timezone, Account.currency,
                                      Account.country).where(among(session, Account.id, account_ids))).all()
        self.facts: dict[str, tuple[datetime, str, str]] = {
            row.id: (row.created_at_instant, row.timezone, row.currency) for row in rows}
        self.country: dict[str, str] = {row.id: row.country for row in rows}  # an EU VAT number's prefix
        self.stored_accounts = frozenset(self.facts)
        self.plan_currency: dict[str, str] = dict(session.execute(select(Plan.code, Plan.currency)).all())
        self.terminated_at: dict[str, datetime] = dict(session.execute(
            select(Event.account_id, Event.occurred_at)
            .where(among(session, Event.account_id, account_ids), Event.type == "account.terminated")).all())
        self.new_accounts: dict[str, tuple[EventIn, Any]] = {}

    def account_facts(self, account_id: str) -> tuple[datetime, str, str] | None:
        """(created instant, time zone, currency) of a known account."""
        return self.facts.get(account_id)


def _check(view: _BatchView, event: EventIn, data: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if event.type == "account.created":
        if event.account_id in view.stored_accounts or event.account_id in view.new_accounts:
            return [("account_id", f"account {event.account_id} already exists")]
        plan_currency = view.plan_currency.get(data.plan)
        if plan_currency is None:
            problems.append(("data.plan", f"unknown plan {data.plan}"))
        elif plan_currency != data.currency:
            problems.append(("data.currency", f"plan {data.plan} is priced in {plan_currency}"))
        problems += _buyer_identifiers(data, data.country)
        if not problems:
            view.new_accounts[event.account_id] = (event, data)
            view.facts[event.account_id] = (event.occurred_at, data.timezone, data.currency)
            view.country[event.account_id] = data.country
        return problems
    facts = view.account_facts(event.account_id)
    if facts is None:
        return [("account_id", f"unknown account {event.account_id}: post account.created first")]
    created_at, _, currency = facts
    if event.occurred_at < created_at:
        problems.append(("occurred_at", "before the account's account.created event"))
    terminated = view.terminated_at.get(event.account_id)
    if terminated is not None and event.occurred_at >= terminated:
        problems.append(("account_id", f"account {event.account_id} is terminated"))
    if event.type == "account.terminated" and terminated is not None:
        problems.append(("type", "the account is already terminated"))
    if event.type == "plan.changed":
        plan_currency = view.plan_currency.get(data.plan)
        if plan_currency is None:
            problems.append(("data.plan", f"unknown plan {data.plan}"))
        elif plan_currency != currency:
            problems.append(("data.plan", f"plan {data.plan} is priced in {plan_currency}, the account in {currency}"))
    if event.type == "payment.received":
        if data.currency != currency:
            problems.append(("data.currency", f"the account is billed in {currency}"))
        elif not has_currency_precision(data.amount, currency):
            problems.append(("data.amount", f"more decimals than {currency} has"))
    if event.type == "account.updated":
        problems += _buyer_identifiers(data, view.country[event.account_id])
    if event.type == "account.terminated":
        if data.by == "provider" and not data.reason:
            problems.append(("data.reason", "a termination by the provider states its §13 reason"))
        view.terminated_at[event.account_id] = event.occurred_at
    return problems


def _buyer_identifiers(data: Any, country: str) -> list[tuple[str, str]]:
    """CONTRACT §6: the buyer is not the seller, and an EU VAT number is the buyer's country's (its
    check digits were checked with the model, schemas/api.py)."""
    problems = []
    seller = billing_config.seller()
    tax_number, eu_vat_number = getattr(data, "tax_number", None), getattr(data, "eu_vat_number", None)
    if tax_number and seller.tax_number and HU_TAX_NUMBER.is_valid(seller.tax_number) \
            and HU_TAX_NUMBER.compact(tax_number)[:8] == HU_TAX_NUMBER.compact(seller.tax_number)[:8]:
        problems.append(("data.tax_number", "this is the seller's own tax number (SELLER_TAX_NUMBER): "
                                            "a buyer cannot be the seller"))
    if eu_vat_number:
        if seller.eu_vat_number and EU_VAT_NUMBER.compact(eu_vat_number) == EU_VAT_NUMBER.compact(seller.eu_vat_number):
            problems.append(("data.eu_vat_number", "this is the seller's own EU VAT number (SELLER_EU_VAT_NUMBER): "
                                                   "a buyer cannot be the seller"))
        elif is_eu(country) and not EU_VAT_NUMBER.compact(eu_vat_number).startswith(vat_prefix(country)):
            problems.append(("data.eu_vat_number", f"not a VAT number of the account's country {country} "
                                                   f"(it starts with {vat_prefix(country)})"))
    return problems


def ingest(session: Session, items: list[Any], account_factory: Callable[[EventIn, Any], Account]) -> list[Accepted]:
    """Validate and add the batch to the session (the caller commits). Raises InvalidInput or
    Conflict with every problem found; then nothing is added."""
    parsed = parse_batch(items)
    hashes = [body_hash(event) for event, _, _ in parsed]
    ids = [e.id for e, _, _ in parsed]
    stored = dict(session.execute(select(Event.id, Event.body_hash).where(among(session, Event.id, ids))).all())
    seen: dict[str, str] = {}
    conflicts, results, fresh = [], [], []
    for index, ((event, data, raw), digest) in enumerate(zip(parsed, hashes)):
        earlier = stored.get(event.id, seen.get(event.id))
        if earlier is not None:
            if earlier != digest:
                conflicts.append({"index": index, "field": "id",
                                  "message": f"event id {event.id} was already used with another body"})
            results.append(Accepted(event.id, "duplicate"))
            continue
        seen[event.id] = digest
        results.append(Accepted(event.id, "accepted"))
        fresh.append((index, event, data, raw, digest))
    if conflicts:
        raise Conflict("event id reused with a different body; nothing of the batch was stored",
                       {"errors": conflicts})
    view = _BatchView(session, parsed)
    errors = []
    for index, event, data, _, _ in sorted(fresh, key=lambda f: (f[1].occurred_at, f[0])):
        errors += [{"index": index, "field": field, "message": message}
                   for field, message in _check(view, event, data)]
    if errors:
        raise InvalidInput("invalid events; nothing of the batch was stored",
                           {"errors": sorted(errors, key=lambda e: e["index"])})
    rows = []
    received_at = utcnow()  # one instant for the batch (it arrived as one request)
    for index, event, data, raw, digest in fresh:
        if event.type == "account.created":
            session.add(account_factory(event, data))
            timezone = data.timezone
        else:
            timezone = view.account_facts(event.account_id)[1]
        rows.append({"id": event.id, "type": event.type, "account_id": event.account_id,
                     "occurred_at": event.occurred_at, "day": local_day(event.occurred_at, timezone),
                     "body_hash": digest, "data": data.model_dump(mode="json"),
                     "received_at": received_at})
    if any(event.type == "account.created" for _, event, _, _, _ in fresh):
        session.flush()  # the new accounts first, so a later statement in this transaction sees them
    if rows:
        # One executemany in arrival order (seq follows it); the unique id still guards duplicates.
        session.connection().execute(insert(Event.__table__), rows)  # Core: no ORM bookkeeping per row
        # Into the cycle's queue, copied on the server from the rows just stored.
        session.connection().execute(insert(PendingEvent.__table__).from_select(
            ["seq", "account_id", "day"], select(Event.seq, Event.account_id, Event.day)
            .where(among(session, Event.id, [row["id"] for row in rows]))))
    return results
