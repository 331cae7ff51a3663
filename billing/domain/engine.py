"""The daily cycle of one account as a pure function: state + events + days → new state + outputs.

The database adapter (billing/cycle/run.py) loads, calls `advance` and stores what it returns in one
transaction; the preview calls the very same function and stores nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Protocol

from billing.domain.records import (CHARGING_STATES, Allocation, CycleConfig, DocumentDraft,
                                    DraftLine, Event, History, Outcome, Posting, PriceTerms, Profile,
                                    RefundOrder, RefundPart, Rejection, StateChange)
from billing.domain.adjustments import ADJUSTMENTS, apply_adjustment
from billing.domain.credit_notes import credit_latest_invoices
from billing.domain.reversals import PAYMENT_REVERSED, payment_of, reverse_payment
from billing.domain.state import (AccountState, CoveredLine, InvoiceState, PaymentState, ProformaState,
                                  require_history)
from billing.money import quantum, round_money, round_quantity
from invoices.documents import VatTreatment
from invoices.vat import monthly_price
from proration.days import (cumulative_entry, daily_charge, month_end, month_key, month_spans,
                            month_start, next_month_end, span_charge, termination_refund)


class Context(Protocol):
    config: CycleConfig

    def price(self, plan: str, day: date) -> PriceTerms: ...

    def allocate_number(self, kind: str, day: date) -> str: ...


def new_state(profile: Profile, plan: str) -> AccountState:
    return AccountState(account_id=profile.account_id, status="trialing",
                        conversion_day=profile.created_day + timedelta(days=profile.trial_days),
                        plan=plan)


def customer_account(account_id: str) -> str:
    return f"customer:{account_id}"


@dataclass
class _Run:
    """Collects the outputs of one call to `advance`."""
    profile: Profile
    ctx: Context
    state: AccountState
    postings: list[Posting] = field(default_factory=list)
    documents: list[DocumentDraft] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    refunds: list[RefundOrder] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # [payment event id, amount, index of its invoice in `documents`, its lines so far] of today's
    # payments not yet allocated to a proforma
    unallocated_today: list[list] = field(default_factory=list)
    # (L, D) of a late termination's month (§5), set by _correct_late (see _stop_month)
    stop_month: tuple[Fraction, Fraction] | None = None

    @property
    def currency(self) -> str:
        return self.profile.currency

    def post(self, day: date, kind: str, amount: Decimal, counter: str, **extra) -> None:
        """A posting between the customer's prepaid balance and one counter account."""
        if amount == 0:
            return
        customer = customer_account(self.profile.account_id)
        # amount > 0 credits the customer (payment, reversal): Dr counter, Cr customer.
        legs = ((counter, amount), (customer, -amount))
        self.postings.append(Posting(self.profile.account_id, day, kind, amount, self.currency, legs, **extra))
        self.state.balance += amount

    def set_status(self, day: date, new: str) -> None:
        old = self.state.status
        if old != new:
            self.state.status = new
            self.changes.append(StateChange(day, old, new))


_ZERO = Fraction(0)
SEAT_OR_PLAN = ("seat.activated", "seat.deactivated", "plan.changed")


def advance(state: AccountState, profile: Profile, events: list[Event], until: date,
            ctx: Context, history: History | None = None) -> tuple[AccountState, Outcome]:
    """Process the account through the end of `until`. Events dated on or before the last processed
    day arrive late: they are posted on the first day processed now (or on that last day when the
    run does not move forward), never by rewriting what was posted: late seat and plan events
    become a correction entry (needs `history`), late payments and terminations count from then."""
    run = _Run(profile, ctx, state.copy())
    st = run.state
    first = profile.created_day if st.through is None else st.through + timedelta(days=1)
    if st.through is None and first > until:
        return st, Outcome((), (), (), (), (), ())
    posting_day = first if first <= until else st.through
    # (most runs of most accounts have no event: none of this is worked out for them)
    events = sorted((e for e in events if e.day <= until), key=lambda e: (e.occurred_at, e.seq)) if events else []
    late = [e for e in events if e.day <= st.through] if events and st.through is not None else []
    late_stop = next((e for e in late if e.type == "account.terminated"), None) if late else None
    if history is not None and (late_stop or any(e.type in SEAT_OR_PLAN for e in late)):
        _correct_late(run, posting_day, [e for e in late if e.type in SEAT_OR_PLAN], history,
                      cut_off=late_stop.day if late_stop else None)
        events = [e for e in events if e not in late or e.type not in SEAT_OR_PLAN]
    by_day: dict[date, list[Event]] = {}
    for event in events:
        by_day.setdefault(max(event.day, posting_day), []).append(event)
    if first > until and st.through is not None and by_day.get(st.through):
        # A re-run of a day already processed: only the late events, no second charge.
        terminate = _apply_events(run, st.through, by_day[st.through], set())
        if terminate is not None:
            _terminate(run, st.through, terminate)
        else:
            _evaluate_lateness(run, st.through)
    day = first
    while day <= until:
        _process_day(run, day, by_day.get(day, []))
        st.through = day
        day += timedelta(days=1)
    return st, Outcome(tuple(run.postings), tuple(run.documents), tuple(run.allocations),
                       tuple(run.changes), tuple(run.refunds), tuple(run.rejections))


