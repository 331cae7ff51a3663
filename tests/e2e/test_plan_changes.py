"""Plan changes mid-month and announced price changes (issue 4)."""
from __future__ import annotations


def _charged(api):
    return -sum(int(e["amount"]) for e in api.ledger("acme") if e["kind"] == "charge")


def _account(api):
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0, plan="small")
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1")
    api.pay("acme", "2026-03-01T09:00:00+01:00", "50000")


def test_upgrade_mid_month_spans_one_cumulative_rounding(api):
    api.plan(code="small", price="3100")  # 100 a day in March
    api.plan(code="large", price="6200")  # 200 a day in March
    _account(api)
    api.event("plan.changed", "acme", "2026-03-11T12:00:00+01:00", plan="large")
    api.run("2026-03-31")
    assert _charged(api) == 10 * 100 + 21 * 200  # 1..10 small, 11..31 large (the change day is large)
    assert api.state("acme")["plan"] == "large"


def test_downgrade_mid_month(api):
    api.plan(code="small", price="1000")
    api.plan(code="large", price="3000")
    api.account("acme", at="2026-04-01T08:00:00+02:00", trial_days=0, plan="large")
    api.seats("acme", "2026-04-01T08:00:00+02:00", "u1")
    api.pay("acme", "2026-04-01T09:00:00+02:00", "50000")
    api.event("plan.changed", "acme", "2026-04-16T12:00:00+02:00", plan="small")
    api.run("2026-04-30")
    # 1..15 April at 3,000/30 = 1,500; 16..30 April at 1,000/30 = R(500.00) → 2,000 exactly
    assert _charged(api) == 2000


def test_a_new_price_takes_effect_30_days_after_its_announcement(api):
    api.plan(code="small", price="3100")
    _account(api)
    response = api.post("/v1/plans", {"code": "small", "name": "Small", "currency": "HUF",
                                      "monthly_seat_price": "6200", "announced_on": "2026-03-01"})
    assert response.status_code == 201
    assert response.json()["prices"][-1]["effective_from"] == "2026-03-31"
    api.run("2026-03-31")
    assert _charged(api) == 30 * 100 + 200  # the new price only on 31 March


def test_the_same_plan_again_changes_nothing_and_another_currency_is_refused(api):
    api.plan(code="small", price="3100")
    again = api.post("/v1/plans", {"code": "small", "name": "Small", "currency": "HUF",
                                   "monthly_seat_price": "3100"})
    assert again.status_code == 200 and len(again.json()["prices"]) == 1
    other = api.post("/v1/plans", {"code": "small", "name": "Small", "currency": "EUR",
                                   "monthly_seat_price": "10"})
    assert other.status_code == 409


def test_a_discount_may_be_a_json_number(api):
    plan = api.post("/v1/plans", {"code": "d", "name": "D", "currency": "HUF", "monthly_seat_price": "8000",
                                  "discount_percent": 12.5}, expect=201).json()
    assert plan["discount_percent"] == "12.5"
