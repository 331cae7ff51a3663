"""GET /v1/reports/mrr over HTTP on both engines: the world of world.py (an account in every state,
HUF and EUR plans, a price version taking effect in April) measured at the end of March, of April
and in May before the month is over; every expected amount with its formula."""
from __future__ import annotations

from tests.lists.world import APRIL_STATES, CRM_KEY, FINANCE_KEY, as_key, build_world

STATES = ("trialing", "awaiting_payment", "active", "past_due", "suspended", "terminated", "expired")
# the loopback MNB fixes EUR at 400.00 on every working day (tests/lists/conftest.py)
MNB_EUR = {"rate": "400.00", "source": "MNB"}


def _states(**counts):
    return {state: counts.get(state, 0) for state in STATES}


def mrr(api, month=None, key=FINANCE_KEY):
    return api.get("/v1/reports/mrr", params={"month": month} if month else None, headers=as_key(key)).json()


def _eur(as_of, published_on=None):
    # eu: reverse charge on a gross plan: 127.00 / 1.27 = 100.00 a seat, net = gross; 3 × 100.00 = 300.00
    # eudisc: net plan 50.00, domestic buyer: 50.00 × 1.27 = 63.50 charged, less 20 % = 50.80 a seat;
    #   2 × 50.80 = 101.60 gross, 2 × 50.00 × 0.8 = 80.00 net
    return {
        "currency": "EUR", "mrr": "380.00", "mrr_gross": "401.60",  # 300.00 + 80.00; 300.00 + 101.60
        "seats": 5, "charging_accounts": 2, "accounts_by_state": _states(active=2),
        "exchange_rate": {**MNB_EUR, "day": as_of, "published_on": published_on or as_of},
        "mrr_huf": "152000", "mrr_gross_huf": "160640",  # 380.00 × 400; 401.60 × 400
    }


def _check(report, expected_currency):
    for currency, expected in expected_currency.items():
        got = report["currencies"][currency]
        assert {k: got[k] for k in expected} == expected, currency


def test_mrr_at_month_ends_with_every_state_two_currencies_churn_and_new(api):
    build_world(api)

    # -- April while it is not over: as of the last processed day, 25 April
    api.run("2026-04-25")
    report = mrr(api, "2026-04")
    assert (report["as_of"], report["month_complete"], report["last_processed_day"]) == \
        ("2026-04-25", False, "2026-04-25")
    huf = report["currencies"]["HUF"]
    # susp is past_due until 28 April, late active until 29 April; act still has 3 seats.
    # std is 11,990 from 19 April: act 3 × 11,990 = 35,970, late 2 × 10,000 × 0.75 = 15,000,
    # susp 11,990, wait 11,990: 74,950 gross; net 74,950 / 1.27 = 59,015.75 → 59,016
    assert (huf["mrr"], huf["mrr_gross"], huf["seats"]) == ("59016", "74950", 7)
    assert huf["accounts_by_state"] == _states(trialing=1, awaiting_payment=1, active=2, past_due=1,
                                               terminated=1, expired=1)  # active: act, late; past_due: susp

    # -- April, over: 30 April
    api.run("2026-04-30")
    april = mrr(api, "2026-04")
    assert (april["month"], april["as_of"], april["month_complete"]) == ("2026-04", "2026-04-30", True)
    assert april["vat"].startswith("mrr is net of VAT")
    # act 2 seats in force at the day's end (u3 left on 30 April) × 11,990 = 23,980
    # late (past_due) 2 × 10,000 × (1 − 0.25) = 15,000; susp (suspended) 1 × 11,990;
    # wait (awaiting_payment) 1 × 11,990; trial, gone, exp: not charging
    # gross 23,980 + 15,000 + 11,990 + 11,990 = 62,960; net 62,960 / 1.27 = 49,574.80 → 49,575
    _check(april, {"HUF": {
        "currency": "HUF", "mrr": "49575", "mrr_gross": "62960", "seats": 6, "charging_accounts": 4,
        "accounts_by_state": _states(trialing=1, awaiting_payment=1, active=1, past_due=1, suspended=1,
                                     terminated=1, expired=1),
        "new": {"count": 1, "account_ids": ["wait"]},  # its trial (0 days) ended on 10 April
        "churned": {"count": 2, "terminated": 1, "expired": 1, "account_ids": ["exp", "gone"]},
        "created": 2,  # wait, trial
        "exchange_rate": {"rate": "1", "day": "2026-04-30", "source": "HUF", "published_on": "2026-04-30"},
        "mrr_huf": "49575", "mrr_gross_huf": "62960",
    }, "EUR": {**_eur("2026-04-30"), "new": {"count": 0, "account_ids": []}, "created": 0}})
    assert april["total"] == {
        "currency": "HUF", "mrr": "201575", "mrr_gross": "223600",  # 49,575 + 152,000; 62,960 + 160,640
        "seats": 11, "charging_accounts": 6,
        "accounts_by_state": _states(trialing=1, awaiting_payment=1, active=3, past_due=1, suspended=1,
                                     terminated=1, expired=1),
        "new": {"count": 1, "account_ids": ["wait"]},
        "churned": {"count": 2, "terminated": 1, "expired": 1, "account_ids": ["exp", "gone"]},
        "created": 2, "accounts_behind": 0,
    }
    # the states and seats are those the account views show on the day measured
    for account, state in APRIL_STATES.items():
        view = api.state(account)
        assert view["state"] == state and view["as_of"] == "2026-04-30", account
    assert sum(api.state(a)["seats"] for a in ("act", "late", "susp", "wait", "eu", "eudisc")) == 11

    # -- the cycle moves on into May: act gets a fourth user, susp is terminated, trial converts
    api.seats("act", "2026-05-05T10:00:00+02:00", "u4")
    api.event("account.terminated", "susp", "2026-05-03T10:00:00+02:00", by="provider", reason="lateness")
    api.run("2026-05-10")
    again = mrr(api, "2026-04")  # from the recorded state changes and seat events up to 30 April
    assert again["last_processed_day"] == "2026-05-10"
    assert {k: v for k, v in again.items() if k != "last_processed_day"} == \
        {k: v for k, v in april.items() if k != "last_processed_day"}

    # -- March, measured from May: 31 March, std still 9,990
    march = mrr(api, "2026-03")
    # act 3 × 9,990 = 29,970; late 15,000; susp (past_due from 29 March) 9,990; gone 9,990;
    # exp (awaiting_payment until it expired in April) 9,990: 74,940 gross; 74,940 / 1.27 = 59,007.87 → 59,008
    _check(march, {"HUF": {
        "mrr": "59008", "mrr_gross": "74940", "seats": 8, "charging_accounts": 5,
        "accounts_by_state": _states(awaiting_payment=1, active=3, past_due=1),
        "new": {"count": 5, "account_ids": ["act", "exp", "gone", "late", "susp"]},  # all converted 1 March
        "churned": {"count": 0, "terminated": 0, "expired": 0, "account_ids": []}, "created": 5,
    }, "EUR": {**_eur("2026-03-31"), "new": {"count": 2, "account_ids": ["eu", "eudisc"]}}})
    assert (march["as_of"], march["total"]["mrr"]) == ("2026-03-31", "211008")  # 59,008 + 152,000

    # -- May, not over, by default (the month of the last processed day): as of 10 May
    may = mrr(api)
    assert (may["month"], may["as_of"], may["month_complete"]) == ("2026-05", "2026-05-10", False)
    # act 3 seats (u1, u2, u4) × 11,990 = 35,970; late (past_due) 15,000; wait (awaiting_payment
    # until it expires on 19 May) 11,990; trial (converted 9 May) 2 × 11,990 = 23,980:
    # 86,940 gross; 86,940 / 1.27 = 68,456.69 → 68,457
    _check(may, {"HUF": {
        "mrr": "68457", "mrr_gross": "86940", "seats": 8, "charging_accounts": 4,
        "accounts_by_state": _states(awaiting_payment=2, active=1, past_due=1, terminated=2, expired=1),
        "new": {"count": 1, "account_ids": ["trial"]},
        "churned": {"count": 1, "terminated": 1, "expired": 0, "account_ids": ["susp"]}, "created": 0,
    }, "EUR": _eur("2026-05-10", published_on="2026-05-08")})  # a Sunday: Friday's fixing


