"""The VAT treatment in force on a day, and how a run is cut at the days of account.updated."""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

from billing.accounts import apply_update, decide_account_vat, succeed, vat_of, vat_on
from billing.cycle.updates import segments
from billing.domain.records import Event

VALID = {"RO18547290": (True, "WAPIAAAAZ0000001", date(2026, 3, 11))}
DOWN = {"RO18547290": (None, None, None)}


def account(vat=None, **kw):
    fields = dict(id="a", country="RO", eu_vat_number=None, name="Carpați", email=None, locale="ro",
                  tax_number=None, address={}, vat=vat or decide_account_vat("RO", None, date(2026, 3, 2)))
    return SimpleNamespace(**{**fields, **kw})


def test_a_decision_holds_from_its_day_and_the_one_before_it_until_then():
    a = account()
    apply_update(a, {"eu_vat_number": "RO18547290"}, date(2026, 3, 11), VALID)
    assert [vat_on(a, date(2026, 3, d)).kind for d in (1, 2, 10, 11, 31)] == [
        "domestic", "domestic", "domestic", "reverse_charge", "reverse_charge"]
    assert vat_on(a, date(2026, 3, 11)).vies_reference == "WAPIAAAAZ0000001"
    assert vat_of(a).kind == "reverse_charge"  # the last decision
    apply_update(a, {"eu_vat_number": None}, date(2026, 3, 20))
    assert [vat_on(a, date(2026, 3, d)).kind for d in (10, 11, 19, 20)] == [
        "domestic", "reverse_charge", "reverse_charge", "domestic"]
    assert [d["effective_from"] for d in a.vat["earlier"]] == ["2026-03-02", "2026-03-11"]


def test_vies_down_is_pending_and_a_decision_from_the_same_day_replaces_it():
    a = account()
    apply_update(a, {"eu_vat_number": "RO18547290"}, date(2026, 3, 11), DOWN)
    assert a.vat["pending"] and a.vat["kind"] == "domestic"
    again = succeed(a.vat, decide_account_vat("RO", "RO18547290", date(2026, 3, 11), VALID))
    assert [d["effective_from"] for d in again["earlier"]] == ["2026-03-02"]  # the pending one is gone
    assert again["kind"] == "reverse_charge"


def test_a_decision_stored_before_effective_days_counts_from_the_start():
    legacy = {"kind": "reverse_charge", "rate": "0", "nav_case": "EUFAD37", "vies_reference": "X", "pending": False}
    a = account(vat=legacy, eu_vat_number="RO18547290")
    assert vat_on(a, date(2020, 1, 1)).kind == "reverse_charge"
    apply_update(a, {"eu_vat_number": None}, date(2026, 3, 5))
    assert [vat_on(a, date(2026, 3, d)).kind for d in (4, 5)] == ["reverse_charge", "domestic"]


def _event(seq, kind, day):
    at = datetime(2026, 3, day, 9, tzinfo=timezone.utc)
    return Event(f"e{seq}", kind, "a", at, date(2026, 3, day), seq, {})


def test_a_run_is_cut_at_each_update_after_its_first_day():
    late = _event(1, "seat.activated", 1)          # before the run's first day: in the first part
    first = _event(2, "account.updated", 3)         # on the first day: no cut
    seat = _event(3, "seat.activated", 6)
    cut = _event(4, "account.updated", 7)
    pay = _event(5, "payment.received", 7)
    parts = segments(date(2026, 3, 3), date(2026, 3, 10), [late, first, seat, cut, pay])
    assert [(start.day, end.day, [e.id for e in part]) for start, end, part in parts] == [
        (3, 6, ["e1", "e2", "e3"]), (7, 10, ["e4", "e5"])]
    # no update inside the days: one part, the events as they were
    assert segments(date(2026, 3, 3), date(2026, 3, 10), [late, seat]) == [
        (date(2026, 3, 3), date(2026, 3, 10), [late, seat])]
    # a re-run of a day already processed (first day after `until`): one part
    assert segments(date(2026, 3, 11), date(2026, 3, 10), [cut]) == [(date(2026, 3, 11), date(2026, 3, 10), [cut])]
