"""One world with an account in every state at the end of April 2026, and the helpers the list
and report tests share."""
from __future__ import annotations

from tests.e2e.conftest import Api

CRM_KEY, FINANCE_KEY = "lists-crm-key", "lists-finance-key"


def as_key(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def settle(api: Api, account: str, at: str) -> None:
    """Pay what every open or overdue proforma of the account still asks, one payment each."""
    for doc in api.documents(account, "proforma"):
        if doc["status"] in ("open", "overdue"):
            api.pay(account, at, doc["remaining"], currency=doc["currency"], reference=doc["number"])


def every_page(api: Api, path: str, params: dict | None = None, headers: dict | None = None) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = {**(params or {}), **({"cursor": cursor} if cursor else {})}
        body = api.get(path, params=query, headers=headers or api.headers).json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the list does not end"


MARCH_1 = "2026-03-01T08:00:00+01:00"


def build_world(api: Api) -> None:
    """Nine accounts; at the end of 30 April 2026 (run through that day):

    HUF: act (active; 3 seats, u3 leaves on 30 April: 2 in force at the day's end), late (active
    until its May proforma, due 28 April, went unpaid: past_due from 29 April; plan `disc`, 2 seats),
    susp (its April proforma, due 28 March, never paid: past_due from 29 March, suspended from
    28 April = due + 31), wait (created 10 April, trial 0, never pays: awaiting_payment), trial
    (created 25 April, 14 trial days: trialing), gone (terminated 15 April), exp (its first
    proforma, due 9 March, never paid: expired on 9 April, more than 30 days after the due date).
    EUR: eu (Romanian business, VIES-valid VAT number: reverse charge; 3 seats) and eudisc
    (Hungarian buyer on the net plan `eurnet` with 20 % discount; 2 seats), both paying: active.

    Prices: std 9,990 HUF gross, from 19 April 11,990 (announced 20 March, in force 30 days later);
    disc 10,000 HUF gross less 25 %; eur 127.00 EUR gross; eurnet 50.00 EUR net less 20 %.
    """
    api.plan()  # std 9,990
    api.plan(code="disc", price="10000", discount="25")
    api.plan(code="eur", price="127.00", currency="EUR")
    api.plan(code="eurnet", price="50.00", currency="EUR", discount="20", include_vat=False)
    for account, plan, seats in (("act", "std", 3), ("late", "disc", 2), ("susp", "std", 1),
                                 ("gone", "std", 1), ("exp", "std", 1)):
        api.account(account, at=MARCH_1, plan=plan, trial_days=0)
        api.seats(account, MARCH_1, *[f"u{i}" for i in range(1, seats + 1)])
    api.account("eu", at=MARCH_1, plan="eur", currency="EUR", country="RO", eu_vat_number="RO18547290",
                trial_days=0)
    api.seats("eu", MARCH_1, "u1", "u2", "u3")
    api.account("eudisc", at=MARCH_1, plan="eurnet", currency="EUR", trial_days=0)
    api.seats("eudisc", MARCH_1, "u1", "u2")
    api.run("2026-03-01")  # the first proformas: March, due 9 March
    for account in ("act", "late", "susp", "gone", "eu", "eudisc"):
        settle(api, account, "2026-03-02T09:00:00+01:00")
    api.post("/v1/plans", {"code": "std", "name": "Std", "currency": "HUF", "monthly_seat_price": "11990",
                           "announced_on": "2026-03-20"}, expect=201)  # in force from 19 April
    api.run("2026-03-20")  # the April proformas, due 28 March
    for account in ("act", "late", "gone", "eu", "eudisc"):
        settle(api, account, "2026-03-21T09:00:00+01:00")
    api.account("wait", at="2026-04-10T08:00:00+02:00", trial_days=0, name="Árvíztűrő Tükörfúrógép Kft.")
    api.seats("wait", "2026-04-10T08:00:00+02:00", "u1")
    api.event("account.terminated", "gone", "2026-04-15T12:00:00+02:00", by="customer", reason="leaving")
    api.run("2026-04-20")  # the May proformas, due 28 April
    for account in ("act", "eu", "eudisc"):
        settle(api, account, "2026-04-21T09:00:00+02:00")
    api.account("trial", at="2026-04-25T08:00:00+02:00")
    api.seats("trial", "2026-04-25T08:00:00+02:00", "u1", "u2")
    api.event("seat.deactivated", "act", "2026-04-30T12:00:00+02:00", user_id="u3")


APRIL_STATES = {"act": "active", "late": "past_due", "susp": "suspended", "wait": "awaiting_payment",
                "trial": "trialing", "gone": "terminated", "exp": "expired", "eu": "active", "eudisc": "active"}
