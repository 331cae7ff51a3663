"""The cycle and MNB's exchange rates (CONTRACT §6: no guess ever reaches a tax document).

- Before the write lock, a chunk asks MNB for the rates its foreign-currency accounts will need
  (`rates_wanted`, `fetch_rates`: payment days, proforma days), so no network call waits under the lock;
  the answers, a rate or "none", seed the chunk transaction's memo (issuing.py exchange_rate).
- Under the lock, `advance_account` gives the engine a numbering context (`RateGate`) that numbers
  a foreign-currency invoice only when MNB's final rate of its day is known and no earlier invoice
  of the account still waits; otherwise the invoice gets a provisional number and its draft waits
  in `waiting_invoices` (billing/cycle/waiting.py), while the payment is credited as usual.
- First thing in every run, `issue_waiting` tries the waiting invoices again and issues those
  whose rate MNB now gives: numbered then, dated the business day the run processes for the
  account, fulfilment date and rate still the payment's day's.

HUF never asks MNB: a HUF invoice has rate 1 and never waits.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing import config as billing_config
from billing.accounts import Answer
from billing.cycle import updates, waiting
from billing.cycle import write as writes
from billing.cycle.context import DbContext, PriceBook
from billing.cycle.issuing import RATES, Rate, RateUnavailable, invoice_rate, mnb_answer, rate_known
from billing.db import jsoncodec
from billing.db import models as m
from billing.db.base import utcnow
from billing.db.session import make_read_factory
from billing.domain import records as r
from billing.domain.reversals import PAYMENT_REVERSED, payment_of
from billing.domain.state import AccountState, InvoiceState
from billing.logs import get_logger

log = logging.getLogger("billing.cycle")
cycle_log = get_logger("billing.cycle")

Memo = dict[tuple[str, date], "Rate | RateUnavailable"]


# -- before the lock ---------------------------------------------------------------------------------

def fetch_rates(factory: sessionmaker, wanted: set[tuple[str, date]]) -> Memo:
    """MNB's rate for each (currency, day), from the exchange_rates table or MNB itself, holding
    no lock: MNB is asked outside any transaction, and the final answers are stored after, in a
    short one. Once MNB does not answer at all, the remaining days are not asked again."""
    memo: Memo = {}
    if not wanted:  # an all-HUF chunk: no transaction, no import of the SOAP client
        return memo
    from invoices.mnb import MnbClient
    from invoices.models import ExchangeRateRow
    from invoices.sqlutil import insert_if_absent

    with make_read_factory(factory.kw["bind"])() as session:
        for currency, day in sorted(wanted):
            row = session.get(ExchangeRateRow, {"currency": currency, "day": day})
            if row is not None:
                memo[(currency, day)] = Rate(row.rate, row.published_on, "MNB")
    client, final, silent = None, [], None
    for currency, day in sorted(wanted - memo.keys()):
        if silent is not None:  # MNB did not answer at all: not asked again for the other days
            memo[(currency, day)] = RateUnavailable(
                f"no MNB rate for {currency} on {day.isoformat()}: MNB did not answer ({silent})")
            continue
        client = client or MnbClient()
        answer = memo[(currency, day)] = mnb_answer(client, currency, day)
        if isinstance(answer, RateUnavailable):
            silent = None if answer.answered else f"asked about {currency} on {day.isoformat()}"
        elif answer.final:
            final.append({"currency": currency, "day": day, "rate": answer.rate, "published_on": answer.published_on})
    if final:
        with factory.begin() as session:
            for values in final:  # a published rate never changes: whichever row lands first is right
                insert_if_absent(session, ExchangeRateRow, values)
    return memo


def rates_wanted(steps: Iterable[tuple[r.Profile, date | None, Iterable[r.Event]]], until: date) -> set[tuple[str, date]]:
    """The rates a chunk's foreign-currency accounts will need through `until`, from each step's
    (profile, day processed through, pending events): those of their pending payments (credited on
    their day, or on the first day processed now if they arrived late) and of the days a proforma
    may be issued on (the conversion day, the proforma day of each month). The cycle fetches them
    before the lock (fetch_rates), so nothing waits for MNB while the chunk holds its lock."""
    proforma_day = billing_config.cycle_config().proforma_day
    wanted: set[tuple[str, date]] = set()
    for profile, through, events in steps:
        if profile.currency == "HUF":  # rate 1: never MNB
            continue
        currency = profile.currency.upper()
        wanted.update((currency, _credit_day(e.day, through, until)) for e in events if e.type == "payment.received")
        conversion = profile.created_day + timedelta(days=profile.trial_days)
        day = profile.created_day if through is None else through + timedelta(days=1)
        while day <= until:
            if day == conversion or day.day == proforma_day:
                wanted.add((currency, day))
            day += timedelta(days=1)
    return wanted


def seed_rates(session: Session, memo: Memo) -> None:
    """The chunk transaction uses the answers asked before its lock: a rate, or MNB's silence,
    which it does not ask about again while it holds the lock."""
    session.info.setdefault(RATES, {}).update(memo)


def _credit_day(day: date, through: date | None, until: date) -> date:
    """The day the engine credits a payment of `day` on (billing/domain/engine.py advance)."""
    if through is None or day > through:
        return day
    return min(through + timedelta(days=1), until) if through < until else through


# -- under the lock ----------------------------------------------------------------------------------

class RateGate:
    """The engine's context for one foreign-currency account under the lock: an invoice is
    numbered only when MNB's rate of its day is known and no earlier invoice of the account still
    waits (an account's invoices are issued in the order its payments were credited); otherwise it
    gets a provisional number, and write.persist_outcome parks its draft. No number is taken for
    it, so the invoice series stays gapless."""

    def __init__(self, inner: DbContext, session: Session, currency: str, waits: bool) -> None:
        self.inner, self.session, self.currency, self.waits = inner, session, currency, waits

    @property
    def config(self) -> r.CycleConfig:
        return self.inner.config

    def price(self, plan: str, day: date) -> r.PriceTerms:
        return self.inner.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        if kind == "invoice" and (self.waits or not rate_known(self.session, self.currency, day)):
            self.waits = True
            return waiting.provisional_number()
        return self.inner.allocate_number(kind, day)


def advance_account(session: Session, ctx: DbContext, account: m.Account, state: AccountState,
                    events: list[r.Event], until: date, history: r.History | None,
                    answers: Mapping[str, Answer] | None) -> AccountState | None:
    """billing.cycle.updates.advance_account, with invoices that wait for their rate. None: the
    account's step waits whole this run, because it terminates while one of its invoices waits
    (the refund's credit notes must reduce that invoice, which has no number yet); the next run
    does it, on the days it belongs to."""
    if account.currency == "HUF":  # rate 1: never MNB, never a wait
        return updates.advance_account(session, ctx, account, state, events, until, history, answers)
    waits = waiting.has_waiting(session, account.id)
    if _terminates_behind_a_wait(session, account, state, events, until, waits):
        log.warning("account %s: termination held until its waiting invoices have their MNB rate", account.id)
        return None
    new = updates.advance_account(session, RateGate(ctx, session, account.currency, waits), account, state,
                                  events, until, history, answers)
    # The state lists issued invoices only (what a credit note or a correction may reduce); a
    # waiting one joins it when it is issued (issue_waiting).
    new.invoices = [i for i in new.invoices if not waiting.is_provisional(i.number)]
    return new


def _terminates_behind_a_wait(session: Session, account: m.Account, state: AccountState,
                              events: list[r.Event], until: date, waits: bool) -> bool:
    # A termination's refund and a payment's return both credit invoices, which need numbers.
    if not any(e.type in ("account.terminated", PAYMENT_REVERSED) and e.day <= until for e in events):
        return False
    return waits or any(
        e.type == "payment.received" and e.day <= until
        and not rate_known(session, account.currency, _credit_day(e.day, state.through, until)) for e in events)


# -- first thing in every run ------------------------------------------------------------------------

def issue_waiting(factory: sessionmaker, until: date, prices: PriceBook | None = None) -> int:
    """Issue the waiting invoices whose rate MNB gives now, each account in its own short
    transaction under its row lock; returns how many were issued."""
    with make_read_factory(factory.kw["bind"])() as session:
        rows = [(row.account_id, row.currency, row.payment_day) for row in waiting.waiting_rows(session)]
    if not rows:
        return 0
    memo = fetch_rates(factory, {(currency, day) for _, currency, day in rows if day <= until})
    issued = 0
    for account_id in dict.fromkeys(account_id for account_id, _, _ in rows):
        issued += _issue_account(factory, account_id, until, memo, prices)
    cycle_log.info("invoices_waiting_for_rate", until=until.isoformat(), issued=issued,
                   still_waiting=len(rows) - issued)
    return issued


def _issue_account(factory: sessionmaker, account_id: str, until: date, memo: Memo,
                   prices: PriceBook | None) -> int:
    with factory.begin() as session:
        seed_rates(session, memo)
        # The lock a cycle chunk takes too (FOR UPDATE; SQLite's single writer): a chunk or another
        # run holding this account finishes first, and the rows are read again under it, so two
        # runs at once never issue one waiting invoice twice.
        account = session.scalars(select(m.Account).where(m.Account.id == account_id).with_for_update()).one()
        state_row = session.get(m.AccountStateRow, account_id)
        rows = waiting.waiting_rows(session, account_id)
        if not rows or state_row is None or state_row.through is None or until < state_row.through:
            return 0  # a run through an earlier day than the account's issues nothing of it
        state = AccountState.from_json(state_row.state)
        # CONTRACT §7: dated the business day the run processes for the account when it issues it:
        # the day after the last one processed (the run does that day next), or that day on a rerun.
        day = min(until, state.through + timedelta(days=1))
        ctx = DbContext(session, prices or PriceBook(session), billing_config.cycle_config())
        issued, blocked, now = 0, None, utcnow()
        for row in rows:
            try:
                if blocked is not None:
                    raise RateUnavailable(f"waits for the invoice of the payment of {blocked.isoformat()}")
                invoice_rate(session, row.currency, row.payment_day)  # MNB's, and final
            except RateUnavailable as exc:
                blocked = blocked or row.payment_day
                row.last_attempt_at, row.last_error = now, str(exc)[:2000]
                continue
            draft = waiting.draft_from_json(row.draft)
            draft = dataclasses.replace(draft, number=ctx.allocate_number("invoice", day), issue_date=day)
            writes.issue_document(session, account, draft)  # the document, its VAT booking, its NAV report
            session.delete(row)
            state.invoices.append(InvoiceState(draft.number, draft.gross))
            payment = payment_of(state, draft.event_id)
            if payment is not None:  # a return of the payment reduces this invoice (reversals.py)
                payment.invoice = draft.number
            issued += 1
        if issued:
            # Its version is raised, so a step prepared from the state before is computed again.
            writes.save_states(session, [(account_id, state, True, jsoncodec.dumps(state.to_json()))])
            ctx.write_counters()
        return issued
