"""What the cycle's engine asks of the world: prices, document numbers, the account's profile."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.accounts import vat_of, vat_on
from billing.db import models as m
from billing.domain import records as r
from invoices.models import NumberSeries
from invoices.numbering import allocate_number
from invoices.taxnumbers import DOCUMENT_NUMBER, DOCUMENT_PREFIXES


class PriceBook:
    """Plan price versions, loaded once per run."""

    def __init__(self, session: Session) -> None:
        self.plans = {p.code: p for p in session.scalars(select(m.Plan))}
        self.versions: dict[str, list[m.PlanPrice]] = {}
        for row in session.scalars(select(m.PlanPrice).order_by(m.PlanPrice.id)):
            self.versions.setdefault(row.plan_code, []).append(row)

        self._terms: dict[tuple[str, date], r.PriceTerms] = {}

    def price(self, plan: str, day: date) -> r.PriceTerms:
        terms = self._terms.get((plan, day))  # every account on the plan asks again for the same day
        if terms is None:
            in_force = [v for v in self.versions[plan] if v.effective_from is None or v.effective_from <= day]
            version = max(in_force, key=lambda v: (v.effective_from or date.min, v.id))
            terms = self._terms[(plan, day)] = r.PriceTerms(
                plan, self.plans[plan].currency, version.monthly_seat_price, version.discount_percent,
                version.prices_include_vat)
        return terms


@dataclass
class DbContext:
    session: Session
    prices: PriceBook
    config: r.CycleConfig
    # The last number this transaction issued per (kind, year). The first allocation locks the
    # series row until commit, so nobody else can take a number meanwhile: the following ones are
    # counted here and written back once (write_counters) before the transaction commits. A
    # rollback drops them all together: still no gap, no duplicate.
    issued: dict[tuple[str, int], int] = field(default_factory=dict)

    def price(self, plan: str, day: date) -> r.PriceTerms:
        if plan not in self.prices.versions:  # a plan defined after this run began
            self.prices = PriceBook(self.session)
        return self.prices.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        key = (kind, day.year)
        if key in self.issued:
            self.issued[key] += 1
            return DOCUMENT_NUMBER.format(kind, day.year, self.issued[key])
        with self.session.no_autoflush:  # the counter's rows need nothing else flushed first
            number = allocate_number(self.session, kind, day.year)
        self.issued[key] = DOCUMENT_NUMBER.parse(number)[2]
        return number

    def write_counters(self) -> None:
        for (kind, year), value in self.issued.items():
            self.session.execute(
                update(NumberSeries).where(NumberSeries.series == DOCUMENT_PREFIXES[kind], NumberSeries.year == year)
                .values(last_value=value).execution_options(synchronize_session=False))


@dataclass
class PreviewContext:
    """Numbers that are obviously not real, for a run that writes nothing."""
    prices: PriceBook
    config: r.CycleConfig
    counter: dict[str, int] = field(default_factory=dict)

    def price(self, plan: str, day: date) -> r.PriceTerms:
        return self.prices.price(plan, day)

    def allocate_number(self, kind: str, day: date) -> str:
        self.counter[kind] = self.counter.get(kind, 0) + 1
        return f"PREVIEW-{kind.upper()}-{self.counter[kind]}"


def profile_of(account: m.Account, day: date | None = None) -> r.Profile:
    """The account as the engine sees it; with `day`, the VAT treatment in force on that day."""
    return r.Profile(account.id, account.currency, account.country, account.terms, account.trial_days,
                     account.created_day, vat_of(account) if day is None else vat_on(account, day))


def to_domain(row: m.Event) -> r.Event:
    return r.Event(row.id, row.type, row.account_id, row.occurred_at, row.day, row.seq, row.data)
