"""What a cycle chunk asks MNB and VIES before its write lock, decided from the rows it read for
its steps (billing/cycle/rates.py rates_wanted, billing/accounts.py vies_numbers): no query of
their own, and nothing at all for a chunk of HUF accounts with their VAT decided."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

from billing.accounts import vies_numbers
from billing.cycle.rates import rates_wanted
from billing.domain import records as r
from invoices.documents import VatTreatment

DOMESTIC = VatTreatment("domestic", Decimal("0.27"))


def _profile(currency: str, created: date, trial_days: int = 0) -> r.Profile:
    return r.Profile("a1", currency, "DE", "hu", trial_days, created, DOMESTIC)


def _event(type_: str, day: date, seq: int, **data) -> r.Event:
    return r.Event(f"e{seq}", type_, "a1", datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc), day, seq, data)


def test_a_new_foreign_account_asks_for_its_conversion_day_and_the_proforma_day():
    wanted = rates_wanted([(_profile("eur", date(2026, 3, 1), trial_days=14), None, ())], date(2026, 3, 25))
    assert wanted == {("EUR", date(2026, 3, 15)), ("EUR", date(2026, 3, 20))}


def test_only_the_days_not_processed_yet_count():
    # processed through the 20th: neither the conversion (15th) nor that 20th again
    wanted = rates_wanted([(_profile("EUR", date(2026, 3, 1), trial_days=14), date(2026, 3, 20), ())],
                          date(2026, 4, 19))
    assert wanted == set()
    assert rates_wanted([(_profile("EUR", date(2026, 3, 1)), date(2026, 3, 20), ())], date(2026, 4, 20)) \
        == {("EUR", date(2026, 4, 20))}


def test_a_payment_asks_for_the_day_it_is_credited_on():
    late = _event("payment.received", date(2026, 4, 2), 7, amount="10")     # arrived after the 5th was processed
    on_time = _event("payment.received", date(2026, 4, 7), 8, amount="10")
    seat = _event("seat.activated", date(2026, 4, 7), 9, user_id="u1")
    wanted = rates_wanted([(_profile("EUR", date(2026, 3, 1)), date(2026, 4, 5), (late, on_time, seat))],
                          date(2026, 4, 8))
    assert wanted == {("EUR", date(2026, 4, 6)), ("EUR", date(2026, 4, 7))}


def test_huf_asks_nothing():
    payment = _event("payment.received", date(2026, 3, 20), 1, amount="10")
    assert rates_wanted([(_profile("HUF", date(2026, 3, 1)), None, (payment,))], date(2026, 3, 31)) == set()


def _account(**fields):
    base = {"country": "DE", "eu_vat_number": None, "vat": {"kind": "domestic", "rate": "0.27"}}
    return SimpleNamespace(**{**base, **fields})


def test_vies_is_asked_about_a_pending_decision_and_a_new_eu_number():
    pending = _account(eu_vat_number="DE136695976", vat={"kind": "domestic", "rate": "0.27", "pending": True})
    assert vies_numbers(pending, ()) == ["DE136695976"]
    decided = _account(eu_vat_number="DE136695976")
    assert vies_numbers(decided, ()) == []
    update = _event("account.updated", date(2026, 3, 5), 3, eu_vat_number="DE136695976")
    assert vies_numbers(_account(), (update,)) == ["DE136695976"]
    # a Hungarian buyer, or a number of another country, is never reverse-charged: no VIES
    assert vies_numbers(_account(country="HU"), (update,)) == []
    assert vies_numbers(_account(country="AT"), (update,)) == []