def _process_day(run: _Run, day: date, events: list[Event]) -> None:
    adjustments = [e for e in events if e.type in ADJUSTMENTS]
    if adjustments:  # finance's, made after the day was processed: after its charges (adjustments.py)
        _process_day(run, day, [e for e in events if e.type not in ADJUSTMENTS])
        _apply_events(run, day, adjustments, set())
        return
    st = run.state
    if st.month != month_key(day):
        st.month, st.month_exact, st.month_list_exact, st.month_posted = month_key(day), _ZERO, _ZERO, Decimal(0)
    start_users = set(st.active_users)
    # A proforma of this day asks against the balance after the charges through yesterday and the
    # open proformas as they stood then (§4): today's payments are not counted twice, they pay it.
    start_balance = st.balance
    start_open = (sum((p.unpaid for p in st.open_proformas()), Decimal(0))
                  if _proforma_day(st, day, run.ctx.config) else Decimal(0))
    run.unallocated_today = []
    activated_today: set[str] = set()
    terminate = _apply_events(run, day, events, activated_today)
    if terminate is not None and terminate.day < day:
        # A late termination: its day was the last charged one (the correction took back the
        # days after it), so nothing is charged today.
        _terminate(run, day, terminate)
        return
    if st.status == "trialing" and day >= st.conversion_day:
        run.set_status(day, "active" if st.paid_ever else "awaiting_payment")
    _evaluate_lateness(run, day)
    users = start_users | activated_today if activated_today else start_users
    seats = len(users)
    if st.status in CHARGING_STATES:
        _charge(run, day, seats, sorted(users), events)
    if terminate is not None:
        _terminate(run, day, terminate)
        return
    if st.status not in ("trialing", "terminated", "expired"):
        _maybe_issue_proforma(run, day, seats, start_balance, start_open)


def _apply_events(run: _Run, day: date, events: list[Event], activated_today: set[str]) -> Event | None:
    st = run.state
    terminate = None
    for event in events:
        if event.type == "account.created":
            continue
        if event.type in ADJUSTMENTS:  # a correction is due on a closed account too (adjustments.py)
            apply_adjustment(run, day, event)
            continue
        if event.type == PAYMENT_REVERSED:  # the money left, whatever the account's state (reversals.py)
            reverse_payment(run, day, event)
            continue
        if st.status in ("terminated", "expired"):
            run.rejections.append(Rejection(event.id, day, f"account is {st.status}"))
            continue
        if event.type == "seat.activated":
            user = event.data["user_id"]
            if user not in st.active_users:
                st.active_users = sorted(set(st.active_users) | {user})
            activated_today.add(user)
        elif event.type == "seat.deactivated":
            st.active_users = [u for u in st.active_users if u != event.data["user_id"]]
        elif event.type == "plan.changed":
            st.plan = event.data["plan"]
        elif event.type == "payment.received":
            _credit_payment(run, day, event)
        elif event.type == "account.terminated":
            terminate = event
    return terminate


@lru_cache(maxsize=4096)
def _price_factors(terms: PriceTerms, vat: VatTreatment) -> tuple[Fraction, Fraction]:
    """(monthly price, discount) as exact fractions; the same few pairs recur for every account."""
    return monthly_price(terms.list_price, terms.prices_include_vat, vat), Fraction(terms.discount_percent) / 100


