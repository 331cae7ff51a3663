"""The account's record from account.created, its buyer data changed by account.updated, and its
VAT treatment: decided when the account is created, again from the day of an update that changes
its EU VAT number, and again at a run while VIES has not answered. Each decision holds the day it
applies from (`effective_from`); the decisions it replaced stay with it (`earlier`), so a document
gets the treatment in force on its fulfilment day (`vat_on`).

VIES is asked before any database transaction opens (ask_vies: at event intake, and by the cycle
for a chunk's accounts before it takes their locks, vies_numbers), because a member state may
take seconds to answer; the decisions then read those answers."""
from __future__ import annotations

import logging
from functools import lru_cache
from datetime import date
from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from billing import config as billing_config
from billing.db.models import Account
from billing.db.queries import among
from billing.dates import local_day
from invoices.documents import Party, VatTreatment, _jsonable, _vat_from_json
from invoices.taxnumbers import EU_VAT_NUMBER
from invoices.vat import VatError, VatPending, decide_vat, is_eu, vat_prefix

log = logging.getLogger("billing.accounts")

_LOCALES = {"HU": "hu", "RO": "ro", "DE": "de", "AT": "de"}

# (valid, consultation reference, VIES's request date); valid None: VIES did not answer.
Answer = tuple[bool | None, str | None, date | None]
UNANSWERED: Answer = (None, None, None)
BUYER_FIELDS = ("name", "email", "address", "tax_number", "eu_vat_number", "locale")


def asks_vies(country: str, eu_vat_number: str | None) -> bool:
    """Only an EU buyer outside Hungary with a VAT number of its country can be reverse-charged:
    only then VIES."""
    return bool(eu_vat_number) and is_eu(country) and country != "HU" \
        and EU_VAT_NUMBER.compact(eu_vat_number).startswith(vat_prefix(country))


def requester_vat_number() -> str | None:
    """The seller's EU VAT number (SELLER_EU_VAT_NUMBER): with it VIES answers checkVatApprox with
    a consultation number (requestIdentifier), the proof that we asked."""
    number = billing_config.seller().eu_vat_number
    return number if number and EU_VAT_NUMBER.is_valid(number) else None


def ask_vies(numbers: Iterable[str | None]) -> dict[str, Answer]:
    """Ask VIES (VIES_URL, default the EU's service) about each number, one client for them all.
    Call it outside any database transaction. A number VIES did not answer maps to UNANSWERED
    (never to invalid); once VIES is unreachable at all, the numbers left are not asked."""
    wanted = sorted({n for n in numbers if n})
    if not wanted:
        return {}
    from invoices.vies import InvalidVatNumber, ViesClient, ViesUnavailable, ViesUnreachable

    client = ViesClient(requester_vat_number=requester_vat_number())
    answers: dict[str, Answer] = {}
    for number in wanted:
        try:
            result = client.check(number)
        except InvalidVatNumber:
            answers[number] = (False, None, None)
            continue
        except ViesUnavailable as exc:
            log.warning("VIES did not answer for %s, VAT decision pending: %s", number, exc)
            answers[number] = UNANSWERED
            if isinstance(exc, ViesUnreachable):
                answers.update((left, UNANSWERED) for left in wanted if left not in answers)
                break
            continue
        reference = result.request_identifier or f"VIES {result.request_date.isoformat()}"
        answers[number] = (result.valid, reference, result.request_date)
    return answers


def vies_check(vat_number: str, answers: Mapping[str, Answer] | None = None) -> Answer:
    """The answer about one number: from `answers` (asked before the transaction) when given, a
    number missing there being unanswered; else VIES is asked now."""
    if answers is not None:
        return answers.get(vat_number, UNANSWERED)
    return ask_vies([vat_number]).get(vat_number, UNANSWERED)