def test_scopes_and_bad_months(api):
    build_world(api)
    api.run("2026-04-30")
    customer = api.post("/v1/accounts/act/keys", expect=201).json()["key"]
    assert mrr(api, "2026-04")["as_of"] == "2026-04-30"
    api.get("/v1/reports/mrr", headers=as_key(CRM_KEY), expect=403)
    api.get("/v1/reports/mrr", headers=as_key(customer), expect=403)
    api.get("/v1/reports/mrr", headers={}, expect=401)
    assert api.get("/v1/reports/mrr", params={"month": "2026-04"}).json()["as_of"] == "2026-04-30"  # admin
    for month in ("2026-13", "26-04", "2026-4", "april", "2026-05"):  # May: no day of it processed yet
        body = api.get("/v1/reports/mrr", params={"month": month}, headers=as_key(FINANCE_KEY), expect=422).json()
        assert any(e["field"].endswith("month") for e in body["details"]["errors"]), (month, body)
    body = api.get("/v1/reports/mrr", params={"mnth": "2026-04"}, headers=as_key(FINANCE_KEY), expect=422).json()
    assert body["details"]["errors"][0]["field"] == "mnth"


def test_before_any_run_there_is_nothing_to_measure(api):
    api.plan()
    api.account("acme")
    body = api.get("/v1/reports/mrr", headers=as_key(FINANCE_KEY), expect=422).json()
    assert body["details"]["errors"][0]["field"] == "month"


def test_without_an_mnb_rate_the_huf_figures_are_missing_never_guessed(api, mnb):
    build_world(api)
    mnb.down("fault")  # no EUR document is dated 30 April, so that day's rate is not in the cache
    api.run("2026-04-30")
    april = mrr(api, "2026-04")
    eur = april["currencies"]["EUR"]
    assert (eur["mrr"], eur["mrr_gross"]) == ("380.00", "401.60")  # in EUR as ever (see _eur)
    assert (eur["mrr_huf"], eur["mrr_gross_huf"]) == (None, None)
    assert {k: eur["exchange_rate"][k] for k in ("rate", "source", "published_on")} == \
        {"rate": None, "source": "unavailable", "published_on": None}
    # a HUF total without EUR would be wrong: there is none until MNB answers
    assert (april["total"]["mrr"], april["total"]["mrr_gross"]) == (None, None)
    assert april["total"]["currencies_without_rate"] == ["EUR"]
    assert april["currencies"]["HUF"]["mrr_huf"] == "49575"  # HUF needs no rate (see above)
    mnb.up()
    assert mrr(api, "2026-04")["total"]["mrr"] == "201575"  # 49,575 + 380.00 × 400