@lru_cache(maxsize=65536)
def _day_charge(terms: PriceTerms, vat: VatTreatment, year: int, month: int,
                seats: int) -> tuple[Fraction, Fraction, Fraction, Fraction, str, str]:
    """(monthly price, discount, the exact charge of `seats` seats for one day of that month,
    the same at the list price, the texts of the price and of the day's charge): = daily_charge(seats,
    price, discount, day). Accounts on the same plan, seat count and month share it, so it is
    computed once per run, not per account. Only Fraction texts are cached: equal Decimals of the
    terms written otherwise ("0" and "0.0000") share an entry, so their texts are made per charge."""
    price, discount = _price_factors(terms, vat)
    first = date(year, month, 1)
    exact = daily_charge(seats, price, discount, first)
    list_exact = exact if discount == 0 else daily_charge(seats, price, Fraction(0), first)
    return price, discount, exact, list_exact, str(price), str(exact)


def _price(run: _Run, day: date) -> tuple[Fraction, Fraction, PriceTerms]:
    terms = run.ctx.price(run.state.plan, day)
    return (*_price_factors(terms, run.profile.vat), terms)


def _charge(run: _Run, day: date, seats: int, users: list[str], events: list[Event]) -> None:
    st = run.state
    terms = run.ctx.price(st.plan, day)
    _, _, exact, list_exact, price_text, exact_text = _day_charge(terms, run.profile.vat, day.year, day.month, seats)
    before = st.month_exact
    st.month_exact = before + exact
    # Without a discount the two sums are one and share their value (_day_charge, from_json): no
    # second addition of fractions.
    st.month_list_exact = (st.month_exact if list_exact is exact and st.month_list_exact is before
                           else st.month_list_exact + list_exact)
    amount = cumulative_entry(st.month_exact, st.month_posted, run.currency)
    if seats == 0 and amount == 0:
        return
    st.month_posted += amount
    st.charged_since_conversion += amount
    details = {
        "seats": seats, "users": users, "plan": terms.plan,
        "list_price": str(terms.list_price), "discount_percent": str(terms.discount_percent),
        "prices_include_vat": terms.prices_include_vat, "vat_kind": run.profile.vat.kind,
        "monthly_price_exact": price_text, "day_exact": exact_text,
        "month_to_date_exact": str(st.month_exact),
        "month_to_date_rounded": str(st.month_posted),
        "events": [e.id for e in events if e.type.startswith("seat.") or e.type == "plan.changed"],
    }
    run.post(day, "charge", -amount, "revenue", details=details)


def _credit_payment(run: _Run, day: date, event: Event) -> None:
    st = run.state
    amount = Decimal(event.data["amount"])
    method = event.data.get("method", "bank_transfer")
    run.post(day, "payment", amount, f"clearing:{method}", event_id=event.id,
             details={"method": method, "reference": event.data.get("reference"),
                      "external_id": event.data.get("external_id")})
    payment = PaymentState(event.id, event.data.get("external_id"), method, amount, day=day)
    st.payments.append(payment)
    st.paid_ever = True
    remaining = amount
    lines: list[DraftLine] = []
    for proforma in sorted(st.open_proformas(), key=lambda p: (p.issue_date, p.number)):
        if remaining <= 0:
            break
        share, paid = _pay(run, day, event.id, remaining, proforma)
        remaining -= share
        lines += paid
    number = run.ctx.allocate_number("invoice", day)
    payment.invoice = number
    run.documents.append(_with_lines(DocumentDraft(
        number=number, kind="invoice", account_id=run.profile.account_id, issue_date=day, due_date=day,
        fulfilment_date=day, currency=run.currency, gross=amount, lines=(), payment_method=method,
        event_id=event.id,
        details={"reference": event.data.get("reference"), "external_id": event.data.get("external_id")}),
        lines, remaining))
    if remaining > 0:  # a proforma issued later today takes it (_allocate_today), else it stays an advance
        run.unallocated_today.append([event.id, remaining, len(run.documents) - 1, lines])
    st.invoices.append(InvoiceState(number, amount))
    if st.status == "awaiting_payment":
        run.set_status(day, "active")


def _evaluate_lateness(run: _Run, day: date) -> None:
    """§3: past_due from the day after the oldest unpaid due date, suspended beyond the grace days;
    the unpaid first proforma of a never-paying account expires it instead."""
    st = run.state
    grace = run.ctx.config.grace_days
    oldest = st.oldest_overdue(day)
    if st.status == "awaiting_payment":
        if oldest is not None and (day - oldest.due_date).days > grace:
            _expire(run, day)
        return
    if st.status not in ("active", "past_due", "suspended"):
        return
    if oldest is None:
        run.set_status(day, "active")
    elif (day - oldest.due_date).days > grace:
        run.set_status(day, "suspended")
    else:
        run.set_status(day, "past_due")