def decide_account_vat(country: str, eu_vat_number: str | None, effective_from: date | None = None,
                       answers: Mapping[str, Answer] | None = None) -> dict[str, Any]:
    valid, reference, checked_on = UNANSWERED
    if asks_vies(country, eu_vat_number):
        valid, reference, checked_on = vies_check(eu_vat_number, answers)
    try:
        treatment = decide_vat(buyer_country=country, eu_vat_number=eu_vat_number, vies_valid=valid,
                               vies_reference=reference, checked_on=checked_on)
        pending = False
    except VatPending:
        # Never reverse charge on a guess: Hungarian VAT until VIES confirms (README).
        treatment, pending = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None), True
    except VatError as exc:
        log.warning("VAT number does not match the country: %s", exc)
        treatment, pending = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None), False
    decided = {**_jsonable(treatment), "pending": pending}
    if effective_from is not None:
        decided["effective_from"] = effective_from.isoformat()
    return decided


def succeed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The decision `new` in force from its effective day, the ones before it kept for the days
    before (a decision from that day or later is replaced)."""
    day = new.get("effective_from") or ""
    current = {k: v for k, v in (old or {}).items() if k != "earlier"}
    earlier = [d for d in [*(old or {}).get("earlier", ()), current] if d and (d.get("effective_from") or "") < day]
    return {**new, "earlier": earlier} if earlier else new


def account_from_event(event, data, vies_answers: Mapping[str, Answer] | None = None) -> Account:
    created_day = local_day(event.occurred_at, data.timezone)
    return Account(
        id=event.account_id, name=data.name, email=data.email, country=data.country,
        currency=data.currency, locale=data.locale or _LOCALES.get(data.country, "en"),
        terms=data.terms or ("ro" if data.country == "RO" else "hu"), trial_days=data.trial_days,
        timezone=data.timezone, plan=data.plan, created_day=created_day,
        created_at_instant=event.occurred_at, address=data.address.model_dump(),
        tax_number=data.tax_number, eu_vat_number=data.eu_vat_number,
        vat=decide_account_vat(data.country, data.eu_vat_number, created_day, vies_answers),
        created_event_id=event.id)


def answers_for_batch(factory: sessionmaker, items: list[Any]) -> dict[str, Answer]:
    """VIES's answers for the EU VAT numbers of the new accounts of a raw batch (read before it is
    validated; a number failing its check, or an account that exists already, is not asked).
    Called before the batch's transaction opens."""
    from billing.db.session import make_read_factory

    wanted: dict[str, str] = {}
    for item in items:
        data = item.get("data") if isinstance(item, dict) and item.get("type") == "account.created" else None
        if isinstance(data, dict) and isinstance(item.get("account_id"), str) and isinstance(data.get("country"), str) \
                and isinstance(data.get("eu_vat_number"), str) and asks_vies(data["country"], data["eu_vat_number"]) \
                and EU_VAT_NUMBER.is_valid(data["eu_vat_number"]):
            wanted[item["account_id"]] = data["eu_vat_number"]
    if not wanted:
        return {}
    with make_read_factory(factory.kw["bind"])() as session:  # a replayed batch does not ask again
        known = set(session.scalars(select(Account.id).where(among(session, Account.id, list(wanted)))))
    return ask_vies(number for account_id, number in wanted.items() if account_id not in known)


def retry_pending_vat(account: Account, from_day: date | None = None,
                      answers: Mapping[str, Answer] | None = None) -> None:
    """VIES could not answer before: ask again at each cycle run (the answer is read from
    `answers`, asked before the run's lock). Until it confirms, Hungarian VAT applies (never a
    reverse charge on a guess); its answer decides the treatment from `from_day`, the first day
    this run processes."""
    if not (account.vat or {}).get("pending"):
        return
    decided = decide_account_vat(account.country, account.eu_vat_number, from_day, answers)
    if not decided["pending"]:
        log.info("VIES answered for account %s: %s from %s", account.id, decided["kind"], from_day)
        account.vat = succeed(account.vat, decided)


