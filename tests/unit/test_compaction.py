"""Settled history leaves the hot state and nothing the engine does changes (issue #19,
billing/domain/compaction.py).

The account of test_mutants_engine: 2 seats on the gross 9,990 HUF plan, conversion on 16 March
2026. Its first proforma asks R(2 × 9,990 × 16/31) = 10,312 (due 24 March), every later one
2 × 9,990 = 19,980 for the next month (issued on the 20th, due on the 28th)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.adjustments import creditable
from billing.domain.compaction import compact, needs_history, with_history
from billing.domain.engine import advance, new_state
from billing.domain.records import Event
from billing.domain.state import AccountState, HistoryNotLoaded
from tests.unit.test_mutants_engine import Account, day

KEEP = 45


@dataclass
class Archived:
    """The cycle's adapter around the engine (billing/cycle/archive.py), in memory: the archive as
    rows, the whole history given to a run that needs it, the state through its JSON as stored."""
    account: Account
    keep_days: int = KEEP
    rows: dict = field(default_factory=dict)
    loads: int = 0

    def run(self, until):
        a = self.account
        events, a.pending = list(a.pending), [e for e in a.pending if e.day > until]
        first = a.profile.created_day if a.state.through is None else a.state.through + timedelta(days=1)
        state, whole = a.state, needs_history(a.state, [e for e in events if e.day <= until])
        if whole:
            state, self.loads = with_history(state, self.rows.values()), self.loads + 1
        new, outcome = advance(state, a.profile, events, until, a.ctx)
        hot, moved = compact(new, first, self.keep_days)
        if whole:
            self.rows.clear()
        for record in moved:
            assert (record.kind, record.ordinal) not in self.rows
            self.rows[(record.kind, record.ordinal)] = record
        a.state = AccountState.from_json(hot.to_json())
        a.postings += outcome.postings
        return outcome

    def whole(self) -> AccountState:
        return with_history(self.account.state, self.rows.values())


def paying_account(months: int, archived: bool):
    """Every proforma paid in full two days after its issue, through the 26th of the last month."""
    account = Account()
    runner = Archived(account) if archived else account
    runner.run(day(3, 17))
    payments = [account.event("payment.received", day(3, 18), amount="10312", method="bank_transfer",
                              reference="p1", external_id="x1")]
    runner.run(day(3, 19))
    for n in range(months):
        issue = _month(day(3, 20), n)
        runner.run(issue)
        payments.append(account.event("payment.received", issue + timedelta(days=2), amount="19980",
                                      method="bank_transfer", reference=f"p{n + 2}", external_id=f"x{n + 2}"))
        runner.run(issue + timedelta(days=6))
    return account, runner, payments


def _month(first: date, n: int) -> date:
    month = first.month - 1 + n
    return date(first.year + month // 12, month % 12 + 1, first.day)


def test_the_settled_head_leaves_and_its_summary_stays():
    account, runner, _ = paying_account(8, archived=True)
    # The last run, 21 … 26 October 2026 (October's proforma issued on the 20th, paid on the 22nd):
    # cutoff 21 October − 45 days = 6 September. The payments booked before it (18 and 22 March,
    # 22 April … 22 August: 7) and their invoices left, the proformas due before it too (24 and
    # 28 March, 28 April … 28 August: 7); September's and October's stay.
    st = account.state
    assert (st.archive.payments, st.archive.invoices, st.archive.proformas) == (7, 7, 7)
    assert [p.day for p in st.payments] == [day(9, 22), day(10, 22)]
    assert [p.number for p in st.proformas] == ["proforma-8", "proforma-9"]
    # what the archived invoices may still be credited: 10,312 + 6 × 19,980 = 130,192
    assert st.archive.invoices_creditable == D(130192)
    assert st.archive.payments_unreversed == 7
    assert len(runner.rows) == 21
    plain, _, _ = paying_account(8, archived=False)
    assert runner.whole().to_json() == plain.state.to_json()


def test_the_same_documents_and_ledger_with_and_without_an_archive():
    account, runner, _ = paying_account(10, archived=True)
    plain, _, _ = paying_account(10, archived=False)
    assert account.postings == plain.postings
    # then everything that reaches back: a goodwill credit beyond the hot invoices, the return of
    # an archived payment, a correction of an archived invoice, the termination
    for acct in (account, plain):
        acct.event("credit.granted", day(12, 27), amount="60000", reason="goodwill")
        acct.event("invoice.corrected", day(12, 27), invoice="invoice-2", fields=["name"], reason="typo")
    outcomes = [runner.run(day(12, 27)), plain.run(day(12, 27))]
    assert runner.loads == 1
    assert outcomes[0] == outcomes[1]
    # 60,000 = 19,980 (invoice-11) + 19,980 (invoice-10) + 19,980 (invoice-9) + 60 of invoice-8
    assert [(d.kind, d.gross, d.references) for d in outcomes[0].documents] == [
        ("credit_note", D(-19980), ("invoice-11",)), ("credit_note", D(-19980), ("invoice-10",)),
        ("credit_note", D(-19980), ("invoice-9",)), ("credit_note", D(-60), ("invoice-8",)),
        ("correction", D(0), ("invoice-2",))]
    for acct in (account, plain):
        acct.event("payment.reversed", day(12, 28), payment="e5", amount="19980", source="bank_return",
                   reason="AC04", reference="r1")
        acct.event("account.terminated", day(12, 29), by="customer")
    outcomes = [runner.run(day(12, 31)), plain.run(day(12, 31))]
    assert outcomes[0] == outcomes[1]
    assert outcomes[0].refunds and outcomes[0].refunds[0].parts
    assert runner.whole().to_json() == plain.state.to_json()


def test_a_run_that_reaches_the_archive_without_it_refuses_to_guess():
    account, runner, _ = paying_account(6, archived=True)
    assert account.state.archive
    account.event("account.terminated", day(9, 29), by="customer")
    # the message names the account and what reached back (the cycle logs it, then loads the archive)
    with pytest.raises(HistoryNotLoaded, match=r"^account acct: a termination, which voids every proforma and "
                       r"refunds through the latest payments, reaches its archived history, which this run "
                       r"was not given$"):
        advance(account.state, account.profile, account.pending, day(9, 29), account.ctx)


def test_what_needs_the_history():
    account, _, payments = paying_account(6, archived=True)
    st = account.state
    hot_creditable = sum((i.gross - i.credited for i in st.invoices), D(0))

    def event(kind, **data):
        return Event("x", kind, "acct", payments[-1].occurred_at, day(9, 30), 999, data)

    assert not needs_history(st, [event("seat.activated", user_id="c"), event("payment.received", amount="1")])
    assert not needs_history(st, [event("credit.granted", amount=str(hot_creditable), reason="r")])
    assert needs_history(st, [event("credit.granted", amount=str(hot_creditable + 1), reason="r")])
    assert not needs_history(st, [event("invoice.corrected", invoice=st.invoices[0].number, fields=[], reason="r")])
    assert needs_history(st, [event("invoice.corrected", invoice="invoice-1", fields=[], reason="r")])
    assert needs_history(st, [event("payment.reversed", payment="e5", amount="1")])  # archived
    latest = st.payments[-1].event_id
    assert not needs_history(st, [event("payment.reversed", payment=latest, amount="1")])
    # both hot payments returned: the archived ones still hold money, so no expiry can follow
    both = [event("payment.reversed", payment=p.event_id, amount="99999") for p in st.payments]
    assert not needs_history(st, both)
    gone = st.copy()
    gone.archive = replace(gone.archive, payments_unreversed=0)
    assert needs_history(gone, both)
    assert needs_history(st, [event("account.terminated", by="customer")])
    fresh = new_state(account.profile, "std")
    assert not needs_history(fresh, [event("account.terminated", by="customer")])


def test_what_the_invoices_still_hold_counts_the_archived_ones():
    account, runner, _ = paying_account(6, archived=True)
    # 10,312 + 6 × 19,980 = 130,192, of which the hot invoices (August's, September's) 39,960
    assert sum((i.gross for i in account.state.invoices), D(0)) == D(39960)
    assert creditable(account.state) == creditable(runner.whole()) == D(130192)


def test_a_payment_whose_invoice_is_not_issued_stays_hot():
    account, _, _ = paying_account(4, archived=True)
    st = account.state.copy()
    st.payments[0].invoice = "waiting-for-its-rate"
    hot, moved = compact(st, day(12, 1), KEEP)
    assert hot.payments[0].event_id == st.payments[0].event_id
    assert not [r for r in moved if r.kind == "payment"]


# -- the property: any history, any run lengths, any age threshold -------------------------------

@st.composite
def lives(draw):
    """An account over 16 months: seats come and go, payments (often paying each proforma),
    returns of earlier payments, goodwill credits, corrections of some invoice, a termination."""
    steps = []
    on = day(3, 17)
    end = date(2027, 7, 1)
    payments = 0
    while on < end:
        on += timedelta(days=draw(st.integers(1, 40)))
        kind = draw(st.sampled_from(["pay", "pay", "pay", "seat", "unseat", "return", "credit", "correct"]))
        if kind == "pay":
            payments += 1
            steps.append((on, "payment.received", {"amount": str(draw(st.sampled_from([19980, 10312, 25000, 5000]))),
                                                   "method": draw(st.sampled_from(["card", "bank_transfer"])),
                                                   "reference": None, "external_id": f"x{payments}"}))
        elif kind in ("seat", "unseat"):
            steps.append((on, "seat.activated" if kind == "seat" else "seat.deactivated",
                          {"user_id": draw(st.sampled_from(["a", "b", "c"]))}))
        elif kind == "return" and payments:
            steps.append((on, "payment.reversed", {"payment-of": draw(st.integers(1, payments)),
                                                   "amount": str(draw(st.sampled_from([5000, 19980, 99999]))),
                                                   "source": "bank_return", "reason": "AC04", "reference": "r"}))
        elif kind == "credit":
            steps.append((on, "credit.granted", {"amount": str(draw(st.sampled_from([500, 20000, 70000]))),
                                                 "reason": "goodwill"}))
        elif kind == "correct":
            steps.append((on, "invoice.corrected", {"invoice": f"invoice-{draw(st.integers(1, 20))}",
                                                    "fields": ["name"], "reason": "typo"}))
    if draw(st.booleans()):
        steps.append((end - timedelta(days=draw(st.integers(1, 200))), "account.terminated", {"by": "customer"}))
    stops = sorted({day(3, 17) + timedelta(days=draw(st.integers(0, 480))) for _ in range(draw(st.integers(5, 30)))})
    keep = draw(st.sampled_from([0, 10, 45]))
    return sorted(steps, key=lambda s: s[0]), stops + [end], keep


def _live(steps, stops, runner_of):
    account = Account()
    account.ctx.allocate_number = _one_series(account.ctx)  # numbers never repeat across the years
    runner = runner_of(account)
    payment_ids = []
    outcomes = []
    for on, kind, data in steps:
        if kind == "payment.received":
            payment_ids.append(account.event(kind, on, **data).id)
        elif kind == "payment.reversed":
            data = {k: v for k, v in data.items() if k != "payment-of"} | {"payment": payment_ids[data["payment-of"] - 1]}
            account.event(kind, on, **data)
        else:
            account.event(kind, on, **data)
    for stop in stops:
        outcomes.append(runner.run(stop))
    return account, runner, outcomes


def _one_series(ctx):
    def allocate_number(kind, on):
        ctx.numbers[kind] = ctx.numbers.get(kind, 0) + 1
        return f"{kind}-{ctx.numbers[kind]}"
    return allocate_number


@settings(max_examples=40, deadline=None)
@given(lives())
def test_an_archive_never_changes_what_the_engine_does(life):
    steps, stops, keep = life
    plain, _, expected = _live(steps, stops, lambda account: account)
    archived, runner, outcomes = _live(steps, stops, lambda account: Archived(account, keep))
    assert outcomes == expected
    assert runner.whole().to_json() == plain.state.to_json()