def _expire(run: _Run, day: date) -> None:
    st = run.state
    require_history(st, "an expiry, which voids every proforma,")
    run.post(day, "charge_reversal", st.charged_since_conversion, "revenue",
             details={"reason": "trial ended and the first proforma was never paid; no contract formed"})
    st.charged_since_conversion = Decimal(0)
    for proforma in st.proformas:
        proforma.void = True
    st.expired_on = day
    run.set_status(day, "expired")


def _proforma_day(st: AccountState, day: date, config: CycleConfig) -> bool:
    """A proforma is issued on the conversion day and on the proforma day of every month (§4)."""
    return day == st.conversion_day or day.day == config.proforma_day


def _maybe_issue_proforma(run: _Run, day: date, seats: int, balance_before_today: Decimal,
                          open_amount: Decimal) -> None:
    st = run.state
    config = run.ctx.config
    if not _proforma_day(st, day, config):
        return
    if day == st.conversion_day:
        last = next_month_end(day) if day.day >= config.proforma_day else month_end(day)
        first = True
    else:
        last, first = next_month_end(day), False
    price, discount, terms = _price(run, day)
    spans = month_spans(day, last)
    exact_parts = [span_charge(seats, price, discount, a, b) for a, b in spans]
    projected_exact = sum(exact_parts, Fraction(0))
    projected = round_money(projected_exact, run.currency)
    amount = max(Decimal(0), projected - balance_before_today - open_amount)
    if amount == 0:
        return
    lines = _proforma_lines(run, spans, exact_parts, projected, seats, balance_before_today, open_amount, terms)
    asked = _asked_lines(run, lines, projected - amount)
    assert sum((line.gross for line in asked), Decimal(0)) == amount, (asked, amount)
    number = run.ctx.allocate_number("proforma", day)
    due = day + timedelta(days=config.payment_terms_days)
    st.proformas.append(ProformaState(number, day, due, amount, first=first, period_start=day, period_end=last,
                                      lines=asked))
    run.documents.append(DocumentDraft(
        number=number, kind="proforma", account_id=run.profile.account_id, issue_date=day, due_date=due,
        fulfilment_date=day, currency=run.currency, gross=amount, lines=tuple(lines),
        period_start=day, period_end=last,
        details={"projected": str(projected), "projected_exact": str(projected_exact),
                 "balance": str(balance_before_today), "open": str(open_amount), "seats": seats,
                 "list_price": str(terms.list_price), "discount_percent": str(terms.discount_percent)}))
    _allocate_today(run, day, st.proformas[-1])


def _allocate_today(run: _Run, day: date, proforma: ProformaState) -> None:
    """Today's payments that were left over after the older proformas pay the one issued today;
    each one's invoice (drafted when it was credited) then states the lines it pays."""
    for item in run.unallocated_today:
        event_id, available, index, lines = item
        share, paid = _pay(run, day, event_id, available, proforma)
        if share > 0:
            item[1], item[3] = available - share, lines + paid
            run.documents[index] = _with_lines(run.documents[index], item[3], item[1])


def _pay(run: _Run, day: date, event_id: str, available: Decimal,
         proforma: ProformaState) -> tuple[Decimal, list[DraftLine]]:
    """Allocate a payment to a proforma: the share and the invoice lines it pays (§4)."""
    paid_before = proforma.paid
    share = _allocate(run, day, event_id, available, proforma)
    # A paid proforma keeps its lines: a return of the payment re-opens it, and the next payment's
    # invoice states the seat-days again.
    return share, _paid_lines(proforma, paid_before, share) if share > 0 else []


def _allocate(run: _Run, day: date, event_id: str, available: Decimal, proforma: ProformaState) -> Decimal:
    """Put as much of a payment on a proforma as it still asks for; returns the share."""
    share = min(available, proforma.unpaid)
    if share > 0:
        proforma.paid += share
        run.allocations.append(Allocation(event_id, proforma.number, share, day))
        payment = payment_of(run.state, event_id)
        if payment is not None:  # what a return of the payment undoes (reversals.py)
            payment.allocations.append((proforma.number, share))
    return max(share, Decimal(0))