def apply_update(account: Account, data: Mapping[str, Any], day: date,
                 answers: Mapping[str, Answer] | None = None) -> None:
    """An account.updated event on the account row, from `day`: the buyer data for the documents
    issued from then (issued ones are frozen), and, when the EU VAT number changes, the VAT
    treatment decided again from that day (a new number: VIES; a removed one: domestic)."""
    for name in ("name", "email", "locale", "tax_number"):
        if name in data:
            setattr(account, name, data[name])
    if "address" in data:
        account.address = dict(data["address"])
    if "eu_vat_number" in data and data["eu_vat_number"] != account.eu_vat_number:
        account.eu_vat_number = data["eu_vat_number"]
        account.vat = succeed(account.vat, decide_account_vat(account.country, account.eu_vat_number, day, answers))


def vies_numbers(account: Any, events: Iterable[Any]) -> list[str]:
    """What a cycle step of `account` will need VIES for: its own EU VAT number while its
    decision still waits for an answer, and the new EU VAT numbers of its account.updated events.
    The cycle asks them before the chunk's write transaction (billing/cycle/run.py), so a slow
    VIES never holds the accounts' locks (every writer waits for those); the locked step reads
    the answers."""
    numbers = [account.eu_vat_number] if account.eu_vat_number and (account.vat or {}).get("pending") else []
    for event in events:
        if event.type == "account.updated" and asks_vies(account.country, number := event.data.get("eu_vat_number")):
            numbers.append(number)
    return numbers


def _in_force(vat: dict[str, Any], day: date | None) -> dict[str, Any]:
    earlier = vat.get("earlier")
    if not earlier or day is None:
        return vat
    chosen = earlier[0]
    for decision in (*earlier, vat):
        starts = decision.get("effective_from")
        if not starts or date.fromisoformat(starts) <= day:
            chosen = decision
    return chosen


def vat_of(account: Account) -> VatTreatment:
    """The treatment decided last (in force from its `effective_from` on)."""
    vat = account.vat
    # The same few decisions recur on every account: decoded once per distinct decision.
    return _decided(vat["kind"], vat["rate"], vat.get("nav_case"), vat.get("legal_text"),
                    vat.get("vies_reference"), vat.get("vies_checked_on"))


@lru_cache(maxsize=4096)
def _decided(kind: str, rate: str, nav_case: str | None, legal_text: str | None, vies_reference: str | None,
             vies_checked_on: str | None) -> VatTreatment:
    return _vat_from_json({"kind": kind, "rate": rate, "nav_case": nav_case, "legal_text": legal_text,
                           "vies_reference": vies_reference, "vies_checked_on": vies_checked_on})


def vat_on(account: Account, day: date | None) -> VatTreatment:
    """The treatment in force on `day` (a document's fulfilment day): a buyer confirmed by VIES on
    day V pays Hungarian VAT on what is fulfilled before V and is reverse-charged from V."""
    return _vat_from_json(_in_force(account.vat, day))


def vat_decision_view(account: Account) -> dict[str, Any]:
    vat = account.vat or {}
    return {"treatment": vat.get("kind"), "pending": vat.get("pending", False),
            "vies_reference": vat.get("vies_reference"), "effective_from": vat.get("effective_from"),
            "earlier": [{"treatment": d.get("kind"), "vies_reference": d.get("vies_reference"),
                         "effective_from": d.get("effective_from")} for d in vat.get("earlier", ())]}


def buyer_data(account: Account, updates: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The buyer data of the account row, with the data of `updates` (account.updated, in order)
    laid over it: what documents issued now would name."""
    data = {name: getattr(account, name) for name in BUYER_FIELDS}
    for update in updates:
        data.update({k: v for k, v in update.items() if k in BUYER_FIELDS})
    return data


def buyer_of(account: Account) -> Party:
    address = account.address or {}
    return Party(name=account.name, country=account.country, postal_code=address.get("postal_code", ""),
                 city=address.get("city", ""), street=address.get("street", ""),
                 tax_number=account.tax_number, eu_vat_number=account.eu_vat_number, email=account.email)
