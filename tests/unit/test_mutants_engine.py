"""The pure engine, story by story, with every forint written out (CONTRACT §2-§5).

One account on a gross 9,990 HUF seat-month plan (`std`; `big` is 19,990), created on Monday
2 March 2026 with the default 14 trial days: trial days 2 … 15 March, conversion day C = 16 March
(§3). March has 31 days, April 30. Written to kill the mutants `./dev mutate` found alive in
billing/domain/engine.py; each expected amount carries its formula."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal as D
from fractions import Fraction as F

from billing.domain.engine import advance, new_state
from billing.domain.records import CycleConfig, Event, History, Outcome, PriceTerms, Profile
from invoices.vat import decide_vat

DOMESTIC = decide_vat(buyer_country="HU", eu_vat_number=None, vies_valid=None)
CREATED = date(2026, 3, 2)
C = date(2026, 3, 16)
SEAT_OR_PLAN = ("seat.activated", "seat.deactivated", "plan.changed")


def day(month: int, dom: int) -> date:
    return date(2026, month, dom)


@dataclass
class FakeContext:
    """Like billing.cycle.context: a plan's price is the version in force on the day asked for,
    and documents are numbered per series and year (§4)."""
    discount_percent: str = "0"
    currency: str = "HUF"
    plans: dict = field(default_factory=lambda: {"std": "9990", "big": "19990"})
    config: CycleConfig = CycleConfig()
    numbers: dict = field(default_factory=dict)

    def price(self, plan, on):
        versions = [(date(2026, 1, 1), self.plans[plan]), (date(2027, 1, 1), "99999")]
        list_price = max((v for v in versions if v[0] <= on), key=lambda v: v[0])[1]
        return PriceTerms(plan, self.currency, D(list_price), D(self.discount_percent), True)

    def allocate_number(self, kind, on):
        key = (kind, on.year)
        self.numbers[key] = self.numbers.get(key, 0) + 1
        return f"{kind}-{self.numbers[key]}"


class Account:
    """The cycle around the engine, as billing/cycle does it: events wait until their day is run,
    a late seat or plan event comes with the History the cycle would rebuild from the ledger."""

    def __init__(self, *, created=CREATED, terms="hu", discount_percent="0", trial_days=14, users=("a", "b"),
                 currency="HUF", plans=None):
        self.profile = Profile("acct", currency, "HU", terms, trial_days, created, DOMESTIC)
        self.ctx = FakeContext(discount_percent, currency)
        if plans:
            self.ctx.plans = plans
        self.state = new_state(self.profile, "std")
        self.pending: list[Event] = []
        self.applied: list[Event] = []
        self.postings: list = []
        self.seq = 0
        self.event("account.created", created)
        for user in users:
            self.event("seat.activated", created, user_id=user)

    def event(self, kind, on, *, minute=0, **data) -> Event:
        self.seq += 1
        at = datetime.combine(on, time(9), timezone.utc) + timedelta(minutes=minute or self.seq)
        event = Event(f"e{self.seq}", kind, "acct", at, on, self.seq, data)
        self.pending.append(event)
        return event

    def history(self) -> History:
        """What billing.cycle.run.build_history reads back from the posted charges."""
        posted_users: dict = {}
        totals: dict = {}
        for p in self.postings:
            if p.kind == "charge":
                posted_users[p.day] = frozenset(p.details["users"])
                total = totals.setdefault(p.day.isoformat()[:7], [F(0), D(0)])
                total[0] = F(p.details["month_to_date_exact"])
                total[1] -= p.amount
            elif p.kind == "charge_correction":
                total = totals.setdefault(p.details["month"], [F(0), D(0)])
                total[0] += F(p.details["exact_delta"])
                total[1] -= p.amount
                for text, change in p.details["days"].items():
                    on = date.fromisoformat(text)
                    posted_users[on] = frozenset((posted_users.get(on, frozenset()) | set(change["added"]))
                                                 - set(change["removed"]))
        return History("std", tuple(e for e in self.applied if e.type in SEAT_OR_PLAN), posted_users,
                       {month: (t[0], t[1]) for month, t in totals.items()})

    def run(self, until, *, history=False):
        events, self.pending = list(self.pending), [e for e in self.pending if e.day > until]
        self.state, outcome = advance(self.state, self.profile, events, until, self.ctx,
                                      self.history() if history else None)
        self.applied += [e for e in events if e.day <= until]
        self.postings += outcome.postings
        return outcome


def amounts(outcome, *kinds):
    return [(p.day, p.kind, p.amount) for p in outcome.postings if not kinds or p.kind in kinds]


def changes(outcome):
    return [(c.day, c.old, c.new) for c in outcome.state_changes]


def documents(outcome):
    return [(d.number, d.kind, d.issue_date, d.due_date, d.gross, d.period_start, d.period_end)
            for d in outcome.documents]


def lines(document):
    return [(l.description, l.quantity, l.unit, l.gross, l.period_start, l.period_end) for l in document.lines]


def charge(on, amount):
    return (on, "charge", D(amount))


# ---- §3 trial and conversion, §2 daily charges, §4 the first proforma ----------------------------

def test_nothing_before_the_account_exists():
    account = Account()
    outcome = account.run(day(3, 1))
    assert outcome == Outcome((), (), (), (), (), ())
    assert account.state.through is None and account.state.status == "trialing"
    assert (account.state.account_id, account.state.plan, account.state.conversion_day) == ("acct", "std", C)


def test_the_day_of_creation_is_processed():
    account = Account()
    account.run(CREATED)
    assert account.state.through == CREATED and account.state.active_users == ["a", "b"]


def test_conversion_day_starts_charges_and_issues_the_first_proforma():
    account = Account()
    outcome = account.run(day(3, 17))
    assert changes(outcome) == [(C, "trialing", "awaiting_payment")]
    assert account.state.through == day(3, 17)
    # no charge for the trial days 2 … 15 March; then cumulative rounding inside March:
    # 16th: R(2 × 9,990 × 1/31) = R(644.52) = 645; 17th: R(2 × 9,990 × 2/31) = R(1,289.03) = 1,289 → 644
    assert amounts(outcome) == [charge(C, -645), charge(day(3, 17), -644)]
    assert account.state.balance == -1289
    first = outcome.postings[0]
    assert first.legs == (("revenue", D(-645)), ("customer:acct", D(645)))
    assert (first.account_id, first.currency, first.event_id) == ("acct", "HUF", None)
    assert first.details == {
        "seats": 2, "users": ["a", "b"], "plan": "std", "list_price": "9990", "discount_percent": "0",
        "prices_include_vat": True, "vat_kind": "domestic", "monthly_price_exact": "9990",
        "day_exact": "19980/31",            # 2 × 9,990 / 31
        "month_to_date_exact": "19980/31", "month_to_date_rounded": "645", "events": []}
    assert outcome.postings[1].details["month_to_date_exact"] == "39960/31"   # 2 × 2 × 9,990 / 31
    assert outcome.postings[1].details["month_to_date_rounded"] == "1289"
    # §4 example: the proforma issued on C covers C … 31 March, due 8 days later:
    # R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312, less a zero balance and nothing open
    assert documents(outcome) == [("proforma-1", "proforma", C, day(3, 24), D(10312), C, day(3, 31))]
    proforma = outcome.documents[0]
    assert (proforma.account_id, proforma.fulfilment_date, proforma.currency) == ("acct", C, "HUF")
    assert lines(proforma) == [("Seat licences: 2 seats × 16 days (std)", D(32), "seat-day", D(10312),
                                C, day(3, 31))]
    assert proforma.lines[0].details == {"exact": "319680/31", "seats": 2, "days": 16}
    assert proforma.details == {"projected": "10312", "projected_exact": "319680/31", "balance": "0",
                                "open": "0", "seats": 2, "list_price": "9990", "discount_percent": "0"}
    assert [(p.number, p.issue_date, p.due_date, p.amount, p.first, p.period_start, p.period_end)
            for p in account.state.proformas] == [("proforma-1", C, day(3, 24), D(10312), True, C, day(3, 31))]


def test_a_payment_pays_the_proforma_and_the_proforma_of_the_20th_asks_for_the_rest():
    account = Account()
    pay = account.event("payment.received", day(3, 18), amount="10312", method="bank_transfer",
                        reference="proforma-1", external_id="tx-1")
    outcome = account.run(day(3, 20))
    assert changes(outcome) == [(C, "trialing", "awaiting_payment"), (day(3, 18), "awaiting_payment", "active")]
    payment = [p for p in outcome.postings if p.kind == "payment"]
    assert [(p.day, p.amount, p.event_id) for p in payment] == [(day(3, 18), D(10312), pay.id)]
    assert payment[0].legs == (("clearing:bank_transfer", D(10312)), ("customer:acct", D(-10312)))
    assert payment[0].details == {"method": "bank_transfer", "reference": "proforma-1", "external_id": "tx-1"}
    assert [(a.payment_event_id, a.proforma_number, a.amount, a.day) for a in outcome.allocations] == [
        (pay.id, "proforma-1", D(10312), day(3, 18))]
    invoice = outcome.documents[1]
    assert (invoice.number, invoice.kind, invoice.issue_date, invoice.due_date, invoice.fulfilment_date,
            invoice.gross, invoice.payment_method, invoice.event_id) == (
        "invoice-1", "invoice", day(3, 18), day(3, 18), day(3, 18), D(10312), "bank_transfer", pay.id)
    assert (invoice.period_start, invoice.period_end) == (C, day(3, 31))
    assert invoice.details == {"reference": "proforma-1", "external_id": "tx-1"}
    # §4, §6: the invoice states the covered lines of the proforma it pays: 2 seats × 16 days
    # = 32 seat-days, each at 9,990 / 31 gross (one seat for one day of March)
    assert lines(invoice) == [("Seat licences: 2 seats × 16 days (std), proforma proforma-1", D(32), "seat-day",
                               D(10312), C, day(3, 31))]
    assert invoice.lines[0].details == {"proforma": "proforma-1"}
    assert (invoice.lines[0].unit_gross, invoice.lines[0].advance) == (F(9990, 31), False)
    # 20 March: the proforma for April covers 20 March … 30 April, cumulatively rounded per month:
    # R(2 × 9,990 × 12/31) = R(7,734.19) = 7,734; R(7,734.19 + 2 × 9,990) = 27,714 → 19,980.
    # balance after the charges through the 19th: 10,312 − R(2 × 9,990 × 4/31) = 10,312 − 2,578 = 7,734
    # amount = 27,714 − 7,734 − 0 open = 19,980
    proforma = outcome.documents[2]
    assert documents(outcome)[2] == ("proforma-2", "proforma", day(3, 20), day(3, 28), D(19980),
                                     day(3, 20), day(4, 30))
    assert lines(proforma) == [
        ("Seat licences: 2 seats × 12 days (std)", D(24), "seat-day", D(7734), day(3, 20), day(3, 31)),
        ("Seat licences: 2 seats × 30 days (std)", D(60), "seat-day", D(19980), day(4, 1), day(4, 30)),
        ("Prepaid balance", D(1), "piece", D(-7734), None, None)]
    # a seat-day of March costs 9,990 / 31, one of April 9,990 / 30 = 333; the balance lines have none
    assert [l.unit_gross for l in proforma.lines] == [F(9990, 31), F(333), None]
    assert proforma.details["projected"] == "27714" and proforma.details["balance"] == "7734"
    # what it asks for: the deduction (7,734 prepaid) pays its earliest seat-days first, exactly the
    # 20 … 31 March line, so a payment of it is invoiced as April's 60 seat-days
    assert [(l.description, l.quantity, l.gross, l.period_start, l.period_end, l.unit_gross)
            for l in account.state.proformas[1].lines] == [
        ("Seat licences: 2 seats × 30 days (std)", D(60), D(19980), day(4, 1), day(4, 30), F(333))]
    # paid, it keeps its lines: a return of the payment re-opens it (billing/domain/reversals.py)
    assert [l.quantity for l in account.state.proformas[0].lines] == [D(32)]
    assert not account.state.proformas[1].first
    # 20th: R(2 × 9,990 × 5/31) = R(3,222.58) = 3,223; the balance: 10,312 − 3,223
    assert account.state.balance == 10312 - 3223
    assert [p.paid for p in account.state.proformas] == [D(10312), D(0)]


def test_lateness_past_due_then_suspended_then_a_payment():
    account = Account()
    account.event("payment.received", day(3, 18), amount="10312")
    account.run(day(3, 20))
    # proforma-2 (19,980, due 28 March) is never paid: past_due from the 29th
    assert changes(account.run(day(3, 28))) == []
    assert changes(account.run(day(3, 29))) == [(day(3, 29), "active", "past_due")]
    # 20 April: proforma-3 for May. Balance after the charges through 19 April:
    # 10,312 − R(2 × 9,990 × 16/31) − R(2 × 9,990 × 19/30) = 10,312 − 10,312 − 12,654 = −12,654;
    # projected R(2 × 9,990 × 11/30 + 2 × 9,990) = 7,326 + 19,980 = 27,306; open 19,980:
    # 27,306 + 12,654 − 19,980 = 19,980, due 28 April
    outcome = account.run(day(4, 27))
    assert documents(outcome) == [("proforma-3", "proforma", day(4, 20), day(4, 28), D(19980),
                                   day(4, 20), day(5, 31))]
    assert lines(outcome.documents[0])[-2:] == [("Outstanding balance", D(1), "piece", D(12654), None, None),
                                                ("Already requested by open proformas", D(1), "piece",
                                                 D(-19980), None, None)]
    assert changes(outcome) == []      # 27 April: 30 days late, still past_due
    # charges go on while past_due: 30, 31 March: 10,312 − R(2 × 9,990 × 14/31) = 10,312 − 9,023 = 1,289;
    # 1 … 27 April: R(2 × 9,990 × 27/30) = 17,982
    assert sum(p.amount for p in outcome.postings) == -(1289 + 17982)
    # due 28 March + 31 = 28 April: lateness over 30 days suspends
    outcome = account.run(day(4, 28))
    assert changes(outcome) == [(day(4, 28), "past_due", "suspended")]
    assert amounts(outcome) == [charge(day(4, 28), -666)]   # 2 × 9,990 / 30: suspended still pays (§2.2)
    # 29 April: 19,980 pays proforma-2 only; proforma-3 (due 28 April) is overdue itself → past_due
    account.event("payment.received", day(4, 29), amount="19980")
    outcome = account.run(day(4, 29))
    assert [(a.proforma_number, a.amount) for a in outcome.allocations] == [("proforma-2", D(19980))]
    assert changes(outcome) == [(day(4, 29), "suspended", "past_due")]
    # 30 April: a payment that covers every overdue proforma makes it active that day
    account.event("payment.received", day(4, 30), amount="19980")
    outcome = account.run(day(4, 30))
    assert changes(outcome) == [(day(4, 30), "past_due", "active")]
    assert account.state.open_proformas() == []


def test_provider_termination_for_late_payment_needs_suspension():
    account = Account()
    account.run(day(3, 25))   # proforma-1 due 24 March: awaiting_payment never becomes past_due
    assert account.state.status == "awaiting_payment"
    account.event("payment.received", day(3, 26), amount="5000")
    early = account.event("account.terminated", day(3, 30), by="provider", reason="late_payment")
    outcome = account.run(day(3, 30))
    assert account.state.status == "past_due"   # 5,000 of 10,312 paid: late since 25 March
    assert [(r.event_id, r.day, r.reason) for r in outcome.rejections] == [
        (early.id, day(3, 30), "provider termination for late payment needs more than 30 days of lateness (§13)")]
    # due 24 March + 31 = 24 April: suspended; now the provider may terminate
    assert changes(account.run(day(4, 24)))[-1] == (day(4, 24), "past_due", "suspended")
    account.event("account.terminated", day(4, 25), by="provider", reason="late_payment")
    outcome = account.run(day(4, 25))
    assert changes(outcome) == [(day(4, 25), "suspended", "terminated")]
    assert outcome.refunds == () and account.state.balance < 0   # a debt: nothing refunded


def test_a_customer_may_terminate_while_past_due():
    account = Account()
    account.event("payment.received", day(3, 26), amount="5000")
    account.event("account.terminated", day(3, 30), by="customer", reason="late_payment")
    outcome = account.run(day(3, 30))
    assert changes(outcome)[-1] == (day(3, 30), "past_due", "terminated")
    assert outcome.rejections == ()


# ---- §3 expiry ------------------------------------------------------------------------------------

def test_an_unpaid_first_proforma_expires_the_account_and_reverses_its_charges():
    account = Account()
    outcome = account.run(day(4, 23))
    # proformas still go to an awaiting_payment account on the 20th
    assert [(n, g, i, d) for n, _, i, d, g, _, _ in documents(outcome)] == [
        ("proforma-1", D(10312), C, day(3, 24)),
        # 27,714 − (−R(2 × 9,990 × 4/31) = −2,578) − 10,312 open = 19,980
        ("proforma-2", D(19980), day(3, 20), day(3, 28)),
        # 27,306 − (−(10,312 + 12,654)) − (10,312 + 19,980) = 19,980
        ("proforma-3", D(19980), day(4, 20), day(4, 28))]
    assert changes(outcome) == [(C, "trialing", "awaiting_payment")]   # never past_due before a payment
    # 16 … 31 March: 10,312; 1 … 23 April: R(2 × 9,990 × 23/30) = 15,318
    assert account.state.balance == -(10312 + 15318)
    # due 24 March + 31 = 24 April: expired before that day is charged, every charge since C reversed
    account.event("seat.activated", day(4, 25), user_id="c")
    late_payment = account.event("payment.received", day(4, 26), amount="100")
    outcome = account.run(day(4, 26))
    assert amounts(outcome) == [(day(4, 24), "charge_reversal", D(25630))]
    assert outcome.postings[0].legs == (("revenue", D(25630)), ("customer:acct", D(-25630)))
    assert outcome.postings[0].details == {
        "reason": "trial ended and the first proforma was never paid; no contract formed"}
    assert changes(outcome) == [(day(4, 24), "awaiting_payment", "expired")]
    assert [(r.day, r.reason) for r in outcome.rejections] == [(day(4, 25), "account is expired"),
                                                               (day(4, 26), "account is expired")]
    assert outcome.rejections[1].event_id == late_payment.id
    assert outcome.documents == () and account.state.balance == 0
    assert account.state.expired_on == day(4, 24) and account.state.charged_since_conversion == 0
    assert all(p.void for p in account.state.proformas) and account.state.open_proformas() == []
    # nothing more: no charge, no proforma on 20 May; a late seat event is refused too
    outcome = account.run(day(5, 21))
    assert outcome.postings == outcome.documents == ()
    late = account.event("seat.deactivated", day(5, 2), user_id="a")
    outcome = account.run(day(5, 22), history=True)
    assert [(r.event_id, r.day, r.reason) for r in outcome.rejections] == [
        (late.id, day(5, 22), "account is expired")]
    assert outcome.postings == ()


def test_a_first_proforma_30_days_late_does_not_expire_yet():
    account = Account()
    account.run(day(4, 23))   # 24 March + 30
    assert account.state.status == "awaiting_payment"


# ---- §5 termination -------------------------------------------------------------------------------

def test_termination_refunds_the_balance_latest_payment_and_invoice_first():
    account = Account()
    card = account.event("payment.received", C, amount="10312", method="card", external_id="ch_1")
    bank = account.event("payment.received", day(3, 18), amount="5000")
    stop = account.event("account.terminated", day(3, 25), by="customer", reason="moving")
    outcome = account.run(day(3, 26))
    # a payment credited before conversion: active on C, the first proforma paid the same day
    assert changes(outcome) == [(C, "trialing", "active"), (day(3, 25), "active", "terminated")]
    assert [(a.payment_event_id, a.proforma_number, a.amount) for a in outcome.allocations] == [
        (card.id, "proforma-1", D(10312))]
    # 20 March: 27,714 − (15,312 − 2,578) = 14,980
    assert documents(outcome)[3] == ("proforma-2", "proforma", day(3, 20), day(3, 28), D(14980),
                                     day(3, 20), day(4, 30))
    # T = 25 March is the last charged day: R(2 × 9,990 × 10/31) = R(6,445.16) = 6,445;
    # refund = 10,312 + 5,000 − 6,445 = 8,867; nothing charged on the 26th
    assert amounts(outcome)[-2:] == [charge(day(3, 25), -644), (day(3, 25), "refund", D(-8867))]
    refund = outcome.postings[-1]
    assert (refund.event_id, refund.legs) == (stop.id, (("refunds_payable", D(-8867)), ("customer:acct", D(8867))))
    assert refund.details == {
        "termination_day": "2026-03-25", "by": "customer", "balance_after_charges": "8867", "terms": "hu",
        "clawback": "0", "rule": "refund = balance", "list_exact": "199800/31", "discounted_exact": "199800/31"}
    (order,) = outcome.refunds
    assert (order.account_id, order.day, order.due_date, order.amount, order.currency) == (
        "acct", day(3, 25), day(4, 24), D(8867), "HUF")   # due within 30 days of T
    assert [(p.payment_event_id, p.external_id, p.method, p.amount) for p in order.parts] == [
        (bank.id, None, "bank_transfer", D(5000)), (card.id, "ch_1", "card", D(8867 - 5000))]
    assert order.credit_notes == ("credit_note-1", "credit_note-2")
    notes = outcome.documents[-2:]
    assert [(d.number, d.kind, d.issue_date, d.due_date, d.fulfilment_date, d.gross, d.references,
             d.modification_index, d.event_id) for d in notes] == [
        ("credit_note-1", "credit_note", day(3, 25), day(3, 25), day(3, 25), D(-5000), ("invoice-2",), 1, stop.id),
        ("credit_note-2", "credit_note", day(3, 25), day(3, 25), day(3, 25), D(-3867), ("invoice-1",), 1, stop.id)]
    assert lines(notes[0]) == [("Refund of the unused prepaid balance on termination (2026-03-25)", D(-1),
                                "piece", D(-5000), None, None)]
    assert account.state.status == "terminated" and account.state.terminated_on == day(3, 25)
    assert account.state.balance == 0 and all(p.void for p in account.state.proformas)
    assert [(p.refunded, p.amount) for p in account.state.payments] == [(D(3867), D(10312)), (D(5000), D(5000))]
    assert [(i.credited, i.modifications) for i in account.state.invoices] == [(D(3867), 1), (D(5000), 1)]
    assert all((d.account_id, d.currency) == ("acct", "HUF") for d in outcome.documents)
    # after termination: no charge, no proforma, every event refused
    account.event("seat.activated", day(3, 27), user_id="c")
    account.event("payment.received", day(3, 27), amount="100")
    outcome = account.run(day(4, 21))
    assert outcome.postings == outcome.documents == ()
    assert [(r.day, r.reason) for r in outcome.rejections] == [(day(3, 27), "account is terminated")] * 2


def test_a_partial_refund_stops_at_the_payment_and_invoice_it_exhausts():
    account = Account()
    first = account.event("payment.received", C, amount="10312")
    account.event("payment.received", day(3, 17), amount="3000")
    account.event("payment.received", day(3, 18), amount="2000")
    account.event("account.terminated", day(3, 18), by="customer")
    outcome = account.run(day(3, 18))
    # balance 15,312 − R(2 × 9,990 × 3/31) = 15,312 − 1,934 = 13,378: 2,000 + 3,000 + 8,378
    (order,) = outcome.refunds
    assert [p.amount for p in order.parts] == [D(2000), D(3000), D(8378)]
    assert order.parts[-1].payment_event_id == first.id
    assert [d.gross for d in outcome.documents if d.kind == "credit_note"] == [D(-2000), D(-3000), D(-8378)]
    assert [d.modification_index for d in outcome.documents if d.kind == "credit_note"] == [1, 1, 1]


def test_a_second_refund_of_the_same_payment_takes_only_what_is_left():
    account = Account()
    account.event("payment.received", C, amount="10312")
    account.event("payment.received", day(3, 17), amount="3000")
    account.event("account.terminated", day(3, 17), by="customer")
    outcome = account.run(day(3, 17))
    # 13,312 − R(2 × 9,990 × 2/31) = 13,312 − 1,289 = 12,023: 3,000 from the latest, 9,023 from the first
    assert [p.amount for p in outcome.refunds[0].parts] == [D(3000), D(9023)]
    assert [p.refunded for p in account.state.payments] == [D(9023), D(3000)]


def test_romanian_terms_claw_back_the_discount_of_the_used_days():
    account = Account(terms="ro", discount_percent="15")
    account.event("payment.received", C, amount="8765")
    stop = account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 25))
    # first proforma: R(2 × 9,990 × 0.85 × 16/31) = R(8,765.42) = 8,765; paid on C
    assert documents(outcome)[1][4] == D(8765)
    # used days 16 … 25 March: D = 2 × 9,990 × 0.85 × 10/31 = 5,478.39 → 5,478 (the posted charges);
    # L = 2 × 9,990 × 10/31 = 6,445.16 → 6,445; balance 8,765 − 5,478 = 3,287;
    # clawback 6,445 − 5,478 = 967; refund = max(0, 3,287 − 967) = 2,320
    assert amounts(outcome, "clawback", "refund") == [(day(3, 25), "clawback", D(-967)),
                                                      (day(3, 25), "refund", D(-2320))]
    clawback = outcome.postings[-2]
    assert (clawback.event_id, clawback.legs) == (stop.id, (("revenue", D(-967)), ("customer:acct", D(967))))
    assert clawback.details == {"list_exact": "199800/31", "discounted_exact": "169830/31",
                                "rule": "Romanian terms §13: used days re-priced at the list price"}
    assert outcome.postings[-1].details == {
        "termination_day": "2026-03-25", "by": "customer", "balance_after_charges": "3287", "terms": "ro",
        "clawback": "967", "rule": "refund = max(0, balance − (R(L) − R(D)))",
        "list_exact": "199800/31", "discounted_exact": "169830/31"}
    assert [d.gross for d in outcome.documents if d.kind == "credit_note"] == [D(-2320)]


def test_hungarian_terms_have_no_clawback():
    account = Account(terms="hu", discount_percent="15")
    account.event("payment.received", C, amount="8765")
    account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 25))
    # refund = balance = 8,765 − 5,478 = 3,287; no clawback entry at all
    assert amounts(outcome, "clawback", "refund") == [(day(3, 25), "refund", D(-3287))]


def test_termination_during_the_trial_charges_nothing():
    account = Account()
    account.event("account.terminated", day(3, 10), by="customer")
    outcome = account.run(day(3, 20))
    assert changes(outcome) == [(day(3, 10), "trialing", "terminated")]
    assert outcome.postings == outcome.documents == outcome.refunds == ()
    assert account.state.terminated_on == day(3, 10)


# ---- §2 seats -------------------------------------------------------------------------------------

def test_a_seat_counts_on_every_day_it_could_log_in():
    account = Account()
    account.run(C)
    for minute, kind in enumerate(("seat.activated", "seat.deactivated", "seat.activated", "seat.deactivated")):
        account.event(kind, day(3, 17), minute=minute + 1, user_id="c")
    account.event("seat.activated", day(3, 17), minute=9, user_id="a")   # already active: still one seat
    account.event("seat.deactivated", day(3, 18), user_id="b")
    outcome = account.run(day(3, 19))
    # seat-days so far: 16th 2, 17th 3 (c counted once), 18th 2 (b's last day), 19th 1
    # R(9,990 × 5/31) = 1,611 → 1,611 − 645 = 966; R(9,990 × 7/31) = 2,256 → 645;
    # R(9,990 × 8/31) = 2,578 → 322
    assert amounts(outcome) == [charge(day(3, 17), -966), charge(day(3, 18), -645), charge(day(3, 19), -322)]
    assert [p.details["seats"] for p in outcome.postings] == [3, 2, 1]
    assert [p.details["users"] for p in outcome.postings] == [["a", "b", "c"], ["a", "b"], ["a"]]
    assert outcome.postings[0].details["events"] == ["e4", "e5", "e6", "e7", "e8"]
    assert account.state.active_users == ["a"]


def test_events_of_a_day_apply_in_the_order_they_happened():
    account = Account()
    account.run(C)
    # listed deactivation first, but the activation happened first: c is inactive at the end of the 17th
    account.event("seat.deactivated", day(3, 17), minute=30, user_id="c")
    account.event("seat.activated", day(3, 17), minute=10, user_id="c")
    account.pending.reverse()
    account.run(day(3, 18))
    assert account.state.active_users == ["a", "b"]


def test_an_event_dated_after_the_run_waits():
    account = Account()
    account.event("seat.activated", day(3, 18), user_id="c")
    account.run(day(3, 17))
    assert account.state.active_users == ["a", "b"]
    account.run(day(3, 18))
    assert account.state.active_users == ["a", "b", "c"]


def test_no_seats_no_charge_and_no_proforma():
    account = Account(users=())
    outcome = account.run(day(3, 21))
    assert outcome.postings == outcome.documents == ()
    assert account.state.status == "awaiting_payment"
    account.event("payment.received", day(3, 22), amount="1000")
    outcome = account.run(day(3, 22))
    # money beyond what proformas asked for: an advance to the balance (Áfa tv. 59. §), no period
    assert lines(outcome.documents[0]) == [(
        "Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)", D(1), "piece",
        D(1000), None, None)]
    assert outcome.documents[0].lines[0].advance and outcome.documents[0].lines[0].unit_gross is None
    assert (outcome.documents[0].period_start, outcome.documents[0].period_end) == (None, None)
    assert changes(outcome) == [(day(3, 22), "awaiting_payment", "active")]


def test_a_plan_change_prices_the_days_from_its_day():
    account = Account()
    account.event("plan.changed", day(3, 18), plan="big")
    outcome = account.run(day(3, 18))
    # 16th, 17th at 9,990: R(2 × 9,990 × 2/31) = 1,289; 18th at 19,990: R((39,960 + 39,980)/31) = 2,579 → 1,290
    assert amounts(outcome)[-1] == charge(day(3, 18), -1290)
    assert outcome.postings[-1].details["plan"] == "big"
    assert outcome.postings[-1].details["list_price"] == "19990"
    assert outcome.postings[-1].details["events"] == ["e4"]
    assert account.state.plan == "big"


# ---- §4 proformas ---------------------------------------------------------------------------------

def test_a_prepaid_trial_needs_no_first_proforma():
    account = Account()
    account.event("payment.received", day(3, 10), amount="10312")
    outcome = account.run(C)
    # 10,312 projected − 10,312 balance = 0: no proforma; active from C (the contract began on payment)
    assert [d.kind for d in outcome.documents] == ["invoice"]
    assert changes(outcome) == [(C, "trialing", "active")]


def test_a_conversion_on_the_20th_covers_the_next_month_too():
    account = Account(created=day(3, 6))   # C = 6 + 14 = 20 March
    outcome = account.run(day(3, 20))
    # one proforma on C, not a second one for the 20th: R(2 × 9,990 × 12/31 + 2 × 9,990) = 27,714
    assert documents(outcome) == [("proforma-1", "proforma", day(3, 20), day(3, 28), D(27714),
                                   day(3, 20), day(4, 30))]
    assert account.state.proformas[0].first


def test_a_conversion_after_the_20th_covers_the_next_month_too():
    account = Account(created=day(3, 7))   # C = 21 March
    outcome = account.run(day(3, 21))
    # R(2 × 9,990 × 11/31 + 2 × 9,990) = R(7,089.68 + 19,980) = 27,070
    assert documents(outcome) == [("proforma-1", "proforma", day(3, 21), day(3, 29), D(27070),
                                   day(3, 21), day(4, 30))]


def test_a_payment_of_the_proforma_day_pays_the_new_proforma_with_what_is_left():
    account = Account()
    account.event("payment.received", day(3, 18), amount="10312")
    account.run(day(3, 19))
    pay = account.event("payment.received", day(3, 20), amount="25000")
    outcome = account.run(day(3, 20))
    # proforma-2 asks 27,714 − 7,734 = 19,980 against the balance before today's payment;
    # today's 25,000 then pays it: 19,980 allocated, 5,020 stays on the balance
    assert [(a.payment_event_id, a.proforma_number, a.amount, a.day) for a in outcome.allocations] == [
        (pay.id, "proforma-2", D(19980), day(3, 20))]
    assert outcome.documents[0].gross == 25000 and outcome.documents[1].gross == 19980
    # its invoice, drafted before the proforma, states what it then paid: April's 60 seat-days
    # (20 … 31 March were prepaid: 7,734) and the 5,020 left as an advance
    assert [(l.description, l.quantity, l.gross, l.period_start, l.advance) for l in outcome.documents[0].lines] == [
        ("Seat licences: 2 seats × 30 days (std), proforma proforma-2", D(60), D(19980), day(4, 1), False),
        ("Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)", D(1), D(5020), None, True)]
    assert (outcome.documents[0].period_start, outcome.documents[0].period_end) == (day(4, 1), day(4, 30))
    assert account.state.open_proformas() == []


def test_payments_are_allocated_to_open_proformas_oldest_first():
    account = Account()
    account.run(day(3, 21))   # proforma-1 10,312 and proforma-2 19,980 open
    pay = account.event("payment.received", day(3, 22), amount="20000")
    outcome = account.run(day(3, 22))
    # 20,000 = 10,312 to proforma-1 + 9,688 to proforma-2
    assert [(a.payment_event_id, a.proforma_number, a.amount) for a in outcome.allocations] == [
        (pay.id, "proforma-1", D(10312)), (pay.id, "proforma-2", D(9688))]
    invoice = outcome.documents[0]
    # proforma-2 asks for April only: its 20 … 31 March line (7,734) is what proforma-1 asks
    # (open 10,312 less the debt of 16 … 19 March, 2,578). 9,688 of April's 19,980 (60 seat-days)
    # is 60 × 9,688 / 19,980 = 29.09309… → 29.0931 seat-days
    assert [(l.description, l.quantity, l.gross, l.period_start, l.period_end) for l in invoice.lines] == [
        ("Seat licences: 2 seats × 16 days (std), proforma proforma-1", D(32), D(10312), C, day(3, 31)),
        ("Seat licences: 2 seats × 30 days (std), proforma proforma-2", D("29.0931"), D(9688),
         day(4, 1), day(4, 30))]
    assert [l.unit_gross for l in invoice.lines] == [F(9990, 31), F(333)]
    assert (invoice.period_start, invoice.period_end) == (C, day(4, 30))
    assert [p.unpaid for p in account.state.proformas] == [D(0), D(10292)]   # 19,980 − 9,688
    assert changes(outcome) == [(day(3, 22), "awaiting_payment", "active")]
    # a second payment the same amount as what is open: allocated, nothing left for the balance
    account.event("payment.received", day(3, 23), amount="10292")
    outcome = account.run(day(3, 23))
    assert [(a.proforma_number, a.amount) for a in outcome.allocations] == [("proforma-2", D(10292))]
    # the rest of April's line: 60 − 29.0931 = 30.9069 seat-days (the parts add up to the line)
    assert [(l.description, l.quantity, l.gross) for l in outcome.documents[0].lines] == [
        ("Seat licences: 2 seats × 30 days (std), proforma proforma-2", D("30.9069"), D(10292))]


def test_a_payment_beyond_the_open_proformas_is_an_advance():
    account = Account()
    account.run(C)
    account.event("payment.received", day(3, 17), amount="12000")
    outcome = account.run(day(3, 17))
    assert [(l.description, l.quantity, l.unit, l.gross, l.advance) for l in outcome.documents[0].lines] == [
        ("Seat licences: 2 seats × 16 days (std), proforma proforma-1", D(32), "seat-day", D(10312), False),
        ("Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)", D(1), "piece",
         D(1688), True)]   # 12,000 − 10,312
    # the advance covers no period: the invoice's is the proforma line's
    assert (outcome.documents[0].period_start, outcome.documents[0].period_end) == (C, day(3, 31))


# ---- late events (posted on the first day processed, never rewriting the past) ---------------------

def test_a_late_payment_is_credited_on_the_first_day_processed():
    account = Account()
    account.run(day(3, 18))
    account.event("payment.received", day(3, 17), amount="10312")
    outcome = account.run(day(3, 19))
    assert amounts(outcome) == [(day(3, 19), "payment", D(10312)), charge(day(3, 19), -644)]
    assert changes(outcome) == [(day(3, 19), "awaiting_payment", "active")]


def test_a_rerun_of_the_last_day_books_late_events_without_a_second_charge():
    account = Account()
    account.run(day(3, 18))
    account.event("payment.received", day(3, 18), amount="10312")
    outcome = account.run(day(3, 18))
    assert amounts(outcome) == [(day(3, 18), "payment", D(10312))]
    assert changes(outcome) == [(day(3, 18), "awaiting_payment", "active")]
    assert account.state.through == day(3, 18)
    # and a rerun with nothing new does nothing
    outcome = account.run(day(3, 18))
    assert outcome.postings == outcome.documents == outcome.state_changes == ()


def test_a_rerun_of_the_last_day_can_terminate():
    account = Account()
    account.event("payment.received", C, amount="10312")
    account.run(day(3, 18))
    account.event("account.terminated", day(3, 18), by="customer")
    outcome = account.run(day(3, 18))
    # 10,312 − R(2 × 9,990 × 3/31) = 10,312 − 1,934 = 8,378
    assert amounts(outcome) == [(day(3, 18), "refund", D(-8378))]
    assert changes(outcome) == [(day(3, 18), "active", "terminated")]


def test_a_late_seat_becomes_one_correction_entry():
    account = Account()
    account.run(day(3, 20))
    late = account.event("seat.activated", day(3, 17), user_id="c")
    outcome = account.run(day(3, 21), history=True)
    # 17 … 20 March with 3 seats instead of 2: +4 seat-days; March through the 20th:
    # R(9,990 × (10 + 4)/31) = R(4,511.61) = 4,512 − R(9,990 × 10/31) = 3,223 posted → 1,289
    # 21st with 3 seats: R(9,990 × 17/31) = R(5,478.39) = 5,478 → 966
    assert amounts(outcome) == [(day(3, 21), "charge_correction", D(-1289)), charge(day(3, 21), -966)]
    correction = outcome.postings[0]
    assert correction.legs == (("revenue", D(-1289)), ("customer:acct", D(1289)))
    added = {"added": ["c"], "removed": []}
    assert correction.details == {"month": "2026-03", "exact_delta": "39960/31",   # 4 × 9,990 / 31
                                  "days": {f"2026-03-{d}": added for d in (17, 18, 19, 20)},
                                  "events": [late.id]}
    assert account.state.active_users == ["a", "b", "c"]
    assert account.state.charged_since_conversion == 5478


def test_a_late_deactivation_corrects_the_previous_month_and_this_one():
    account = Account()
    account.run(day(4, 2))
    account.event("seat.deactivated", day(3, 29), user_id="b")
    outcome = account.run(day(4, 3), history=True)
    # b still counts on the 29th (its deactivation day); 30, 31 March and 1, 2 April lose a seat.
    # March: R(9,990 × (32 − 2)/31) = R(9,667.74) = 9,668 − 10,312 posted = −644
    # April: R(9,990 × 2/30) = 666 − R(2 × 9,990 × 2/30) = 1,332 posted = −666
    # 3 April, 1 seat: R(9,990 × 3/30) = 999 − 666 = 333
    assert amounts(outcome) == [(day(4, 3), "charge_correction", D(644)),
                                (day(4, 3), "charge_correction", D(666)), charge(day(4, 3), -333)]
    assert [p.details["month"] for p in outcome.postings[:2]] == ["2026-03", "2026-04"]
    assert [p.details["exact_delta"] for p in outcome.postings[:2]] == ["-19980/31", "-666"]
    assert list(outcome.postings[0].details["days"]) == ["2026-03-30", "2026-03-31"]
    assert outcome.postings[0].details["days"]["2026-03-30"] == {"added": [], "removed": ["b"]}
    assert account.state.active_users == ["a"]
    # 10,312 + 1,332 − 644 − 666 + 333 = 10,667 charged so far
    assert account.state.balance == -10667 and account.state.charged_since_conversion == 10667


def test_a_late_seat_before_conversion_corrects_only_charged_days():
    account = Account()
    account.run(day(3, 17))
    account.event("seat.activated", day(3, 10), user_id="c")
    outcome = account.run(day(3, 18), history=True)
    # the trial days are free: only 16, 17 March get the third seat: R(9,990 × 6/31) = 1,934 − 1,289 = 645
    assert amounts(outcome)[0] == (day(3, 18), "charge_correction", D(-645))
    assert list(outcome.postings[0].details["days"]) == ["2026-03-16", "2026-03-17"]


def test_a_late_seat_is_priced_at_the_plan_of_each_day():
    account = Account()
    account.event("plan.changed", day(3, 18), plan="big")
    account.run(day(3, 20))
    account.event("seat.activated", day(3, 17), user_id="c")
    outcome = account.run(day(3, 21), history=True)
    # c on the 17th at 9,990 and on 18 … 20 at 19,990: (9,990 + 3 × 19,990)/31 = 69,960/31
    # March through the 20th: before (2 × 2 × 9,990 + 3 × 2 × 19,990)/31 = 159,900/31 → 5,158 posted;
    # after + 69,960/31 = 229,860/31 = 7,414.84 → 7,415: correction 2,257
    assert amounts(outcome)[0] == (day(3, 21), "charge_correction", D(-2257))
    assert outcome.postings[0].details["exact_delta"] == "69960/31"
    assert account.state.plan == "big"


def test_a_late_seat_of_an_ended_account_is_refused():
    account = Account()
    account.event("account.terminated", day(3, 10), by="customer")
    account.run(day(3, 20))
    late = account.event("seat.activated", day(3, 17), user_id="c")
    outcome = account.run(day(3, 21), history=True)
    assert [(r.event_id, r.day, r.reason) for r in outcome.rejections] == [
        (late.id, day(3, 21), "account is terminated")]
    assert outcome.postings == ()


def test_a_late_termination_takes_back_the_days_after_it():
    account = Account()
    account.event("payment.received", C, amount="10312")
    account.run(day(3, 28))
    stop = account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 29), history=True)
    # 26 … 28 March were charged: R(2 × 9,990 × 10/31) = 6,445 − R(2 × 9,990 × 13/31) = 8,379 → −1,934
    # refund = 10,312 − 6,445 = 3,867, booked on the 29th; nothing charged on the 29th
    assert amounts(outcome) == [(day(3, 29), "charge_correction", D(1934)), (day(3, 29), "refund", D(-3867))]
    assert list(outcome.postings[0].details["days"]) == ["2026-03-26", "2026-03-27", "2026-03-28"]
    assert outcome.postings[1].event_id == stop.id
    assert changes(outcome) == [(day(3, 29), "active", "terminated")]
    assert account.state.terminated_on == day(3, 25)
    assert outcome.refunds[0].day == day(3, 29) and outcome.refunds[0].due_date == day(4, 28)


# ---- allocation edge cases (§4: oldest first, the rest an advance) --------------------------------

def _two_open_proformas() -> Account:
    account = Account()
    account.run(day(3, 21))   # proforma-1 10,312 (due 24 March) and proforma-2 19,980 open
    return account


def test_a_payment_of_exactly_the_oldest_proforma_pays_only_that_one():
    account = _two_open_proformas()
    account.event("payment.received", day(3, 22), amount="10312")
    outcome = account.run(day(3, 22))
    assert [(a.proforma_number, a.amount) for a in outcome.allocations] == [("proforma-1", D(10312))]
    assert [(l.description, l.gross) for l in outcome.documents[0].lines] == [
        ("Seat licences: 2 seats × 16 days (std), proforma proforma-1", D(10312))]


def test_one_forint_beyond_the_oldest_proforma_goes_to_the_next():
    account = _two_open_proformas()
    account.event("payment.received", day(3, 22), amount="10313")
    outcome = account.run(day(3, 22))
    assert [(a.proforma_number, a.amount) for a in outcome.allocations] == [("proforma-1", D(10312)),
                                                                           ("proforma-2", D(1))]
    assert [l.gross for l in outcome.documents[0].lines] == [D(10312), D(1)]


def test_one_forint_beyond_every_open_proforma_is_an_advance():
    account = _two_open_proformas()
    account.event("payment.received", day(3, 22), amount="30293")   # 10,312 + 19,980 + 1
    outcome = account.run(day(3, 22))
    assert [(l.description, l.quantity, l.gross, l.advance) for l in outcome.documents[0].lines] == [
        ("Seat licences: 2 seats × 16 days (std), proforma proforma-1", D(32), D(10312), False),
        ("Seat licences: 2 seats × 30 days (std), proforma proforma-2", D(60), D(19980), False),
        ("Seat licences, advance payment to the account balance (előleg, Áfa tv. 59. §)", D(1), D(1), True)]


def test_two_partial_payments_pay_a_proforma():
    account = Account()
    account.event("payment.received", day(3, 17), amount="5000")
    account.event("payment.received", day(3, 18), amount="5312")
    account.run(day(3, 18))
    assert [(p.paid, p.unpaid) for p in account.state.proformas] == [(D(10312), D(0))]
    assert account.state.open_proformas() == []


def test_cents_are_allocated_exactly_in_euro():
    account = Account(currency="EUR", plans={"std": "10.00"})
    outcome = account.run(day(3, 21))
    # C: R(2 × 10 × 16/31) = R(10.3226) = 10.32; 20 March: R(2 × 10 × 12/31) = 7.74, R(7.7419 + 20) = 27.74;
    # balance through the 19th −R(2 × 10 × 4/31) = −2.58; 27.74 + 2.58 − 10.32 open = 20.00
    assert [(d.number, d.gross) for d in outcome.documents] == [("proforma-1", D("10.32")),
                                                               ("proforma-2", D("20.00"))]
    assert [str(l.gross) for l in outcome.documents[1].lines] == ["7.74", "20.00", "2.58", "-10.32"]
    account.event("payment.received", day(3, 22), amount="10.82")
    outcome = account.run(day(3, 22))
    assert [(a.proforma_number, a.amount) for a in outcome.allocations] == [("proforma-1", D("10.32")),
                                                                           ("proforma-2", D("0.50"))]
    assert [l.gross for l in outcome.documents[0].lines] == [D("10.32"), D("0.50")]
    assert outcome.documents[0].currency == "EUR"


def test_a_prepaid_balance_of_one_forint_is_shown_as_prepaid():
    account = Account()
    account.event("payment.received", day(3, 17), amount="2579")
    outcome = account.run(day(3, 20))
    # balance through the 19th: 2,579 − R(2 × 9,990 × 4/31) = 2,579 − 2,578 = 1;
    # open 10,312 − 2,579 = 7,733
    # 27,714 − 1 − 7,733 = 19,980
    proforma = outcome.documents[-1]
    assert proforma.gross == 19980
    assert lines(proforma)[-2:] == [("Prepaid balance", D(1), "piece", D(-1), None, None),
                                    ("Already requested by open proformas", D(1), "piece", D(-7733), None, None)]


# ---- refund edge cases (§5) -----------------------------------------------------------------------

def test_a_refund_of_one_forint_is_paid():
    account = Account()
    account.event("payment.received", C, amount="1935")
    account.event("account.terminated", day(3, 18), by="customer")
    outcome = account.run(day(3, 18))
    # 1,935 − R(2 × 9,990 × 3/31) = 1,935 − 1,934 = 1
    assert amounts(outcome, "refund") == [(day(3, 18), "refund", D(-1))]
    assert [(r.amount, r.credit_notes) for r in outcome.refunds] == [(D(1), ("credit_note-1",))]


def test_a_refund_one_forint_above_the_latest_payment_reaches_the_one_before():
    account = Account()
    first = account.event("payment.received", C, amount="6446")
    second = account.event("payment.received", day(3, 18), amount="5000")
    account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 25))
    # 6,446 + 5,000 − R(2 × 9,990 × 10/31) = 11,446 − 6,445 = 5,001
    (order,) = outcome.refunds
    assert [(p.payment_event_id, p.amount) for p in order.parts] == [(second.id, D(5000)), (first.id, D(1))]
    assert [(d.references, d.gross) for d in outcome.documents if d.kind == "credit_note"] == [
        (("invoice-2",), D(-5000)), (("invoice-1",), D(-1))]


# ---- more late events -----------------------------------------------------------------------------

def test_a_late_seat_event_of_the_last_processed_day_is_corrected_too():
    account = Account()
    account.run(day(3, 20))
    account.event("seat.activated", day(3, 20), user_id="c")
    account.event("seat.deactivated", day(3, 20), user_id="b")
    outcome = account.run(day(3, 21), history=True)
    # the 20th: a, b (its deactivation day) and c: one seat more: R(9,990 × 11/31) = 3,545 − 3,223 = 322
    # the 21st: a and c: R(9,990 × 13/31) = R(4,189.35) = 4,189 → 644
    assert amounts(outcome) == [(day(3, 21), "charge_correction", D(-322)), charge(day(3, 21), -644)]
    assert account.state.active_users == ["a", "c"]


def test_without_a_history_a_late_seat_on_a_rerun_changes_nothing_already_charged():
    account = Account()
    account.run(day(3, 18))
    account.event("seat.activated", day(3, 18), user_id="c")
    outcome = account.run(day(3, 18))
    assert outcome.postings == () and account.state.active_users == ["a", "b", "c"]
    # the 19th with 3 seats: R(9,990 × (6 + 3)/31) = R(2,900.32) = 2,900 − 1,934 = 966
    assert amounts(account.run(day(3, 19))) == [charge(day(3, 19), -966)]


def test_a_partial_payment_on_a_rerun_leaves_the_account_past_due():
    account = Account()
    account.run(day(3, 26))   # proforma-1 (due 24 March) unpaid: still awaiting_payment
    account.event("payment.received", day(3, 26), amount="5000")
    outcome = account.run(day(3, 26))
    # the contract starts on the payment; 5,312 of proforma-1 is still overdue since the 25th
    assert changes(outcome) == [(day(3, 26), "awaiting_payment", "active"), (day(3, 26), "active", "past_due")]


def test_a_late_seat_and_a_late_termination_together():
    account = Account()
    account.event("payment.received", C, amount="10312")
    account.run(day(3, 28))
    account.event("seat.activated", day(3, 22), user_id="c")
    account.event("account.terminated", day(3, 25), by="customer")
    outcome = account.run(day(3, 29), history=True)
    # charged: 13 days × 2 seats = 26 seat-days, R(9,990 × 26/31) = 8,379;
    # due: 16 … 21 March 2 seats, 22 … 25 (T is charged) 3 seats = 12 + 12 = 24 → R(7,734.19) = 7,734
    # correction −645; refund 10,312 − 7,734 = 2,578
    assert amounts(outcome) == [(day(3, 29), "charge_correction", D(645)), (day(3, 29), "refund", D(-2578))]


def test_a_late_seat_reaches_days_and_a_month_that_had_no_charge():
    account = Account(users=())
    account.run(day(4, 2))
    account.event("seat.activated", day(3, 30), user_id="a")
    outcome = account.run(day(4, 3), history=True)
    # March, nothing posted: R(9,990 × 2/31) = R(644.52) = 645; April: R(9,990 × 2/30) = 666;
    # 3 April: R(9,990 × 3/30) = 999 → 333
    assert amounts(outcome) == [(day(4, 3), "charge_correction", D(-645)),
                                (day(4, 3), "charge_correction", D(-666)), charge(day(4, 3), -333)]


def test_late_seats_after_a_plan_change():
    account = Account()
    account.event("plan.changed", day(3, 18), plan="big")
    account.run(day(3, 20))
    account.event("seat.activated", day(3, 17), user_id="c")
    account.event("seat.activated", day(3, 19), user_id="d")
    outcome = account.run(day(3, 21), history=True)
    # c on the 17th at 9,990 and 18 … 20 at 19,990; d on 19, 20 at 19,990:
    # (9,990 + 3 × 19,990 + 2 × 19,990)/31 = 109,940/31;
    # posted (2 × 2 × 9,990 + 3 × 2 × 19,990)/31 = 159,900/31 → 5,158;
    # after (159,900 + 109,940)/31 = 8,704.52 → 8,705
    assert amounts(outcome)[0] == (day(3, 21), "charge_correction", D(-3547))
    assert outcome.postings[0].details["exact_delta"] == "109940/31"
    assert list(outcome.postings[0].details["days"]) == [f"2026-03-{d}" for d in (17, 18, 19, 20)]


def test_a_late_seat_is_discounted_and_clawed_back_like_the_others():
    account = Account(terms="ro", discount_percent="15")
    account.event("payment.received", C, amount="8765")
    account.run(day(3, 20))
    account.event("seat.activated", day(3, 18), user_id="c")
    account.event("account.terminated", day(3, 22), by="customer")
    outcome = account.run(day(3, 22), history=True)
    # one seat-day at 15 %: 9,990 × 0.85 / 31 = 8,491.5/31. Posted through the 20th: 10 seat-days,
    # R(84,915/31) = 2,739; with c from the 18th: 13 → R(3,560.95) = 3,561: correction 822.
    # 21 March with 3 seats: 16 seat-days, R(135,864/31) = R(4,382.71) = 4,383 → 822;
    # 22 March: 19 seat-days, R(161,338.5/31) = R(5,204.47) = 5,204 → 821.
    # balance 8,765 − 5,204 = 3,561; L = R(9,990 × 19/31) = R(6,122.90) = 6,123; clawback 6,123 − 5,204 = 919;
    # refund 3,561 − 919 = 2,642
    assert amounts(outcome) == [(day(3, 21), "charge_correction", D(-822)), charge(day(3, 21), -822),
                                charge(day(3, 22), -821), (day(3, 22), "clawback", D(-919)),
                                (day(3, 22), "refund", D(-2642))]
    assert outcome.postings[0].details["exact_delta"] == "50949/62"   # 3 × 8,491.5/31