def _proforma_lines(run: _Run, spans, exact_parts, projected: Decimal, seats: int, balance: Decimal,
                    open_amount: Decimal, terms: PriceTerms) -> list[DraftLine]:
    lines = []
    running = Fraction(0)
    posted = Decimal(0)
    for (a, b), part in zip(spans, exact_parts):
        # cumulative rounding across the months, so the lines add up to the one rounded projection
        running += part
        gross = round_money(running, run.currency) - posted
        posted += gross
        days = (b - a).days + 1
        # one seat for one day of that month: monthly price × (1 − discount) / days in the month
        unit = part / (seats * days) if seats else None
        lines.append(DraftLine(f"Seat licences: {seats} seats × {days} days ({terms.plan})",
                               Decimal(seats * days), "seat-day", gross, a, b,
                               details={"exact": str(part), "seats": seats, "days": days}, unit_gross=unit))
    if balance != 0:
        lines.append(DraftLine("Prepaid balance" if balance > 0 else "Outstanding balance",
                               Decimal(1), "piece", -balance))
    if open_amount:
        lines.append(DraftLine("Already requested by open proformas", Decimal(1), "piece", -open_amount))
    return lines


# How far a proforma's deduction (its prepaid balance and open proformas) and its first seat-day
# line may differ by rounding alone: the balance and the line are each made of cumulatively
# rounded amounts (a payment, the month's charges, the line), at most five roundings of half a
# minor unit apart, so at most 2 minor units while the seats and the price stay the same.
ROUNDING_SLACK_UNITS = 2


def _asked_lines(run: _Run, lines: list[DraftLine], deduction: Decimal) -> tuple[CoveredLine, ...]:
    """What a proforma asks for, line by line, adding up to its amount: its seat-day lines less the
    `deduction` (= projected − amount: the prepaid balance and what open proformas ask), which pays
    the earliest seat-days first. A debt beyond what open proformas ask is days already used, its
    own line. A line the deduction leaves within the rounding slack of empty gives that money to
    the next line, and a line left within it of whole keeps its whole quantity: the money stays
    exact, quantity × unit price differs from it by the slack at most (NAV warns above 1 %)."""
    slack = ROUNDING_SLACK_UNITS * quantum(run.currency)
    asked = []
    if deduction < 0:
        asked.append(CoveredLine("Seat licences already used (outstanding balance)", None, None,
                                 Decimal(1), -deduction, None))
        deduction = Decimal(0)
    seat_lines = [line for line in lines if line.unit_gross is not None and line.gross > 0]
    carry = Decimal(0)
    for position, line in enumerate(seat_lines):
        taken = min(deduction, line.gross)
        deduction -= taken
        left, carry = line.gross - taken + carry, Decimal(0)
        if left <= 0:
            continue
        if left <= slack and position < len(seat_lines) - 1:
            carry = left
            continue
        whole = abs(left - line.gross) <= slack
        quantity = line.quantity if whole else _part(line, left)
        asked.append(CoveredLine(line.description, line.period_start, line.period_end, quantity, left,
                                 line.unit_gross))
    return tuple(asked)


def _paid_lines(proforma: ProformaState, paid_before: Decimal, share: Decimal) -> list[DraftLine]:
    """The lines of `proforma` a payment of `share` pays, the earlier payments (`paid_before`)
    having paid its first lines (§4: the invoice states the covered lines of the proforma it
    pays). A line paid in part states the seat-days of that part, rounded cumulatively along the
    line so that its parts add up to its quantity."""
    if not proforma.lines:  # a proforma issued before its lines were kept: a lump sum
        return [DraftLine(f"Seat licences, per proforma {proforma.number}", Decimal(1), "piece", share,
                          proforma.period_start, proforma.period_end, details={"proforma": proforma.number})]
    paid = []
    start, end, offset = paid_before, paid_before + share, Decimal(0)
    for line in proforma.lines:
        low, high = max(start, offset), min(end, offset + line.gross)
        if high > low:
            if line.unit_gross is None:
                quantity, unit = Decimal(1), "piece"
            else:
                quantity, unit = _part(line, high - offset) - _part(line, low - offset), "seat-day"
            paid.append(DraftLine(f"{line.description}, proforma {proforma.number}", quantity, unit, high - low,
                                  line.period_start, line.period_end, details={"proforma": proforma.number},
                                  unit_gross=line.unit_gross))
        offset += line.gross
    return paid


