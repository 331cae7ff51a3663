"""The lists and the MRR report over HTTP, on SQLite and PostgreSQL: the e2e `api` fixture and a CRM
and a finance key (the world they are tried on is in world.py)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.e2e.conftest import api  # noqa: F401  (re-exported fixture)
from tests.fakes.mnb_server import FakeMnb
from tests.fakes.vies_server import FakeVies
from tests.lists.world import CRM_KEY, FINANCE_KEY


@pytest.fixture(autouse=True)
def vies(api, monkeypatch):  # noqa: F811
    """The loopback VIES, every number valid: the world's EU business is reverse-charged on its word
    (CONTRACT §6; without a VIES answer it would pay Hungarian VAT). After `api`, which unsets VIES_URL."""
    with FakeVies() as server:
        monkeypatch.setenv("VIES_URL", server.url)
        yield server


@pytest.fixture(autouse=True)
def mnb(api, monkeypatch):  # noqa: F811
    """The loopback MNB with an EUR fixing of 400.00 on every working day from February to June
    2026: the world's EUR invoices get their rate (without one they would wait, CONTRACT §6), and
    a rate is the day's own, or the Friday's on a weekend. After `api`, which unsets MNB_URL."""
    with FakeMnb() as server:
        day = date(2026, 2, 1)
        while day <= date(2026, 6, 30):
            if day.weekday() < 5:
                server.publish(day, EUR="400.00")
            day += timedelta(days=1)
        monkeypatch.setenv("MNB_URL", server.url)
        yield server


@pytest.fixture(autouse=True)
def back_office_keys(monkeypatch):
    monkeypatch.setenv("BILLING_CRM_KEY", CRM_KEY)
    monkeypatch.setenv("BILLING_FINANCE_KEY", FINANCE_KEY)
