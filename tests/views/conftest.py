"""One long-lived world per engine, built once for this package by the real cycle over HTTP: the read
pages are only looked at, never changed, so every test here shares it."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import _fresh_postgres_database
from tests.e2e.conftest import ADMIN, Api
from tests.lists.world import settle

LONG, SHORT = "long", "short"
MONTHS = [f"{year}-{month:02d}" for year, month in
          [(2026, m) for m in range(1, 13)] + [(2027, 1), (2027, 2)]]  # 14 months of history


def build(api: Api) -> None:
    """`long` (2 seats at 9,990 HUF, no trial) from 2 January 2026: each month's proforma (issued
    on the 20th for the next month) paid on the 21st, a goodwill credit of 1,000 HUF in August
    2026 (a credit note on its latest invoice), a third seat from October, terminated on
    10 February 2027 (the unused prepaid balance refunded by credit note). `short` from
    2 December 2026, one seat, paying: the other account a customer key must not see past."""
    api.plan()
    api.account(LONG, at="2026-01-02T10:00:00+01:00", trial_days=0)
    api.seats(LONG, "2026-01-02T10:00:00+01:00", "u1", "u2")
    for month in MONTHS[:-1]:
        if month == "2026-12":
            api.account(SHORT, at="2026-12-02T10:00:00+01:00", trial_days=0)
            api.seats(SHORT, "2026-12-02T10:00:00+01:00", "s1")
        if month == "2026-10":
            api.seats(LONG, "2026-10-05T10:00:00+02:00", "u3")
        api.run(f"{month}-20")
        settle(api, LONG, f"{month}-21T09:00:00+01:00")
        if month >= "2026-12":
            settle(api, SHORT, f"{month}-21T09:00:00+01:00")
        if month == "2026-08":
            api.run("2026-08-21")
            api.post(f"/v1/accounts/{LONG}/credits", {"amount": "1000", "reason": "goodwill"}, expect=201)
    api.run("2027-02-05")
    api.event("account.terminated", LONG, "2027-02-10T12:00:00+01:00", by="customer", reason="leaving")
    api.run("2027-02-20")


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reads') / 'billing.db'}"
    else:
        _, admin_url = request.getfixturevalue("postgres_server")
        url = _fresh_postgres_database(admin_url)
    patch = pytest.MonkeyPatch()
    patch.setenv("BILLING_ADMIN_KEY", ADMIN)
    patch.setenv("BILLING_PORTAL_SECRET", "read-pages-secret")
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN"):
        patch.delenv(name, raising=False)
    from service import create_app

    app = create_app(url)
    try:
        with TestClient(app) as client:
            api = Api(client)
            build(api)
            yield api
    finally:
        app.state.engine.dispose()
        patch.undo()