def _part(line: CoveredLine | DraftLine, money: Decimal) -> Decimal:
    """The seat-days of the first `money` of a line (its whole quantity for all of it)."""
    if money == line.gross:
        return line.quantity
    return round_quantity(Fraction(line.quantity) * Fraction(money) / Fraction(line.gross))


ADVANCE_TEXT = "Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)"


def _with_lines(invoice: DocumentDraft, lines: list[DraftLine], advance: Decimal) -> DocumentDraft:
    """A payment's invoice: the proforma lines it pays and, for money beyond what the proformas
    asked for, an advance (Áfa tv. 59. §), which covers no period. The covered period is that of
    its seat-day lines."""
    if advance > 0:
        lines = [*lines, DraftLine(ADVANCE_TEXT, Decimal(1), "piece", advance, details={"advance": True},
                                   advance=True)]
    return replace(invoice, lines=tuple(lines),
                   period_start=min((l.period_start for l in lines if l.period_start), default=None),
                   period_end=max((l.period_end for l in lines if l.period_end), default=None))


def _terminate(run: _Run, day: date, event: Event) -> None:
    st = run.state
    if st.status == "trialing":
        run.set_status(day, "terminated")
        st.terminated_on = event.day
        return
    if event.data.get("by") == "provider" and event.data.get("reason") == "late_payment" \
            and st.status != "suspended":
        run.rejections.append(Rejection(event.id, day, "provider termination for late payment needs "
                                                       "more than 30 days of lateness (§13)"))
        return
    require_history(st, "a termination, which voids every proforma and refunds through the latest payments,")
    for proforma in st.proformas:
        proforma.void = True
    balance_after_charges = st.balance
    # L and D of §5: the used days of the termination month, which for a late termination
    # processed in a later month are not the month being processed now (_stop_month).
    list_exact, discounted_exact = (st.month_list_exact, st.month_exact) if run.stop_month is None \
        else run.stop_month
    refund = termination_refund(st.balance, list_exact, discounted_exact, run.profile.terms == "ro",
                                run.currency)
    run.post(day, "clawback", -refund.clawback, "revenue", event_id=event.id,
             details={"list_exact": str(list_exact), "discounted_exact": str(discounted_exact),
                      "rule": "Romanian terms §13: used days re-priced at the list price"})
    st.terminated_on = event.day
    run.set_status(day, "terminated")
    if refund.refund > 0:
        _order_refund(run, day, refund.refund, event, {
            "termination_day": event.day.isoformat(), "by": event.data.get("by"),
            "balance_after_charges": str(balance_after_charges), "terms": run.profile.terms,
            "clawback": str(refund.clawback),
            "rule": "refund = max(0, balance − (R(L) − R(D)))" if run.profile.terms == "ro" else "refund = balance",
            "list_exact": str(list_exact), "discounted_exact": str(discounted_exact)})


def _order_refund(run: _Run, day: date, amount: Decimal, event: Event, details: dict) -> None:
    st = run.state
    run.post(day, "refund", -amount, "refunds_payable", event_id=event.id, details=details)
    parts = []
    remaining = amount
    for payment in reversed(st.payments):  # the latest payments are refunded first
        share = min(remaining, payment.held)
        if share <= 0:
            continue
        payment.refunded += share
        remaining -= share
        parts.append(RefundPart(payment.event_id, payment.external_id, payment.method, share))
        if remaining == 0:
            break
    if remaining > 0:
        require_history(st, "a refund beyond what the hot payments hold")
    notes = credit_latest_invoices(run, st, day, amount,
                                   f"Refund of the unused prepaid balance on termination ({day.isoformat()})", event.id)
    run.refunds.append(RefundOrder(run.profile.account_id, day, day + timedelta(days=run.ctx.config.refund_days),
                                   amount, run.currency, tuple(parts), tuple(notes)))


def _billable(events: list[Event], day: date) -> frozenset[str]:
    """Users with the right to log in at any moment of `day`: active when it began, or activated
    during it."""
    at_start: set[str] = set()
    activated: set[str] = set()
    for event in events:
        if event.type not in ("seat.activated", "seat.deactivated"):
            continue
        user = event.data["user_id"]
        if event.day < day:
            (at_start.add if event.type == "seat.activated" else at_start.discard)(user)
        elif event.day == day and event.type == "seat.activated":
            activated.add(user)
    return frozenset(at_start | activated)


def _plan_on(events: list[Event], day: date, initial: str) -> str:
    plan = initial
    for event in events:
        if event.type == "plan.changed" and event.day <= day:
            plan = event.data["plan"]
    return plan


def _correct_late(run: _Run, posting_day: date, late: list[Event], history: History,
                  cut_off: date | None = None) -> None:
    """Re-derive each day from the earliest late event through the last processed day and post the
    difference per service month as one correction entry (cumulative rounding kept per month).
    `cut_off` is a late termination's day: nothing is billable after it."""
    st = run.state
    if st.status in ("terminated", "expired"):
        run.rejections.extend(Rejection(e.id, posting_day, f"account is {st.status}") for e in late)
        return
    everything = sorted([*history.applied_events, *late], key=lambda e: (e.occurred_at, e.seq))
    per_month: dict[str, list] = {}
    starts = [e.day for e in late] + ([cut_off + timedelta(days=1)] if cut_off else [])
    day = max(min(starts), st.conversion_day)
    while day <= st.through:
        new_users = frozenset() if cut_off and day > cut_off else _billable(everything, day)
        old_users = history.posted_users.get(day, frozenset())
        if new_users != old_users:
            terms = run.ctx.price(_plan_on(everything, day, history.initial_plan), day)
            price = monthly_price(terms.list_price, terms.prices_include_vat, run.profile.vat)
            discount = Fraction(terms.discount_percent) / 100
            delta = len(new_users) - len(old_users)
            bucket = per_month.setdefault(month_key(day), [Fraction(0), Fraction(0), {}])
            bucket[0] += daily_charge(delta, price, discount, day)
            bucket[1] += daily_charge(delta, price, Fraction(0), day)
            bucket[2][day.isoformat()] = {"added": sorted(new_users - old_users),
                                          "removed": sorted(old_users - new_users)}
        day += timedelta(days=1)
    for month, (exact, list_exact, days) in sorted(per_month.items()):
        if month == st.month:
            st.month_exact += exact
            st.month_list_exact += list_exact
            amount = round_money(st.month_exact, run.currency) - st.month_posted
            st.month_posted += amount
        else:
            old_exact, posted = history.month_totals.get(month, (Fraction(0), Decimal(0)))
            amount = round_money(Fraction(old_exact) + exact, run.currency) - posted
        st.charged_since_conversion += amount
        run.post(posting_day, "charge_correction", -amount, "revenue",
                 details={"month": month, "exact_delta": str(exact), "days": days,
                          "events": [e.id for e in late]})
    st.active_users = sorted(_active_at_end(everything, st.through))
    st.plan = _plan_on(everything, st.through, history.initial_plan)
    if cut_off is not None:
        run.stop_month = _stop_month(run, everything, history, cut_off)


def _stop_month(run: _Run, everything: list[Event], history: History, stop_day: date) -> tuple[Fraction, Fraction]:
    """(L, D) of the Romanian clawback (§5) for a late termination: the exact list-price and
    discounted charges of the used days of the TERMINATION month, conversion (or the 1st) … T.
    While that month is still the one being charged, they are its running totals (just corrected
    to end on T); once it has ended (the termination is processed in a later month) they are
    re-derived day by day from the seat and plan events, as the cycle charged those days."""
    st = run.state
    if month_key(stop_day) == st.month:
        return st.month_list_exact, st.month_exact
    list_exact = discounted = Fraction(0)
    day = max(month_start(stop_day), st.conversion_day)
    while day <= stop_day:
        seats = len(_billable(everything, day))
        if seats:
            terms = run.ctx.price(_plan_on(everything, day, history.initial_plan), day)
            price, discount = _price_factors(terms, run.profile.vat)
            discounted += daily_charge(seats, price, discount, day)   # seats × price × (1 − d) / days
            list_exact += daily_charge(seats, price, Fraction(0), day)   # seats × price / days
        day += timedelta(days=1)
    return list_exact, discounted


def _active_at_end(events: list[Event], day: date) -> set[str]:
    active: set[str] = set()
    for event in events:
        if event.day <= day and event.type == "seat.activated":
            active.add(event.data["user_id"])
        elif event.day <= day and event.type == "seat.deactivated":
            active.discard(event.data["user_id"])
    return active

